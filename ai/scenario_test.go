package ai_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/ai/backends"
	"github.com/zapbase/zapbase/ai/local"
	"github.com/zapbase/zapbase/ai/tools/support"
	"github.com/zapbase/zapbase/metrics"
	"github.com/zapbase/zapbase/providers"
)

func geminiBackends() map[string]ai.ModelFactoryFunc { return backends.Factories(nil) }

// The spec's scenario: a real_estate agent receives "Quero ver apartamentos
// de 2 quartos", Gemini calls search_properties, the knowledge base answers,
// and the reply row's text contains "apartamentos".
func TestSpecScenarioRealEstateWithGemini(t *testing.T) {
	e := newEnv(t)
	agent, err := e.svc.CreateAgent(context.Background(), e.tenantID, ai.CreateAgentParams{Template: ai.TypeRealEstate})
	require.NoError(t, err)
	require.True(t, agent.IsDefault)

	srv := aitest.NewGemini()
	defer srv.Close()
	var toolResult map[string]any
	srv.Script = func(req map[string]any) aitest.Reply {
		if aitest.LastGeminiPartKind(req) == "text" {
			return aitest.GeminiFunctionCalls(120, 12, aitest.GeminiCall{Name: "search_properties",
				Args: map[string]any{"query": "apartamento", "bedrooms": 2}})
		}
		contents := req["contents"].([]any)
		parts := contents[len(contents)-1].(map[string]any)["parts"].([]any)
		toolResult = parts[0].(map[string]any)["functionResponse"].(map[string]any)["response"].(map[string]any)
		var titles []string
		for _, h := range toolResult["results"].([]any) {
			titles = append(titles, h.(map[string]any)["title"].(string))
		}
		return aitest.GeminiText("Encontrei estes apartamentos de 2 quartos: "+strings.Join(titles, "; "), 300, 40)
	}
	mt := metrics.New(metrics.Options{TenantLabel: true})
	reg := mt.Registry()
	e.start(ai.RuntimeParams{Backends: geminiBackends(), Metrics: mt,
		GlobalModels: []ai.ModelSpec{{Backend: ai.BackendGemini, APIKey: "test-key", BaseURL: srv.URL}}})

	e.inbound(contact, "Quero ver apartamentos de 2 quartos")
	r := e.waitOutcome()
	require.Equal(t, ai.OutcomeReplied, r.Outcome, "%v", r.Err)
	require.Equal(t, 2, srv.Calls())

	rs := e.replies()
	require.Len(t, rs, 1)
	require.Contains(t, rs[0].Text, "apartamentos")
	require.Contains(t, rs[0].Text, "Vila Mariana")
	require.Equal(t, agent.ID, *rs[0].AgentID)
	// Apartments match more query words than the house: they rank first.
	hits := toolResult["results"].([]any)
	require.True(t, strings.HasPrefix(hits[0].(map[string]any)["title"].(string), "Apartamento"))
	require.True(t, strings.HasPrefix(hits[1].(map[string]any)["title"].(string), "Apartamento"))

	first := srv.Requests()[0]
	sys := first["systemInstruction"].(map[string]any)["parts"].([]any)[0].(map[string]any)["text"].(string)
	require.Contains(t, sys, "corretor de imóveis")
	var names []string
	for _, d := range first["tools"].([]any)[0].(map[string]any)["functionDeclarations"].([]any) {
		names = append(names, d.(map[string]any)["name"].(string))
	}
	require.ElementsMatch(t, []string{"search_properties", "schedule_visits", "provide_documentation", "calculate_financing", "handoff_to_human"}, names)

	require.Equal(t, 1.0, testutil.ToFloat64(mustVec(t, reg, "zapbase_ai_tool_calls_total", map[string]string{"tenant": e.tenantID, "agent": agent.ID, "tool": "search_properties", "result": "ok"})))
	require.Equal(t, 420.0, testutil.ToFloat64(mustVec(t, reg, "zapbase_ai_tokens_total", map[string]string{"tenant": e.tenantID, "agent": agent.ID, "backend": "gemini", "kind": "input"})))
	require.Equal(t, 2.0, testutil.ToFloat64(mustVec(t, reg, "zapbase_ai_requests_total", map[string]string{"tenant": e.tenantID, "backend": "gemini", "result": "ok"})))
	require.Equal(t, 1.0, testutil.ToFloat64(mustVec(t, reg, "zapbase_ai_turns_total", map[string]string{"tenant": e.tenantID, "agent": agent.ID, "outcome": "replied"})))
}

// mustVec finds a counter in a registry by name and labels.
func mustVec(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					match = false
				}
			}
			if match {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("metric %s %v not found", name, labels)
	return nil
}

