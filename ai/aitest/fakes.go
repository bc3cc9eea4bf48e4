// Package aitest holds fakes of the model APIs for tests and benchmarks:
// httptest servers speaking Gemini's generateContent and OpenAI's Chat
// Completions wire formats (reached through the SDKs' base-URL options), and
// an in-process scripted ai.Model.
package aitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/zapbase/zapbase/ai"
)

// Reply is one scripted HTTP answer.
type Reply struct {
	Status int
	Body   string
	Header map[string]string
}

// ScriptFunc answers a decoded request body.
type ScriptFunc func(req map[string]any) Reply

// Server is a fake model API. Replies are served from the queue first, then
// from Script.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	queue    []Reply
	requests []map[string]any
	paths    []string
	traces   []string
	Script   ScriptFunc
}

func newServer(pathSuffix, authHeader string, def ScriptFunc) *Server {
	s := &Server{Script: def}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, pathSuffix) {
			http.Error(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`, 404)
			return
		}
		if r.Header.Get(authHeader) == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"code":401,"message":"API key missing","status":"UNAUTHENTICATED"}}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad json", 400)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.paths = append(s.paths, r.URL.Path)
		s.traces = append(s.traces, r.Header.Get("traceparent"))
		var rep Reply
		if len(s.queue) > 0 {
			rep, s.queue = s.queue[0], s.queue[1:]
			s.mu.Unlock()
		} else {
			script := s.Script
			s.mu.Unlock()
			rep = script(req)
		}
		if rep.Status == 0 {
			rep.Status = 200
		}
		for k, v := range rep.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.Status)
		io.WriteString(w, rep.Body)
	}))
	return s
}

// Enqueue adds replies served before Script.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	s.queue = append(s.queue, r...)
	s.mu.Unlock()
}

// Requests returns the decoded request bodies received so far.
func (s *Server) Requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.requests...)
}

// Paths returns the request paths received so far.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// Traceparents returns the W3C traceparent header of each request received
// so far ("" where none was sent).
func (s *Server) Traceparents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.traces...)
}

// Calls counts requests.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// NewGemini starts a fake of POST /v1beta/models/{model}:generateContent
// (API key in x-goog-api-key). Without a script it answers "ok".
func NewGemini() *Server {
	return newServer(":generateContent", "x-goog-api-key", func(map[string]any) Reply { return GeminiText("ok", 10, 2) })
}

// NewOpenAI starts a fake of POST /chat/completions (Bearer key).
func NewOpenAI() *Server {
	return newServer("/chat/completions", "Authorization", func(map[string]any) Reply { return OpenAIText("ok", 10, 2) })
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func geminiUsage(in, out int) map[string]any {
	return map[string]any{"promptTokenCount": in, "candidatesTokenCount": out, "totalTokenCount": in + out}
}

// GeminiText is a generateContent answer with one text part.
func GeminiText(text string, in, out int) Reply {
	return Reply{Body: mustJSON(map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}},
			"finishReason": "STOP", "index": 0,
		}},
		"usageMetadata": geminiUsage(in, out),
		"modelVersion":  "gemini-2.5-flash",
		"responseId":    "fake-response",
	})}
}

// GeminiCall is a functionCall (name, args) to declare in a Gemini answer.
type GeminiCall struct {
	Name string
	Args map[string]any
}

// GeminiFunctionCalls is a generateContent answer with functionCall parts
// (the first carries a thought signature, as Gemini 2.5+/3 send).
func GeminiFunctionCalls(in, out int, calls ...GeminiCall) Reply {
	parts := []any{}
	for i, c := range calls {
		p := map[string]any{"functionCall": map[string]any{"name": c.Name, "args": c.Args}}
		if i == 0 {
			p["thoughtSignature"] = "c2lnbmF0dXJl" // base64("signature")
		}
		parts = append(parts, p)
	}
	return Reply{Body: mustJSON(map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"role": "model", "parts": parts},
			"finishReason": "STOP", "index": 0,
		}},
		"usageMetadata": geminiUsage(in, out),
		"modelVersion":  "gemini-2.5-flash",
	})}
}

// GeminiError is a Google API error body (e.g. 429 RESOURCE_EXHAUSTED
// with a RetryInfo detail when retryDelay is not empty).
func GeminiError(code int, status, message, retryDelay string) Reply {
	e := map[string]any{"code": code, "message": message, "status": status}
	if retryDelay != "" {
		e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retryDelay}}
	}
	return Reply{Status: code, Body: mustJSON(map[string]any{"error": e})}
}

func openAIBody(msg map[string]any, finish string, in, out int) string {
	return mustJSON(map[string]any{
		"id": "chatcmpl-fake", "object": "chat.completion", "created": 1767225600, "model": "gpt-4.1-mini",
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
		"usage":   map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
}

// OpenAIText is a chat.completion with a text answer.
func OpenAIText(text string, in, out int) Reply {
	return Reply{Body: openAIBody(map[string]any{"role": "assistant", "content": text, "refusal": nil}, "stop", in, out)}
}

// OpenAICall is one tool call of an OpenAI answer.
type OpenAICall struct {
	ID, Name string
	Args     map[string]any
}

// OpenAIToolCalls is a chat.completion whose message carries tool_calls.
func OpenAIToolCalls(in, out int, calls ...OpenAICall) Reply {
	tcs := []any{}
	for _, c := range calls {
		tcs = append(tcs, map[string]any{"id": c.ID, "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": mustJSON(c.Args)}})
	}
	return Reply{Body: openAIBody(map[string]any{"role": "assistant", "content": nil, "refusal": nil, "tool_calls": tcs}, "tool_calls", in, out)}
}

// OpenAIError is an OpenAI error body.
func OpenAIError(status int, typ, code, message string, retryAfter string) Reply {
	r := Reply{Status: status, Body: mustJSON(map[string]any{"error": map[string]any{"message": message, "type": typ, "param": nil, "code": code}})}
	if retryAfter != "" {
		r.Header = map[string]string{"Retry-After": retryAfter}
	}
	return r
}

// LastGeminiPartKind tells whether the last content of a generateContent
// request is a user text ("text") or function responses ("functionResponse").
func LastGeminiPartKind(req map[string]any) string {
	contents, _ := req["contents"].([]any)
	if len(contents) == 0 {
		return ""
	}
	last, _ := contents[len(contents)-1].(map[string]any)
	parts, _ := last["parts"].([]any)
	for _, p := range parts {
		pm, _ := p.(map[string]any)
		if _, ok := pm["functionResponse"]; ok {
			return "functionResponse"
		}
	}
	return "text"
}

// ScriptedModel is an in-process ai.Model answering from a function; it
// counts calls. Zero latency: used to measure the runtime's own overhead.
type ScriptedModel struct {
	mu    sync.Mutex
	calls int
	reqs  []ai.Request
	Func  func(n int, req ai.Request) (ai.Response, error)
}

// Backend implements ai.Model.
func (m *ScriptedModel) Backend() string { return "scripted" }

// Generate implements ai.Model.
func (m *ScriptedModel) Generate(_ context.Context, req ai.Request) (ai.Response, error) {
	m.mu.Lock()
	m.calls++
	n := m.calls
	m.reqs = append(m.reqs, req)
	f := m.Func
	m.mu.Unlock()
	if f == nil {
		return ai.Response{Text: fmt.Sprintf("resposta %d", n), Usage: ai.Usage{InputTokens: 10, OutputTokens: 5}}, nil
	}
	return f(n, req)
}

// Calls counts Generate calls.
func (m *ScriptedModel) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// Requests returns the requests received.
func (m *ScriptedModel) Requests() []ai.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ai.Request(nil), m.reqs...)
}
