package api_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	_ "github.com/zapbase/zapbase/ai/tools/realestate" // the built-in templates
	_ "github.com/zapbase/zapbase/ai/tools/support"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
)

func newAgentsEnv(t *testing.T) *env {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	return newEnv(t, envOpts{register: []func(*api.Router){func(r *api.Router) {
		api.AgentRoutes(ai.NewService(store.New(r.Pool()), box))(r)
	}}})
}

func TestAgentsEndpoints(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	tid, owner := e.tenant("agents-owner", "owner")
	h := auth(hsToken(claims(owner, nil)), "agents-owner")

	// Templates.
	r := e.do("GET", "/api/v1/agents/templates", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	tpls := r.json(t)["templates"].([]any)
	require.Len(t, tpls, 2)
	require.Equal(t, "real_estate", tpls[0].(map[string]any)["id"])

	// Create from a template: a working agent, the tenant's default.
	r = e.do("POST", "/api/v1/agents/create", h, map[string]any{"template": "real_estate"})
	require.Equal(t, 201, r.status, string(r.body))
	agent := r.json(t)
	agentID := agent["id"].(string)
	require.Equal(t, "real_estate", agent["type"])
	require.Equal(t, true, agent["isDefault"])
	require.Contains(t, agent["configuration"].(map[string]any)["capabilities"], "search_properties")

	// Its sample knowledge was loaded.
	r = e.do("GET", "/api/v1/agents/"+agentID+"/knowledge", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Len(t, r.json(t)["documents"], 5)
	r = e.do("POST", "/api/v1/agents/"+agentID+"/knowledge", h, map[string]any{"documents": []map[string]any{
		{"title": "Cobertura — Moema", "category": "properties", "content": "Cobertura de 3 quartos em Moema, R$ 2.100.000."}}})
	require.Equal(t, 201, r.status, string(r.body)+e.logBuf.String())
	r = e.do("GET", "/api/v1/agents/"+agentID+"/knowledge", h, nil)
	require.Len(t, r.json(t)["documents"], 6)

	// A custom agent without a configuration is refused in pt-BR.
	r = e.do("POST", "/api/v1/agents/create", h, map[string]any{"configuration": map[string]any{"name": "Sem prompt", "type": "custom"}})
	p := r.problem(t, 422, "invalid_input")
	require.Contains(t, p["message"], "systemPrompt")
	r = e.do("POST", "/api/v1/agents/create", h, map[string]any{"template": "florist"})
	r.problem(t, 422, "invalid_input")

	// Configure merges: only the name changes, the prompt stays valid.
	r = e.do("PUT", "/api/v1/agents/"+agentID+"/configure", h, map[string]any{"configuration": map[string]any{"name": "Corretora Ana"}})
	require.Equal(t, 200, r.status, string(r.body))
	got := r.json(t)
	require.Equal(t, "Corretora Ana", got["name"])
	require.NotEmpty(t, got["configuration"].(map[string]any)["systemPrompt"])
	r = e.do("PUT", "/api/v1/agents/"+agentID+"/configure", h, map[string]any{"configuration": map[string]any{"capabilities": []string{"fly"}}})
	r.problem(t, 422, "invalid_input")

	r = e.do("GET", "/api/v1/agents/list", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Len(t, r.json(t)["agents"], 1)

	// Unknown agent (well-formed or not) → 404.
	r = e.do("PUT", "/api/v1/agents/00000000-0000-0000-0000-000000000000/configure", h, map[string]any{"isActive": false})
	r.problem(t, 404, "agent_not_found")
	r = e.do("GET", "/api/v1/agents/not-a-uuid", h, nil)
	r.problem(t, 404, "agent_not_found")

	// Assign a conversation.
	var sessionID string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT id::text FROM public.whatsapp_sessions WHERE tenant_id = $1`, tid).Scan(&sessionID))
	r = e.do("POST", "/api/v1/agents/"+agentID+"/assign-conversation", h, map[string]any{"sessionId": sessionID, "contact": "5511988887777"})
	require.Equal(t, 200, r.status, string(r.body))
	conv := r.json(t)
	require.Equal(t, "active", conv["state"])
	require.Equal(t, agentID, conv["agentId"])
	r = e.do("POST", "/api/v1/agents/"+agentID+"/assign-conversation", h, map[string]any{"sessionId": "00000000-0000-0000-0000-000000000000", "contact": "5511988887777"})
	r.problem(t, 404, "session_not_found")

	// Settings: credentials sealed and never returned.
	r = e.do("PUT", "/api/v1/agents/settings/model-credentials", h, map[string]any{"backend": "gemini", "apiKey": "AIza-secret-key-123", "model": "gemini-2.5-flash"})
	require.Equal(t, 200, r.status, string(r.body))
	require.NotContains(t, string(r.body), "AIza-secret-key-123")
	require.Equal(t, "gemini", r.json(t)["modelBackend"])
	r = e.do("PUT", "/api/v1/agents/settings/model-credentials", h, map[string]any{"backend": "openai"})
	require.Contains(t, r.problem(t, 422, "invalid_input")["message"], "apiKey")
	var sealed []byte
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT ciphertext FROM wa.tenant_secrets WHERE tenant_id = $1 AND name = 'ai_model_credentials'`, tid).Scan(&sealed))
	require.NotContains(t, string(sealed), "AIza-secret-key-123")
	r = e.do("PUT", "/api/v1/agents/settings/token-budget", h, map[string]any{"dailyTokenBudget": 1000})
	require.Equal(t, 200, r.status, string(r.body))
	require.EqualValues(t, 1000, r.json(t)["dailyTokenBudget"])
	r = e.do("PUT", "/api/v1/agents/settings/tool-endpoint", h, map[string]any{"url": "http://insecure.example.com", "secret": "0123456789abcdef"})
	require.Contains(t, r.problem(t, 422, "invalid_input")["message"], "https")
	r = e.do("DELETE", "/api/v1/agents/settings/model-credentials", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Nil(t, r.json(t)["modelBackend"])

	// Mutations are audited, without secrets.
	var actions string
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM wa.audit_log WHERE tenant_id = $1 AND action LIKE 'agent.%'`, tid).Scan(&actions))
	for _, a := range []string{"agent.create", "agent.configure", "agent.assign_conversation", "agent.knowledge.add", "agent.model_credentials.set", "agent.token_budget.set"} {
		require.Contains(t, strings.Split(actions, ","), a)
	}
	var leaked int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.audit_log WHERE details::text LIKE '%AIza-secret%'`).Scan(&leaked))
	require.Zero(t, leaked)
}

