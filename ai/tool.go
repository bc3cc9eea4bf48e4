package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Tool is one function an agent's model may call. The runtime knows tools
// only through this interface: product tools (real estate, customer
// support) live in their own packages under ai/tools and register
// themselves with a ToolRegistry.
type Tool interface {
	// Spec is what the model sees: name (stable, also the capability that
	// enables the tool), description and JSON-schema parameters.
	Spec() ToolSpec
	// Call runs the tool with the model's JSON arguments and returns a
	// JSON-encodable result. An error is reported to the model, which
	// answers gracefully.
	Call(ctx context.Context, tc ToolContext, args json.RawMessage) (any, error)
}

// LocalTool is implemented by tools that always run in-process: a tenant's
// tool endpoint, when configured, answers every other tool.
type LocalTool interface {
	Tool
	Local() bool
}

// ToolContext is what a tool call may know and use.
type ToolContext struct {
	TenantID       string
	AgentID        string
	ConversationID string
	Contact        string
	Now            time.Time
	// SearchKnowledgeFunc searches the agent's knowledge base, narrowing to
	// categories first and widening to the whole base when that finds
	// nothing; it answers {"results": [...], "count": n}.
	SearchKnowledgeFunc func(ctx context.Context, query string, categories []string) (map[string]any, error)
	// RequestFunc records a request for a human to follow up (a visit, a
	// ticket); it is stored with the turn.
	RequestFunc func(req map[string]any)
	// HandoffFunc hands the conversation over to a human once the turn ends.
	HandoffFunc func(reason string)
}

// ToolRegistry maps tool names to tools. It is safe for concurrent use.
type ToolRegistry struct {
	mu    sync.RWMutex
	tools map[string]Tool
}

// NewToolRegistry returns a registry holding tools.
func NewToolRegistry(tools ...Tool) *ToolRegistry {
	r := &ToolRegistry{tools: map[string]Tool{}}
	for _, t := range tools {
		r.Register(t)
	}
	return r
}

// Register adds t; a second tool with the same name panics (a programming
// error caught at start).
func (r *ToolRegistry) Register(t Tool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := t.Spec().Name
	if _, dup := r.tools[name]; dup {
		panic(fmt.Sprintf("ai: tool %q registered twice", name))
	}
	r.tools[name] = t
}

// Lookup returns the tool named name.
func (r *ToolRegistry) Lookup(name string) (Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tools[name]
	return t, ok
}

// Names lists the registered tool names, sorted.
func (r *ToolRegistry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.tools))
	for k := range r.tools {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DefaultTools is the registry agents use unless RuntimeParams.Tools says
// otherwise, and the one AgentConfig.Validate checks capabilities against.
// It holds the generic tools; importing a product package under ai/tools
// (as cmd/zapbase does) adds that product's tools and template.
var DefaultTools = NewToolRegistry(handoffTool{}, knowledgeTool{})

var (
	templatesMu sync.RWMutex
	templates   []Template
)

// RegisterTemplate adds a built-in agent template (product packages call
// it from init, so templates are listed in import-path order).
func RegisterTemplate(t Template) {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	templates = append(templates, t)
}

// handoffTool hands the conversation to a human; every agent has it.
type handoffTool struct{}

func (handoffTool) Local() bool { return true }

func (handoffTool) Spec() ToolSpec {
	return ToolSpec{
		Name:        ToolHandoff,
		Description: "Transfere a conversa para um atendente humano. Use quando o cliente pedir, estiver insatisfeito ou você não puder ajudar.",
		Parameters: SchemaObject(map[string]any{
			"reason": SchemaString("Motivo da transferência"),
		}, "reason"),
	}
}

func (handoffTool) Call(_ context.Context, tc ToolContext, args json.RawMessage) (any, error) {
	var a struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(args, &a) // a non-string reason reads as none
	if a.Reason == "" {
		a.Reason = "tool"
	}
	tc.HandoffFunc(a.Reason)
	return map[string]any{"status": "ok", "message": "A conversa será transferida para um atendente humano. Despeça-se avisando o cliente."}, nil
}

// knowledgeTool searches the agent's whole knowledge base.
type knowledgeTool struct{}

func (knowledgeTool) Spec() ToolSpec {
	return ToolSpec{
		Name:        CapSearchKnowledgeBase,
		Description: "Pesquisa a base de conhecimento da empresa (perguntas frequentes, políticas, produtos).",
		Parameters: SchemaObject(map[string]any{
			"query": SchemaString("Pergunta ou palavras-chave"),
		}, "query"),
	}
}

func (knowledgeTool) Call(ctx context.Context, tc ToolContext, args json.RawMessage) (any, error) {
	return tc.SearchKnowledgeFunc(ctx, ArgString(args, "query"), nil)
}

// ArgString reads a string argument ("" when absent or not a string).
func ArgString(args json.RawMessage, key string) string {
	var m map[string]any
	_ = json.Unmarshal(args, &m)
	s, _ := m[key].(string)
	return s
}

// SchemaObject is the JSON schema of an object with props, required listed.
func SchemaObject(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// SchemaString is the JSON schema of a described string.
func SchemaString(d string) map[string]any { return map[string]any{"type": "string", "description": d} }

// SchemaInteger is the JSON schema of a described integer.
func SchemaInteger(d string) map[string]any {
	return map[string]any{"type": "integer", "description": d}
}

// SchemaNumber is the JSON schema of a described number.
func SchemaNumber(d string) map[string]any { return map[string]any{"type": "number", "description": d} }
