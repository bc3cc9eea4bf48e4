package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// turnEffects are side effects tools asked for during a turn.
type turnEffects struct {
	handoff  string
	requests []map[string]any
}

// generate runs the model with the agent's tools until it answers text
// (bounded number of tool rounds).
func (r *Runtime) generate(ctx context.Context, c convRow, cfg AgentConfig, userText string, now time.Time) (string, Usage, turnEffects, error) {
	var usage Usage
	var fx turnEffects
	model, err := r.modelFor(ctx, c.TenantID, cfg)
	if err != nil {
		return "", usage, fx, &ModelError{Kind: ErrKindAuth, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ModelTimeout)
	defer cancel()

	temp := cfg.ResponseSettings.Temperature
	req := Request{
		System:      systemPrompt(cfg, c.Context, now),
		Tools:       toolsFor(r.tools(), cfg),
		MaxTokens:   cfg.ResponseSettings.MaxTokens,
		Temperature: &temp,
	}
	for _, h := range c.Context.History {
		role := RoleUser
		if h.Role == "assistant" {
			role = RoleAssistant
		}
		req.Messages = append(req.Messages, Message{Role: role, Text: h.Text})
	}
	req.Messages = append(req.Messages, Message{Role: RoleUser, Text: userText})

	backend := model.Backend()
	for round := 0; ; round++ {
		if round == maxToolRoundsPerTurn {
			req.Tools = nil // last round: the model must answer in text
		}
		t0 := time.Now()
		resp, err := model.Generate(ctx, req)
		took := time.Since(t0)
		if err != nil {
			kind := ErrKindUnavailable
			var me *ModelError
			if errors.As(err, &me) {
				kind = me.Kind
			} else {
				err = &ModelError{Kind: kind, Err: err}
			}
			r.metrics.AIModelCall(c.TenantID, backend, kind, took)
			return "", usage, fx, err
		}
		usage = usage.Add(resp.Usage)
		r.metrics.AIModelCall(c.TenantID, backend, "ok", took)
		r.metrics.AITokens(c.TenantID, c.ResolvedAgent, backend, resp.Usage.InputTokens, resp.Usage.OutputTokens)
		if len(resp.ToolCalls) == 0 || req.Tools == nil {
			return strings.TrimSpace(resp.Text), usage, fx, nil
		}
		calls := resp.ToolCalls
		if len(calls) > maxToolCallsPerResponse {
			calls = calls[:maxToolCallsPerResponse]
		}
		req.Messages = append(req.Messages, Message{Role: RoleAssistant, Text: resp.Text, ToolCalls: calls})
		results := make([]ToolResult, 0, len(calls))
		for _, call := range calls {
			results = append(results, ToolResult{CallID: call.ID, Name: call.Name, Content: r.runTool(ctx, c, cfg, call, &fx, now)})
		}
		req.Messages = append(req.Messages, Message{Role: RoleTool, ToolResults: results})
	}
}

// systemPrompt is the agent's prompt plus the runtime's framing: language,
// date, the rolling summary.
func systemPrompt(cfg AgentConfig, cc ConversationContext, now time.Time) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(cfg.SystemPrompt))
	fmt.Fprintf(&b, "\n\nResponda sempre no idioma %s. Data e hora atuais: %s (UTC).", cfg.ResponseSettings.Language, now.UTC().Format("02/01/2006 15:04"))
	b.WriteString(" Você conversa pelo WhatsApp: seja breve e não use formatação Markdown complexa.")
	if cc.Summary != "" {
		b.WriteString("\n\nResumo do início da conversa:\n")
		b.WriteString(cc.Summary)
	}
	return b.String()
}

// runTool executes one tool call and returns its JSON result. Failures are
// reported to the model as {"error": …} so it can answer gracefully.
func (r *Runtime) runTool(ctx context.Context, c convRow, cfg AgentConfig, call ToolCall, fx *turnEffects, now time.Time) json.RawMessage {
	out, err := r.execTool(ctx, c, cfg, call, fx, now)
	r.metrics.AIToolCall(c.TenantID, c.ResolvedAgent, call.Name, err == nil)
	if err != nil {
		r.log.Warn("ai tool failed", "tenant_id", c.TenantID, "agent_id", c.ResolvedAgent, "tool", call.Name, "error", err)
		b, _ := json.Marshal(map[string]any{"error": "A ferramenta falhou: " + toolErrorMessage(err)})
		return b
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"error": "resultado inválido"})
	}
	return b
}

