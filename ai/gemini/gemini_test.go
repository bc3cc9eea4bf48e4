package gemini_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/ai/gemini"
)

func newModel(t *testing.T, srv *aitest.Server) *gemini.Model {
	t.Helper()
	m, err := gemini.New(gemini.Params{APIKey: "test-key", BaseURL: srv.URL, Model: "gemini-2.5-flash"})
	require.NoError(t, err)
	return m
}

var searchTool = ai.ToolSpec{Name: "search_properties", Description: "Procura imóveis",
	Parameters: map[string]any{"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}, "required": []string{"query"}}}

func TestTextAnswerAndRequestShape(t *testing.T) {
	srv := aitest.NewGemini()
	defer srv.Close()
	srv.Enqueue(aitest.GeminiText("Olá! Como posso ajudar?", 42, 7))
	temp := 0.3
	resp, err := newModel(t, srv).Generate(context.Background(), ai.Request{
		System: "Você é um corretor.", Messages: []ai.Message{{Role: ai.RoleUser, Text: "Oi"}},
		Tools: []ai.ToolSpec{searchTool}, MaxTokens: 200, Temperature: &temp,
	})
	require.NoError(t, err)
	require.Equal(t, "Olá! Como posso ajudar?", resp.Text)
	require.Empty(t, resp.ToolCalls)
	require.Equal(t, ai.Usage{InputTokens: 42, OutputTokens: 7}, resp.Usage)

	require.Equal(t, []string{"/v1beta/models/gemini-2.5-flash:generateContent"}, srv.Paths())
	req := srv.Requests()[0]
	sys := req["systemInstruction"].(map[string]any)["parts"].([]any)[0].(map[string]any)
	require.Equal(t, "Você é um corretor.", sys["text"])
	gc := req["generationConfig"].(map[string]any)
	require.EqualValues(t, 200, gc["maxOutputTokens"])
	decl := req["tools"].([]any)[0].(map[string]any)["functionDeclarations"].([]any)[0].(map[string]any)
	require.Equal(t, "search_properties", decl["name"])
	require.NotNil(t, decl["parametersJsonSchema"])
	contents := req["contents"].([]any)
	require.Len(t, contents, 1)
	require.Equal(t, "user", contents[0].(map[string]any)["role"])
}

func TestFunctionCallRoundTrip(t *testing.T) {
	srv := aitest.NewGemini()
	defer srv.Close()
	m := newModel(t, srv)
	srv.Enqueue(aitest.GeminiFunctionCalls(30, 5, aitest.GeminiCall{Name: "search_properties", Args: map[string]any{"query": "apartamento 2 quartos"}}))
	msgs := []ai.Message{{Role: ai.RoleUser, Text: "Quero ver apartamentos de 2 quartos"}}
	resp, err := m.Generate(context.Background(), ai.Request{Messages: msgs, Tools: []ai.ToolSpec{searchTool}})
	require.NoError(t, err)
	require.Len(t, resp.ToolCalls, 1)
	call := resp.ToolCalls[0]
	require.Equal(t, "search_properties", call.Name)
	require.JSONEq(t, `{"query":"apartamento 2 quartos"}`, string(call.Args))
	require.Equal(t, []byte("signature"), call.Signature)

	// Second step: the call and its result go back; Gemini answers text.
	srv.Enqueue(aitest.GeminiText("Encontrei 2 apartamentos.", 60, 9))
	msgs = append(msgs,
		ai.Message{Role: ai.RoleAssistant, ToolCalls: resp.ToolCalls},
		ai.Message{Role: ai.RoleTool, ToolResults: []ai.ToolResult{{CallID: call.ID, Name: call.Name, Content: json.RawMessage(`{"count":2}`)}}})
	resp, err = m.Generate(context.Background(), ai.Request{Messages: msgs, Tools: []ai.ToolSpec{searchTool}})
	require.NoError(t, err)
	require.Equal(t, "Encontrei 2 apartamentos.", resp.Text)

	contents := srv.Requests()[1]["contents"].([]any)
	require.Len(t, contents, 3)
	modelTurn := contents[1].(map[string]any)
	require.Equal(t, "model", modelTurn["role"])
	part := modelTurn["parts"].([]any)[0].(map[string]any)
	require.Equal(t, "search_properties", part["functionCall"].(map[string]any)["name"])
	require.Equal(t, "c2lnbmF0dXJl", part["thoughtSignature"], "thought signature must be echoed")
	fr := contents[2].(map[string]any)["parts"].([]any)[0].(map[string]any)["functionResponse"].(map[string]any)
	require.Equal(t, "search_properties", fr["name"])
	require.EqualValues(t, 2, fr["response"].(map[string]any)["count"])
	require.Equal(t, "functionResponse", aitest.LastGeminiPartKind(srv.Requests()[1]))
}

func TestErrorsAreClassified(t *testing.T) {
	cases := []struct {
		name  string
		reply aitest.Reply
		kind  string
		after time.Duration
	}{
		{"rate limited with retry info", aitest.GeminiError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", "30s"), ai.ErrKindRateLimited, 30 * time.Second},
		{"server error", aitest.GeminiError(503, "UNAVAILABLE", "The model is overloaded.", ""), ai.ErrKindUnavailable, 0},
		{"bad key", aitest.GeminiError(400, "INVALID_ARGUMENT", "API key not valid.", ""), ai.ErrKindInvalid, 0},
		{"forbidden", aitest.GeminiError(403, "PERMISSION_DENIED", "denied", ""), ai.ErrKindAuth, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := aitest.NewGemini()
			defer srv.Close()
			srv.Enqueue(tc.reply)
			_, err := newModel(t, srv).Generate(context.Background(), ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Text: "oi"}}})
			var me *ai.ModelError
			require.True(t, errors.As(err, &me), "got %v", err)
			require.Equal(t, tc.kind, me.Kind)
			require.Equal(t, tc.reply.Status, me.Status)
			require.Equal(t, tc.after, me.RetryAfter)
			require.NotContains(t, err.Error(), "test-key")
		})
	}
}

func TestBlockedPromptIsAnError(t *testing.T) {
	srv := aitest.NewGemini()
	defer srv.Close()
	srv.Enqueue(aitest.Reply{Body: `{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":5}}`})
	_, err := newModel(t, srv).Generate(context.Background(), ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Text: "oi"}}})
	var me *ai.ModelError
	require.True(t, errors.As(err, &me))
	require.Equal(t, ai.ErrKindBlocked, me.Kind)
}
