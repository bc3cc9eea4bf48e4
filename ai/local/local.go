// Package local is the offline backend of the agent runtime: with no model
// credentials an agent still answers, by retrieval only. It is not a
// language model and never pretends to be one: it searches the agent's
// knowledge base through the same tools an LLM would call, answers with the
// passages it found under an explicit label, and hands the conversation to
// a human when nothing matches.
package local

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zapbase/zapbase/ai"
)

// Label opens every answer, so nobody mistakes it for a model's.
const Label = "🔎 Resposta automática (busca na base de conhecimento, sem IA):"

// NoMatch is the text sent when nothing matched and the conversation is
// handed to a human.
const NoMatch = "Não encontrei essa informação na nossa base de conhecimento. Vou chamar um atendente humano para ajudar você."

// Model is the retrieval-only backend.
type Model struct{}

var _ ai.Model = Model{}

// Factory adapts Model to ai.ModelFactoryFunc.
func Factory() ai.ModelFactoryFunc {
	return func(ai.ModelSpec) (ai.Model, error) { return Model{}, nil }
}

// Backend implements ai.Model.
func (Model) Backend() string { return ai.BackendLocal }

// searchOrder is which retrieval tool answers, in preference order.
var searchOrder = []string{ai.CapSearchProperties, ai.CapSearchKnowledgeBase, ai.CapProvideDocumentation}

// Generate implements ai.Model: the first step calls a search tool with the
// contact's words; the second formats what it found, or hands off.
func (Model) Generate(_ context.Context, req ai.Request) (ai.Response, error) {
	if len(req.Messages) == 0 {
		return ai.Response{Text: NoMatch}, nil
	}
	last := req.Messages[len(req.Messages)-1]
	switch last.Role {
	case ai.RoleUser:
		tool := ""
		for _, name := range searchOrder {
			if hasTool(req.Tools, name) {
				tool = name
				break
			}
		}
		if tool == "" {
			return handoff(req, "sem ferramenta de busca")
		}
		key := "query"
		if tool == ai.CapProvideDocumentation {
			key = "topic"
		}
		args, _ := json.Marshal(map[string]string{key: last.Text})
		return ai.Response{ToolCalls: []ai.ToolCall{{ID: "local-1", Name: tool, Args: args}}}, nil
	case ai.RoleTool:
		for _, tr := range last.ToolResults {
			if tr.Name == ai.ToolHandoff {
				return ai.Response{Text: NoMatch}, nil
			}
		}
		var hits []ai.KnowledgeHit
		query := lastUserText(req.Messages)
		for _, tr := range last.ToolResults {
			var res struct {
				Results []ai.KnowledgeHit `json:"results"`
			}
			if json.Unmarshal(tr.Content, &res) == nil {
				hits = append(hits, res.Results...)
			}
		}
		if len(hits) == 0 {
			return handoff(req, "nada encontrado na base de conhecimento")
		}
		var b strings.Builder
		b.WriteString(Label)
		fmt.Fprintf(&b, "\nVocê perguntou: \"%s\". Encontrei:\n", truncate(query, 200))
		for _, h := range hits {
			fmt.Fprintf(&b, "\n• *%s*: %s", h.Title, truncate(h.Content, 400))
		}
		b.WriteString("\n\nSe precisar de mais detalhes, peça um atendente.")
		return ai.Response{Text: b.String()}, nil
	}
	return ai.Response{Text: NoMatch}, nil
}

func handoff(req ai.Request, reason string) (ai.Response, error) {
	if !hasTool(req.Tools, ai.ToolHandoff) {
		return ai.Response{Text: NoMatch}, nil
	}
	args, _ := json.Marshal(map[string]string{"reason": reason})
	return ai.Response{ToolCalls: []ai.ToolCall{{ID: "local-handoff", Name: ai.ToolHandoff, Args: args}}}, nil
}

func hasTool(tools []ai.ToolSpec, name string) bool {
	for _, t := range tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

func lastUserText(msgs []ai.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == ai.RoleUser {
			return msgs[i].Text
		}
	}
	return ""
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