func TestAgentsEndpointsAuthorization(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	_, member := e.tenant("agents-member", "member")
	_, other := e.tenant("agents-other", "owner")
	hm := auth(hsToken(claims(member, nil)), "agents-member")

	// No credentials → 401; a plain member may read but not configure.
	r := e.do("GET", "/api/v1/agents/list", nil, nil)
	require.Equal(t, 401, r.status, string(r.body))
	r = e.do("GET", "/api/v1/agents/list", hm, nil)
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("POST", "/api/v1/agents/create", hm, map[string]any{"template": "customer_support"})
	r.problem(t, 403, "forbidden")
	r = e.do("PUT", "/api/v1/agents/settings/token-budget", hm, map[string]any{"dailyTokenBudget": 5})
	r.problem(t, 403, "forbidden")
	// Assigning resumes a human takeover: owners and admins only.
	r = e.do("POST", "/api/v1/agents/"+uuid.NewString()+"/assign-conversation", hm, map[string]any{"sessionId": uuid.NewString(), "contact": "5511988887777"})
	r.problem(t, 403, "forbidden")

	// Another tenant's agent is invisible.
	ho := auth(hsToken(claims(other, nil)), "agents-other")
	r = e.do("POST", "/api/v1/agents/create", ho, map[string]any{"template": "customer_support"})
	require.Equal(t, 201, r.status, string(r.body))
	otherAgent := r.json(t)["id"].(string)
	r = e.do("GET", "/api/v1/agents/"+otherAgent, hm, nil)
	r.problem(t, 404, "agent_not_found")
	r = e.do("GET", "/api/v1/agents/"+otherAgent+"/knowledge", hm, nil)
	r.problem(t, 404, "agent_not_found")

	// The operations are in the OpenAPI document with pt-BR summaries.
	r = e.do("GET", "/openapi.json", nil, nil)
	require.Equal(t, 200, r.status)
	for _, path := range []string{"/api/v1/agents/create", "/api/v1/agents/list", "/api/v1/agents/{agentId}/configure",
		"/api/v1/agents/{agentId}/assign-conversation", "/api/v1/agents/templates"} {
		require.Contains(t, string(r.body), `"`+path+`"`)
	}
	require.Contains(t, string(r.body), "Cria um agente de IA")
}
