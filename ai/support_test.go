package ai_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/ai/tools/support"
)

// TestCustomerSupportTemplateOpensTicket proves the tool seam with a second
// product: an agent from the customer_support template has the support
// package's open_ticket tool (not the real-estate ones), and the ticket it
// opens is stored with the conversation.
func TestCustomerSupportTemplateOpensTicket(t *testing.T) {
	e := newEnv(t)
	agent, err := e.svc.CreateAgent(context.Background(), e.tenantID, ai.CreateAgentParams{Template: ai.TypeCustomerSupport})
	require.NoError(t, err)
	require.Equal(t, []string{ai.CapSearchKnowledgeBase, support.ToolOpenTicket}, agent.Config.Capabilities)

	srv := aitest.NewGemini()
	defer srv.Close()
	srv.Script = func(req map[string]any) aitest.Reply {
		if aitest.LastGeminiPartKind(req) == "text" {
			return aitest.GeminiFunctionCalls(100, 10, aitest.GeminiCall{Name: support.ToolOpenTicket,
				Args: map[string]any{"subject": "produto com defeito", "order_number": "A-1234"}})
		}
		return aitest.GeminiText("Abri um chamado para a equipe; você receberá retorno por aqui.", 200, 20)
	}
	e.start(ai.RuntimeParams{Backends: geminiBackends(),
		GlobalModels: []ai.ModelSpec{{Backend: ai.BackendGemini, APIKey: "test-key", BaseURL: srv.URL}}})

	e.inbound(contact, "Meu pedido A-1234 chegou quebrado")
	r := e.waitOutcome()
	require.Equal(t, ai.OutcomeReplied, r.Outcome, "%v", r.Err)
	require.Len(t, e.replies(), 1)

	var names []string
	first := srv.Requests()[0]
	for _, d := range first["tools"].([]any)[0].(map[string]any)["functionDeclarations"].([]any) {
		names = append(names, d.(map[string]any)["name"].(string))
	}
	require.ElementsMatch(t, []string{ai.CapSearchKnowledgeBase, support.ToolOpenTicket, ai.ToolHandoff}, names)

	var raw []byte
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT context FROM public.ai_conversations WHERE tenant_id = $1 AND contact = $2`, e.tenantID, contact).Scan(&raw))
	var cc ai.ConversationContext
	require.NoError(t, json.Unmarshal(raw, &cc))
	require.Len(t, cc.Requests, 1)
	require.Equal(t, support.ToolOpenTicket, cc.Requests[0]["tool"])
	require.Equal(t, "produto com defeito", cc.Requests[0]["subject"])
	require.Equal(t, "A-1234", cc.Requests[0]["orderNumber"])
}
