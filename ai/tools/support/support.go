// Package support is the customer-support agent: its tool (open_ticket)
// and its template. Importing it registers both with the ai package; with
// the real-estate package it proves the runtime knows products only
// through ai.Tool.
package support

import (
	"context"
	"encoding/json"

	"github.com/zapbase/zapbase/ai"
)

// ToolOpenTicket is the name (and capability) of the ticket tool.
const ToolOpenTicket = "open_ticket"

func init() {
	for _, t := range Tools() {
		ai.DefaultTools.Register(t)
	}
	ai.RegisterTemplate(Template())
}

// Tools returns the customer-support tools.
func Tools() []ai.Tool { return []ai.Tool{openTicket{}} }

// openTicket records a ticket for the support team; it answers without
// leaving the process (the request is stored with the turn), unless the
// tenant's tool endpoint takes it.
type openTicket struct{}

func (openTicket) Spec() ai.ToolSpec {
	return ai.ToolSpec{
		Name:        ToolOpenTicket,
		Description: "Abre um chamado para a equipe de atendimento quando o cliente relata um problema que precisa de acompanhamento (pedido, troca, defeito).",
		Parameters: ai.SchemaObject(map[string]any{
			"subject":      ai.SchemaString("Assunto do chamado, em poucas palavras"),
			"details":      ai.SchemaString("O que o cliente relatou"),
			"order_number": ai.SchemaString("Número do pedido, se o cliente informou"),
		}, "subject"),
	}
}

func (openTicket) Call(_ context.Context, tc ai.ToolContext, args json.RawMessage) (any, error) {
	s := func(k string) string { return ai.ArgString(args, k) }
	tc.RequestFunc(map[string]any{"tool": ToolOpenTicket, "subject": s("subject"), "details": s("details"),
		"orderNumber": s("order_number"), "at": tc.Now.UTC()})
	return map[string]any{"status": "opened",
		"message": "Chamado aberto. A equipe de atendimento vai responder o cliente por aqui."}, nil
}

// Template is the customer-support agent template (sample knowledge
// included).
func Template() ai.Template {
	return ai.Template{
		ID:          ai.TypeCustomerSupport,
		Description: "Atendimento ao cliente: responde dúvidas a partir da base de conhecimento, abre chamados e transfere para um humano quando necessário.",
		Config: ai.AgentConfig{
			Name: "Atendimento ao Cliente",
			Type: ai.TypeCustomerSupport,
			SystemPrompt: "Você é um atendente virtual cordial que responde clientes pelo WhatsApp em português do Brasil. " +
				"Consulte a base de conhecimento com search_knowledge_base antes de responder e use apenas o que ela retornar. " +
				"Quando o cliente relatar um problema que precisa de acompanhamento (pedido, troca, defeito), use open_ticket para abrir um chamado. " +
				"Se a resposta não estiver na base, se o cliente estiver insatisfeito ou pedir um atendente, use handoff_to_human. " +
				"Responda em mensagens curtas, próprias para WhatsApp.",
			Capabilities:     []string{ai.CapSearchKnowledgeBase, ToolOpenTicket},
			KnowledgeBase:    "faq",
			ResponseSettings: ai.ResponseSettings{MaxTokens: 400, Temperature: 0.3, Language: "pt-BR"},
		},
		Knowledge: []ai.KnowledgeDocument{
			{Title: "Horário de atendimento", Category: "faq",
				Content: "Nosso atendimento humano funciona de segunda a sexta, das 8h às 18h, e aos sábados das 9h às 13h."},
			{Title: "Trocas e devoluções", Category: "faq",
				Content: "Trocas e devoluções podem ser solicitadas em até 7 dias após o recebimento, com o produto na embalagem original e a nota fiscal."},
		},
	}
}
