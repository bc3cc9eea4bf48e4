package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/ai/openai"
)

var financingTool = ai.ToolSpec{Name: "calculate_financing", Description: "Simula financiamento",
	Parameters: map[string]any{"type": "object", "properties": map[string]any{"property_value": map[string]any{"type": "number"}}}}

func newModel(t *testing.T, srv *aitest.Server) *openai.Model {
	t.Helper()
	m, err := openai.New(openai.Params{APIKey: "sk-test", BaseURL: srv.URL + "/v1", Model: "llama3"})
	require.NoError(t, err)
	return m
}

func TestToolCallsRoundTrip(t *testing.T) {
	srv := aitest.NewOpenAI()
	defer srv.Close()
	m := newModel(t, srv)
	srv.Enqueue(aitest.OpenAIToolCalls(50, 12, aitest.OpenAICall{ID: "call_abc", Name: "calculate_financing", Args: map[string]any{"property_value": 500000}}))
	temp := 0.7
	msgs := []ai.Message{{Role: ai.RoleUser, Text: "Simule um financiamento de 500 mil"}}
	resp, err := m.Generate(context.Background(), ai.Request{System: "Você é um corretor.", Messages: msgs,
		Tools: []ai.ToolSpec{financingTool}, MaxTokens: 300, Temperature: &temp})
	require.NoError(t, err)
	require.Equal(t, ai.Usage{InputTokens: 50, OutputTokens: 12}, resp.Usage)
	require.Len(t, resp.ToolCalls, 1)
	require.Equal(t, "call_abc", resp.ToolCalls[0].ID)
	require.JSONEq(t, `{"property_value":500000}`, string(resp.ToolCalls[0].Args))

	req := srv.Requests()[0]
	require.Equal(t, "llama3", req["model"])
	require.EqualValues(t, 300, req["max_tokens"], "compatible servers get max_tokens")
	require.Equal(t, "system", req["messages"].([]any)[0].(map[string]any)["role"])
	tool := req["tools"].([]any)[0].(map[string]any)
	require.Equal(t, "function", tool["type"])
	require.Equal(t, "calculate_financing", tool["function"].(map[string]any)["name"])

	srv.Enqueue(aitest.OpenAIText("Parcela inicial de R$ 5.000,00.", 80, 10))
	msgs = append(msgs,
		ai.Message{Role: ai.RoleAssistant, ToolCalls: resp.ToolCalls},
		ai.Message{Role: ai.RoleTool, ToolResults: []ai.ToolResult{{CallID: "call_abc", Name: "calculate_financing", Content: json.RawMessage(`{"ok":true}`)}}})
	resp, err = m.Generate(context.Background(), ai.Request{Messages: msgs, Tools: []ai.ToolSpec{financingTool}})
	require.NoError(t, err)
	require.Equal(t, "Parcela inicial de R$ 5.000,00.", resp.Text)

	sent := srv.Requests()[1]["messages"].([]any)
	require.Len(t, sent, 3)
	asst := sent[1].(map[string]any)
	require.Equal(t, "assistant", asst["role"])
	tc := asst["tool_calls"].([]any)[0].(map[string]any)
	require.Equal(t, "call_abc", tc["id"])
	require.JSONEq(t, `{"property_value":500000}`, tc["function"].(map[string]any)["arguments"].(string))
	toolMsg := sent[2].(map[string]any)
	require.Equal(t, "tool", toolMsg["role"])
	require.Equal(t, "call_abc", toolMsg["tool_call_id"])
}

func TestErrorsAreClassified(t *testing.T) {
	cases := []struct {
		name  string
		reply aitest.Reply
		kind  string
		after time.Duration
	}{
		{"rate limited", aitest.OpenAIError(429, "requests", "rate_limit_exceeded", "Rate limit reached", "7"), ai.ErrKindRateLimited, 7 * time.Second},
		{"server error", aitest.OpenAIError(500, "server_error", "", "boom", ""), ai.ErrKindUnavailable, 0},
		{"bad key", aitest.OpenAIError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided", ""), ai.ErrKindAuth, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := aitest.NewOpenAI()
			defer srv.Close()
			srv.Enqueue(tc.reply)
			_, err := newModel(t, srv).Generate(context.Background(), ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Text: "oi"}}})
			var me *ai.ModelError
			require.True(t, errors.As(err, &me), "got %v", err)
			require.Equal(t, tc.kind, me.Kind)
			require.Equal(t, tc.after, me.RetryAfter)
			require.Equal(t, 1, srv.Calls(), "the SDK must not retry on its own")
			require.NotContains(t, err.Error(), "sk-test")
		})
	}
}