func toolErrorMessage(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "tempo esgotado"
	}
	if errors.Is(err, errToolResponseTooLarge) {
		return "resposta grande demais"
	}
	return err.Error()
}

func (r *Runtime) execTool(ctx context.Context, c convRow, cfg AgentConfig, call ToolCall, fx *turnEffects, now time.Time) (any, error) {
	allowed := call.Name == ToolHandoff
	for _, cp := range cfg.Capabilities {
		if cp == call.Name {
			allowed = true
		}
	}
	if !allowed {
		return nil, fmt.Errorf("ferramenta desconhecida %q", call.Name)
	}
	args := call.Args
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	var a map[string]any
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("argumentos inválidos: %w", err)
	}
	tool, ok := r.tools().Lookup(call.Name)
	if !ok {
		return nil, fmt.Errorf("ferramenta sem implementação %q", call.Name)
	}
	if lt, ok := tool.(LocalTool); !ok || !lt.Local() {
		// The tenant's endpoint answers when configured, else the tool.
		ep, err := r.toolEndpoint(ctx, c.TenantID)
		if err != nil {
			return nil, err
		}
		if ep != nil {
			return callToolEndpoint(ctx, r.http, *ep, ToolRequest{Tool: call.Name, Arguments: args, TenantID: c.TenantID,
				AgentID: c.ResolvedAgent, ConversationID: c.ID, Contact: c.Contact}, now, r.cfg.ToolTimeout)
		}
	}
	return tool.Call(ctx, ToolContext{
		TenantID: c.TenantID, AgentID: c.ResolvedAgent, ConversationID: c.ID, Contact: c.Contact, Now: now,
		SearchKnowledgeFunc: func(ctx context.Context, query string, categories []string) (map[string]any, error) {
			return r.kbResult(ctx, c, query, categories)
		},
		RequestFunc: func(req map[string]any) { fx.requests = append(fx.requests, req) },
		HandoffFunc: func(reason string) { fx.handoff = "tool: " + truncate(reason, 200) },
	}, args)
}

// tools is the registry of tool calls.
func (r *Runtime) tools() *ToolRegistry {
	if r.p.Tools != nil {
		return r.p.Tools
	}
	return DefaultTools
}

// kbResult searches the knowledge base, narrowing to categories first and
// widening to the whole base when that finds nothing.
func (r *Runtime) kbResult(ctx context.Context, c convRow, query string, categories []string) (map[string]any, error) {
	hits, err := SearchKnowledge(ctx, r.p.Store, c.TenantID, c.ResolvedAgent, query, categories, DefaultSearchLimit)
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 && len(categories) > 0 {
		if hits, err = SearchKnowledge(ctx, r.p.Store, c.TenantID, c.ResolvedAgent, query, nil, DefaultSearchLimit); err != nil {
			return nil, err
		}
	}
	if hits == nil {
		hits = []KnowledgeHit{}
	}
	return map[string]any{"results": hits, "count": len(hits)}, nil
}

// toolEndpoint loads the tenant's tool endpoint (nil when none).
func (r *Runtime) toolEndpoint(ctx context.Context, tenantID string) (*toolEndpoint, error) {
	u, err := r.p.Store.AISettings().ToolEndpoint(ctx, tenantID)
	if err != nil && !isNoRows(err) {
		return nil, err
	}
	if u == nil || *u == "" {
		return nil, nil
	}
	pu, err := url.Parse(*u)
	if err != nil || !(pu.Scheme == "https" || (r.cfg.AllowInsecureToolEndpoints && pu.Scheme == "http")) {
		return nil, errors.New("endpoint de ferramentas inválido (exige https)")
	}
	sec, err := openSecret(ctx, r.p.Store, r.p.Box, tenantID, toolEndpointSecretName)
	if err != nil {
		return nil, err
	}
	if sec == nil {
		return nil, errors.New("endpoint de ferramentas sem segredo HMAC")
	}
	return &toolEndpoint{URL: *u, Secret: sec}, nil
}
