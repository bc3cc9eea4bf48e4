package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Model is one language-model backend (Gemini, an OpenAI-compatible server,
// or the offline retrieval backend). Backends translate Request into their
// wire format and back; no vendor type crosses this interface.
type Model interface {
	// Backend names the implementation ("gemini", "openai", "local"), for
	// metrics and labels.
	Backend() string
	// Generate runs one model step: text, tool calls, or both.
	Generate(ctx context.Context, req Request) (Response, error)
}

// Role is who wrote a message of the conversation given to a model.
type Role string

// Message roles.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool carries tool results answering the previous assistant's
	// tool calls.
	RoleTool Role = "tool"
)

// Request is one model step.
type Request struct {
	System      string
	Messages    []Message
	Tools       []ToolSpec
	MaxTokens   int
	Temperature *float64
}

// Message is one entry of the conversation given to a model.
type Message struct {
	Role Role
	Text string
	// ToolCalls are the calls an assistant message made.
	ToolCalls []ToolCall
	// ToolResults answer the calls of the previous assistant message.
	ToolResults []ToolResult
}

// ToolSpec declares a function the model may call. Parameters is a JSON
// Schema object.
type ToolSpec struct {
	Name        string
	Description string
	Parameters  map[string]any
}

// ToolCall is a function call requested by a model.
type ToolCall struct {
	// ID is the backend's call id (OpenAI tool_call id, Gemini functionCall
	// id when present); results echo it.
	ID   string
	Name string
	Args json.RawMessage
	// Signature is opaque backend data that must be echoed with the call
	// in the next step (Gemini thought signatures).
	Signature []byte
}

// ToolResult answers a ToolCall. Content is a JSON object.
type ToolResult struct {
	CallID  string
	Name    string
	Content json.RawMessage
}

// Response is what a model step answered.
type Response struct {
	Text      string
	ToolCalls []ToolCall
	Usage     Usage
}

// Usage counts tokens of one model step.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{InputTokens: u.InputTokens + o.InputTokens, OutputTokens: u.OutputTokens + o.OutputTokens}
}

// Total is input plus output tokens.
func (u Usage) Total() int { return u.InputTokens + u.OutputTokens }

// ModelError is a classified backend failure. Backends translate their
// vendor errors into it at their edge.
type ModelError struct {
	// Kind: "rate_limited", "unavailable" (5xx, network), "auth"
	// (credentials refused), "invalid" (request refused), "blocked"
	// (safety filter, empty answer).
	Kind string
	// RetryAfter is the server's hint for rate limits (zero: unknown).
	RetryAfter time.Duration
	// Status is the HTTP status when there was one.
	Status int
	Err    error
}

// Model error kinds.
const (
	ErrKindRateLimited = "rate_limited"
	ErrKindUnavailable = "unavailable"
	ErrKindAuth        = "auth"
	ErrKindInvalid     = "invalid"
	ErrKindBlocked     = "blocked"
)

func (e *ModelError) Error() string {
	return fmt.Sprintf("model %s (status %d): %v", e.Kind, e.Status, e.Err)
}

func (e *ModelError) Unwrap() error { return e.Err }

// Retryable reports whether the same turn may succeed later.
func (e *ModelError) Retryable() bool {
	return e.Kind == ErrKindRateLimited || e.Kind == ErrKindUnavailable
}

// ClassifyHTTPStatus maps an HTTP status to a model error kind.
func ClassifyHTTPStatus(status int) string {
	switch {
	case status == 429:
		return ErrKindRateLimited
	case status == 401 || status == 403:
		return ErrKindAuth
	case status >= 500 || status == 408 || status == 0:
		return ErrKindUnavailable
	default:
		return ErrKindInvalid
	}
}

// ModelSpec says which backend and credentials to use.
type ModelSpec struct {
	// Backend: BackendGemini, BackendOpenAI or BackendLocal.
	Backend string `json:"backend"`
	APIKey  string `json:"apiKey,omitempty"`
	BaseURL string `json:"baseUrl,omitempty"`
	// Model is the backend's model name (gemini-2.5-flash, gpt-4.1-mini …).
	Model string `json:"model,omitempty"`
}

// Backend names.
const (
	BackendGemini = "gemini"
	BackendOpenAI = "openai"
	BackendLocal  = "local"
)

// ModelFactoryFunc builds a Model for a spec. The wiring registers one per
// backend (see ai/backends).
type ModelFactoryFunc func(spec ModelSpec) (Model, error)

// errNoModel is returned when no backend can serve a turn.
var errNoModel = errors.New("no model backend configured")
