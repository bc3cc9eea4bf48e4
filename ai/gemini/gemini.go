// Package gemini is the Google Gemini backend of the agent runtime, over
// google.golang.org/genai (generateContent with function calling). No genai
// type leaves this package.
package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genai"

	"github.com/zapbase/zapbase/ai"
)

// DefaultModel is used when the spec names none.
const DefaultModel = "gemini-2.5-flash"

// Model calls Gemini's generateContent.
type Model struct {
	client *genai.Client
	model  string
}

var _ ai.Model = (*Model)(nil)

// Params build a Model.
type Params struct {
	APIKey string
	// BaseURL overrides https://generativelanguage.googleapis.com/ (tests,
	// proxies).
	BaseURL    string
	Model      string
	HTTPClient *http.Client
}

// New returns a Gemini model.
func New(p Params) (*Model, error) {
	if p.APIKey == "" {
		return nil, errors.New("gemini: api key required")
	}
	cc := &genai.ClientConfig{APIKey: p.APIKey, Backend: genai.BackendGeminiAPI, HTTPClient: p.HTTPClient}
	if p.BaseURL != "" {
		cc.HTTPOptions.BaseURL = strings.TrimRight(p.BaseURL, "/") + "/"
	}
	client, err := genai.NewClient(context.Background(), cc)
	if err != nil {
		return nil, fmt.Errorf("gemini client: %w", err)
	}
	m := p.Model
	if m == "" {
		m = DefaultModel
	}
	return &Model{client: client, model: m}, nil
}

// Factory adapts New to ai.ModelFactoryFunc.
func Factory(httpClient *http.Client) ai.ModelFactoryFunc {
	return func(s ai.ModelSpec) (ai.Model, error) {
		return New(Params{APIKey: s.APIKey, BaseURL: s.BaseURL, Model: s.Model, HTTPClient: httpClient})
	}
}

// Backend implements ai.Model.
func (m *Model) Backend() string { return ai.BackendGemini }

// Generate implements ai.Model.
func (m *Model) Generate(ctx context.Context, req ai.Request) (ai.Response, error) {
	cfg := &genai.GenerateContentConfig{}
	if req.System != "" {
		cfg.SystemInstruction = &genai.Content{Parts: []*genai.Part{{Text: req.System}}}
	}
	if req.MaxTokens > 0 {
		cfg.MaxOutputTokens = int32(req.MaxTokens)
	}
	if req.Temperature != nil {
		t := float32(*req.Temperature)
		cfg.Temperature = &t
	}
	if len(req.Tools) > 0 {
		decls := make([]*genai.FunctionDeclaration, 0, len(req.Tools))
		for _, t := range req.Tools {
			decls = append(decls, &genai.FunctionDeclaration{Name: t.Name, Description: t.Description, ParametersJsonSchema: t.Parameters})
		}
		cfg.Tools = []*genai.Tool{{FunctionDeclarations: decls}}
	}
	contents, err := toContents(req.Messages)
	if err != nil {
		return ai.Response{}, &ai.ModelError{Kind: ai.ErrKindInvalid, Err: err}
	}
	resp, err := m.client.Models.GenerateContent(ctx, m.model, contents, cfg)
	if err != nil {
		return ai.Response{}, classify(err)
	}
	return fromResponse(resp)
}

