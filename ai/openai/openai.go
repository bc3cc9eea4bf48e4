// Package openai is the OpenAI-compatible backend of the agent runtime
// (OpenAI itself and compatible servers: vLLM, Ollama, LiteLLM,
// OpenRouter …), over github.com/openai/openai-go/v3 Chat Completions with
// tools. Chat Completions, not the Responses API, because compatible
// servers implement the former. No openai-go type leaves this package.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/zapbase/zapbase/ai"
)

// DefaultModel is used when the spec names none.
const DefaultModel = "gpt-4.1-mini"

// Model calls POST {base}/chat/completions.
type Model struct {
	client oa.Client
	model  string
	// compat: a non-OpenAI server; sends max_tokens instead of
	// max_completion_tokens (the widely implemented field).
	compat bool
}

var _ ai.Model = (*Model)(nil)

// Params build a Model.
type Params struct {
	APIKey string
	// BaseURL of an OpenAI-compatible server (default https://api.openai.com/v1/).
	BaseURL    string
	Model      string
	HTTPClient *http.Client
}

// New returns an OpenAI-compatible model. Retries are left to the runtime
// (it reschedules the turn), so the SDK's own retries are off.
func New(p Params) (*Model, error) {
	if p.APIKey == "" && p.BaseURL == "" {
		return nil, errors.New("openai: api key required")
	}
	opts := []option.RequestOption{option.WithMaxRetries(0), option.WithAPIKey(p.APIKey)}
	if p.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(strings.TrimRight(p.BaseURL, "/")+"/"))
	}
	if p.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(p.HTTPClient))
	}
	m := p.Model
	if m == "" {
		m = DefaultModel
	}
	return &Model{client: oa.NewClient(opts...), model: m, compat: p.BaseURL != "" && !strings.Contains(p.BaseURL, "api.openai.com")}, nil
}

// Factory adapts New to ai.ModelFactoryFunc.
func Factory(httpClient *http.Client) ai.ModelFactoryFunc {
	return func(s ai.ModelSpec) (ai.Model, error) {
		return New(Params{APIKey: s.APIKey, BaseURL: s.BaseURL, Model: s.Model, HTTPClient: httpClient})
	}
}

// Backend implements ai.Model.
func (m *Model) Backend() string { return ai.BackendOpenAI }

// Generate implements ai.Model.
func (m *Model) Generate(ctx context.Context, req ai.Request) (ai.Response, error) {
	params := oa.ChatCompletionNewParams{Model: shared.ChatModel(m.model)}
	if req.System != "" {
		params.Messages = append(params.Messages, oa.SystemMessage(req.System))
	}
	for _, msg := range req.Messages {
		switch msg.Role {
		case ai.RoleUser:
			params.Messages = append(params.Messages, oa.UserMessage(msg.Text))
		case ai.RoleAssistant:
			a := oa.ChatCompletionAssistantMessageParam{}
			if msg.Text != "" {
				a.Content.OfString = oa.String(msg.Text)
			}
			for _, tc := range msg.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, oa.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &oa.ChatCompletionMessageFunctionToolCallParam{
						ID:       tc.ID,
						Function: oa.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: string(tc.Args)},
					},
				})
			}
			params.Messages = append(params.Messages, oa.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case ai.RoleTool:
			for _, tr := range msg.ToolResults {
				params.Messages = append(params.Messages, oa.ToolMessage(string(tr.Content), tr.CallID))
			}
		}
	}
	for _, t := range req.Tools {
		params.Tools = append(params.Tools, oa.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        t.Name,
			Description: oa.String(t.Description),
			Parameters:  shared.FunctionParameters(t.Parameters),
		}))
	}
	if req.MaxTokens > 0 {
		if m.compat {
			params.MaxTokens = oa.Int(int64(req.MaxTokens))
		} else {
			params.MaxCompletionTokens = oa.Int(int64(req.MaxTokens))
		}
	}
	if req.Temperature != nil {
		params.Temperature = oa.Float(*req.Temperature)
	}
	resp, err := m.client.Chat.Completions.New(ctx, params)
	if err != nil {
		return ai.Response{}, classify(err)
	}
	out := ai.Response{Usage: ai.Usage{InputTokens: int(resp.Usage.PromptTokens), OutputTokens: int(resp.Usage.CompletionTokens)}}
	if len(resp.Choices) == 0 {
		return out, &ai.ModelError{Kind: ai.ErrKindBlocked, Status: 200, Err: errors.New("no choices")}
	}
	msg := resp.Choices[0].Message
	out.Text = msg.Content
	for _, tc := range msg.ToolCalls {
		if tc.Type != "function" && tc.Type != "" {
			continue
		}
		args := tc.Function.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		out.ToolCalls = append(out.ToolCalls, ai.ToolCall{ID: tc.ID, Name: tc.Function.Name, Args: []byte(args)})
	}
	if out.Text == "" && len(out.ToolCalls) == 0 && msg.Refusal != "" {
		return out, &ai.ModelError{Kind: ai.ErrKindBlocked, Status: 200, Err: errors.New("refused")}
	}
	return out, nil
}

// classify translates openai-go errors into ai.ModelError. The error's own
// text never includes the request (it may carry the key in a URL).
func classify(err error) error {
	var ae *oa.Error
	if errors.As(err, &ae) {
		me := &ai.ModelError{Kind: ai.ClassifyHTTPStatus(ae.StatusCode), Status: ae.StatusCode,
			Err: fmt.Errorf("openai %d: %s", ae.StatusCode, ae.Code)}
		if ae.Response != nil {
			me.RetryAfter = parseRetryAfter(ae.Response.Header.Get("Retry-After"))
		}
		return me
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ai.ModelError{Kind: ai.ErrKindUnavailable, Err: err}
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