func TestLocalBackendAnswersByRetrievalAndHandsOff(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateAgent(context.Background(), e.tenantID, ai.CreateAgentParams{Template: ai.TypeRealEstate})
	require.NoError(t, err)
	e.start(ai.RuntimeParams{Backends: backends.Factories(nil)}) // no credentials at all

	e.inbound(contact, "Quero ver apartamentos de 2 quartos")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	rs := e.replies()
	require.True(t, strings.HasPrefix(rs[0].Text, local.Label), "clearly labelled: %q", rs[0].Text)
	require.Contains(t, rs[0].Text, "apartamentos")
	require.Contains(t, rs[0].Text, "Vila Mariana")

	const other = "5511977776666"
	e.inbound(other, "qual a previsão do tempo em marte")
	require.Equal(t, ai.OutcomeHandoff, e.waitOutcome().Outcome)
	rs = e.replies()
	require.Equal(t, local.NoMatch, rs[1].Text)
	require.Equal(t, ai.StateHandoff, e.convState(other))
}

func TestToolEndpointIsSignedAndBounded(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateAgent(context.Background(), e.tenantID, ai.CreateAgentParams{Template: ai.TypeRealEstate})
	require.NoError(t, err)
	const hmacSecret = "segredo-do-endpoint-123"
	var got ai.ToolRequest
	var sigOK bool
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sigOK = r.Header.Get(ai.ToolSignatureHeader) == ai.SignToolRequest([]byte(hmacSecret), r.Header.Get(ai.ToolTimestampHeader), body)
		require.NoError(t, json.Unmarshal(body, &got))
		if got.Tool == "provide_documentation" {
			io.WriteString(w, `{"pad":"`+strings.Repeat("x", ai.MaxToolResponseBytes)+`"}`)
			return
		}
		io.WriteString(w, `{"results":[{"title":"Cobertura 2 quartos — Moema","content":"R$ 1.200.000"}]}`)
	}))
	defer endpoint.Close()
	require.NoError(t, e.svc.SetToolEndpoint(context.Background(), e.tenantID, endpoint.URL, hmacSecret))

	var secondStep ai.Request
	model := &aitest.ScriptedModel{Func: func(n int, req ai.Request) (ai.Response, error) {
		switch n {
		case 1:
			return ai.Response{ToolCalls: []ai.ToolCall{
				{ID: "a", Name: "search_properties", Args: []byte(`{"query":"2 quartos"}`)},
				{ID: "b", Name: "provide_documentation", Args: []byte(`{"topic":"financiamento"}`)},
			}}, nil
		default:
			secondStep = req
			return ai.Response{Text: "Temos uma cobertura em Moema."}, nil
		}
	}}
	mt := metrics.New(metrics.Options{TenantLabel: true})
	reg := mt.Registry()
	e.start(ai.RuntimeParams{Backends: withModel(model), Metrics: mt})
	e.inbound(contact, "tem apartamentos?")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.True(t, sigOK, "HMAC signature verifies")
	require.Equal(t, e.tenantID, got.TenantID)
	require.Equal(t, contact, got.Contact)
	results := secondStep.Messages[len(secondStep.Messages)-1].ToolResults
	require.Len(t, results, 2)
	require.Contains(t, string(results[0].Content), "Moema")
	require.Contains(t, string(results[1].Content), "resposta grande demais")
	require.Equal(t, 1.0, testutil.ToFloat64(mustVec(t, reg, "zapbase_ai_tool_calls_total", map[string]string{"tenant": e.tenantID, "result": "error"})))
}

func TestServiceAgentsLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tpls := ai.Templates()
	require.Len(t, tpls, 2)

	a, err := e.svc.CreateAgent(ctx, e.tenantID, ai.CreateAgentParams{Template: ai.TypeCustomerSupport,
		Config: &ai.AgentConfig{Name: "Suporte Loja"}})
	require.NoError(t, err)
	require.Equal(t, "Suporte Loja", a.Name)
	require.Equal(t, ai.TypeCustomerSupport, a.Type)
	require.True(t, a.IsDefault)
	require.Equal(t, []string{ai.CapSearchKnowledgeBase, support.ToolOpenTicket}, a.Config.Capabilities)

	b, err := e.svc.CreateAgent(ctx, e.tenantID, ai.CreateAgentParams{Template: ai.TypeRealEstate})
	require.NoError(t, err)
	require.False(t, b.IsDefault, "the first agent stays the default")

	list, err := e.svc.ListAgents(ctx, e.tenantID)
	require.NoError(t, err)
	require.Len(t, list, 2)

	// Validation errors are pt-BR and carry a stable code.
	_, err = e.svc.CreateAgent(ctx, e.tenantID, ai.CreateAgentParams{Config: &ai.AgentConfig{Name: "x", Type: "astrologo", SystemPrompt: "p"}})
	require.Equal(t, zapbase.CodeInvalidInput, zapbase.ErrorCode(err))
	require.Contains(t, zapbase.ErrorMessage(err), "tipo de agente inválido")
	bad := b.Config
	bad.ResponseSettings.Temperature = 3
	_, err = e.svc.ConfigureAgent(ctx, e.tenantID, b.ID, ai.ConfigureAgentParams{Config: &bad})
	require.Equal(t, zapbase.CodeInvalidInput, zapbase.ErrorCode(err))
	require.Contains(t, zapbase.ErrorMessage(err), "temperature")
	bad = b.Config
	bad.Capabilities = []string{"voar"}
	_, err = e.svc.ConfigureAgent(ctx, e.tenantID, b.ID, ai.ConfigureAgentParams{Config: &bad})
	require.Contains(t, zapbase.ErrorMessage(err), "capacidade desconhecida")

	yes := true
	good := b.Config
	good.SystemPrompt = "Novo prompt"
	b2, err := e.svc.ConfigureAgent(ctx, e.tenantID, b.ID, ai.ConfigureAgentParams{Config: &good, IsDefault: &yes})
	require.NoError(t, err)
	require.True(t, b2.IsDefault)
	require.Equal(t, "Novo prompt", b2.Config.SystemPrompt)
	a2, err := e.svc.GetAgent(ctx, e.tenantID, a.ID)
	require.NoError(t, err)
	require.False(t, a2.IsDefault)

	// Another tenant sees none of it.
	var other string
	require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO tenants (client_id, name) VALUES ('outra', 'Outra') RETURNING id`).Scan(&other))
	_, err = e.svc.GetAgent(ctx, other, a.ID)
	require.Equal(t, zapbase.CodeNotFound, zapbase.ErrorCode(err))
	_, err = e.svc.ConfigureAgent(ctx, other, a.ID, ai.ConfigureAgentParams{IsActive: new(bool)})
	require.Equal(t, zapbase.CodeNotFound, zapbase.ErrorCode(err))
	_, err = e.svc.AssignConversation(ctx, other, a.ID, ai.AssignConversationParams{SessionID: e.session, Contact: contact})
	require.Equal(t, zapbase.CodeNotFound, zapbase.ErrorCode(err))
	_, err = e.svc.GetAgent(ctx, e.tenantID, "not-a-uuid")
	require.Equal(t, zapbase.CodeNotFound, zapbase.ErrorCode(err))

	conv, err := e.svc.AssignConversation(ctx, e.tenantID, a.ID, ai.AssignConversationParams{SessionID: e.session, Contact: contact})
	require.NoError(t, err)
	require.Equal(t, a.ID, *conv.AgentID)
	require.Equal(t, ai.StateActive, conv.State)
}

func TestAssignedAgentAnswersInsteadOfDefault(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	def := e.customAgent()
	support, err := e.svc.CreateAgent(ctx, e.tenantID, ai.CreateAgentParams{Template: ai.TypeCustomerSupport})
	require.NoError(t, err)
	_, err = e.svc.AssignConversation(ctx, e.tenantID, support.ID, ai.AssignConversationParams{SessionID: e.session, Contact: contact})
	require.NoError(t, err)
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "oi")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Equal(t, support.ID, *e.replies()[0].AgentID)
	require.NotEqual(t, def.ID, support.ID)
	require.Contains(t, model.Requests()[0].System, "atendente virtual")
}

func TestModelCredentialsAreSealed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.customAgent()
	srv := aitest.NewOpenAI()
	defer srv.Close()
	srv.Enqueue(aitest.OpenAIText("Resposta do modelo do cliente", 5, 5))
	require.NoError(t, e.svc.SetModelCredentials(ctx, e.tenantID, &ai.ModelCredentials{Backend: ai.BackendOpenAI, APIKey: "sk-tenant-secret", BaseURL: srv.URL}))
	var sealed []byte
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT ciphertext FROM wa.tenant_secrets WHERE tenant_id = $1`, e.tenantID).Scan(&sealed))
	require.NotContains(t, string(sealed), "sk-tenant-secret")

	// The tenant's credentials win over the global ones.
	e.start(ai.RuntimeParams{Backends: backends.Factories(nil), GlobalModels: []ai.ModelSpec{{Backend: ai.BackendGemini, APIKey: "global", BaseURL: "http://127.0.0.1:1"}}})
	e.inbound(contact, "oi")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Equal(t, "Resposta do modelo do cliente", e.replies()[0].Text)
	require.Equal(t, 1, srv.Calls())
}

func TestStaleMessagesAreNotAnswered(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	e.events.OnInboundFunc = nil
	ts := time.Now().Add(-3 * time.Hour)
	e.inbound(contact, "mensagem antiga", func(m *providers.InboundMessage) { m.Timestamp = ts })
	rt := e.start(ai.RuntimeParams{Backends: withModel(model)})
	_ = rt
	require.Equal(t, 0, model.Calls())
	require.Empty(t, e.replies())
}