func toContents(msgs []ai.Message) ([]*genai.Content, error) {
	out := make([]*genai.Content, 0, len(msgs))
	for _, msg := range msgs {
		switch msg.Role {
		case ai.RoleUser:
			out = append(out, &genai.Content{Role: genai.RoleUser, Parts: []*genai.Part{{Text: msg.Text}}})
		case ai.RoleAssistant:
			c := &genai.Content{Role: genai.RoleModel}
			if msg.Text != "" {
				c.Parts = append(c.Parts, &genai.Part{Text: msg.Text})
			}
			for _, tc := range msg.ToolCalls {
				var args map[string]any
				if len(tc.Args) > 0 {
					if err := json.Unmarshal(tc.Args, &args); err != nil {
						return nil, fmt.Errorf("tool call %s args: %w", tc.Name, err)
					}
				}
				id := tc.ID
				if strings.HasPrefix(id, localIDPrefix) {
					id = "" // ids we made up are not sent back
				}
				c.Parts = append(c.Parts, &genai.Part{FunctionCall: &genai.FunctionCall{ID: id, Name: tc.Name, Args: args}, ThoughtSignature: tc.Signature})
			}
			out = append(out, c)
		case ai.RoleTool:
			c := &genai.Content{Role: genai.RoleUser}
			for _, tr := range msg.ToolResults {
				var resp map[string]any
				if err := json.Unmarshal(tr.Content, &resp); err != nil {
					resp = map[string]any{"output": string(tr.Content)}
				}
				id := tr.CallID
				if strings.HasPrefix(id, localIDPrefix) {
					id = ""
				}
				c.Parts = append(c.Parts, &genai.Part{FunctionResponse: &genai.FunctionResponse{ID: id, Name: tr.Name, Response: resp}})
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// localIDPrefix marks call ids generated here because Gemini sent none.
const localIDPrefix = "gemini-call-"

func fromResponse(resp *genai.GenerateContentResponse) (ai.Response, error) {
	var out ai.Response
	if u := resp.UsageMetadata; u != nil {
		out.Usage = ai.Usage{InputTokens: int(u.PromptTokenCount + u.ToolUsePromptTokenCount),
			OutputTokens: int(u.CandidatesTokenCount + u.ThoughtsTokenCount)}
	}
	if len(resp.Candidates) == 0 || resp.Candidates[0].Content == nil {
		reason := "no candidates"
		if resp.PromptFeedback != nil && resp.PromptFeedback.BlockReason != "" {
			reason = "prompt blocked: " + string(resp.PromptFeedback.BlockReason)
		}
		return out, &ai.ModelError{Kind: ai.ErrKindBlocked, Status: 200, Err: errors.New(reason)}
	}
	var text strings.Builder
	for i, p := range resp.Candidates[0].Content.Parts {
		switch {
		case p.FunctionCall != nil:
			args, err := json.Marshal(p.FunctionCall.Args)
			if err != nil {
				return out, &ai.ModelError{Kind: ai.ErrKindInvalid, Status: 200, Err: err}
			}
			id := p.FunctionCall.ID
			if id == "" {
				id = localIDPrefix + strconv.Itoa(i)
			}
			out.ToolCalls = append(out.ToolCalls, ai.ToolCall{ID: id, Name: p.FunctionCall.Name, Args: args, Signature: p.ThoughtSignature})
		case p.Text != "" && !p.Thought:
			text.WriteString(p.Text)
		}
	}
	out.Text = text.String()
	return out, nil
}

// classify translates genai errors into ai.ModelError.
func classify(err error) error {
	var ae genai.APIError
	if errors.As(err, &ae) {
		me := &ai.ModelError{Kind: ai.ClassifyHTTPStatus(ae.Code), Status: ae.Code, Err: fmt.Errorf("gemini %d %s: %s", ae.Code, ae.Status, ae.Message)}
		me.RetryAfter = retryDelay(ae.Details)
		return me
	}
	var pae *genai.APIError
	if errors.As(err, &pae) {
		return &ai.ModelError{Kind: ai.ClassifyHTTPStatus(pae.Code), Status: pae.Code, Err: err, RetryAfter: retryDelay(pae.Details)}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ai.ModelError{Kind: ai.ErrKindUnavailable, Err: err}
}

// retryDelay reads google.rpc.RetryInfo.retryDelay ("30s") from details.
func retryDelay(details []map[string]any) time.Duration {
	for _, d := range details {
		if t, _ := d["@type"].(string); strings.HasSuffix(t, "google.rpc.RetryInfo") {
			if s, _ := d["retryDelay"].(string); s != "" {
				if dur, err := time.ParseDuration(s); err == nil {
					return dur
				}
			}
		}
	}
	return 0
}
