package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The original spec's own agent requests work as written.
func TestAgentsSpecShapes(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	tid, owner := e.tenant("agents-spec", "owner")
	h := auth(hsToken(claims(owner, nil)), "agents-spec")

	// {"name", "type"}: the template of that type, with its sample knowledge.
	r := e.do("POST", "/api/v1/agents/create", h, map[string]any{"name": "Especialista em Imóveis", "type": "real_estate"})
	require.Equal(t, 201, r.status, string(r.body))
	simple := r.json(t)
	require.Equal(t, "Especialista em Imóveis", simple["name"])
	require.Equal(t, "real_estate", simple["type"])
	require.Equal(t, simple["id"], simple["agentId"], "without a chosen agentId, agentId is the UUID")
	require.Contains(t, simple["capabilities"], "calculate_financing")
	require.NotEmpty(t, simple["systemPrompt"])
	r = e.do("GET", "/api/v1/agents/"+simple["id"].(string)+"/knowledge", h, nil)
	require.Len(t, r.json(t)["documents"], 5)

	// The annex A body, flat, with its own agentId.
	annex := map[string]any{
		"agentId":          "real_estate_agent",
		"name":             "Corretor Virtual",
		"systemPrompt":     "Você é um especialista em imóveis.",
		"capabilities":     []string{"search_properties", "schedule_visits", "provide_documentation", "calculate_financing"},
		"knowledgeBase":    map[string]any{"type": "postgres_fts", "name": "property_database"},
		"responseSettings": map[string]any{"maxTokens": 300, "temperature": 0.4, "language": "pt-BR"},
	}
	r = e.do("POST", "/api/v1/agents/create", h, annex)
	require.Equal(t, 201, r.status, string(r.body))
	a := r.json(t)
	require.Equal(t, "real_estate_agent", a["agentId"])
	require.Equal(t, "Você é um especialista em imóveis.", a["systemPrompt"])
	require.Equal(t, "custom", a["type"])
	require.Equal(t, map[string]any{"maxTokens": float64(300), "temperature": 0.4, "language": "pt-BR"}, a["responseSettings"])
	require.Equal(t, map[string]any{"type": "postgres_fts", "name": "property_database"}, a["knowledgeBase"])
	require.Equal(t, "property_database", a["configuration"].(map[string]any)["knowledgeBase"])
	uuidID := a["id"].(string)

	// The slug works wherever {agentId} does; it is unique per tenant.
	r = e.do("GET", "/api/v1/agents/real_estate_agent", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, uuidID, r.json(t)["id"])
	e.do("POST", "/api/v1/agents/create", h, annex).problem(t, 409, "conflict")
	bad := map[string]any{"agentId": "Bad Slug!", "name": "x", "systemPrompt": "y"}
	e.do("POST", "/api/v1/agents/create", h, bad).problem(t, 422, "invalid_input")

	// An external vector database is refused, naming the field and what
	// is supported instead.
	vec := map[string]any{"name": "Vetorial", "systemPrompt": "x", "knowledgeBase": map[string]any{"type": "vector_db", "connectionString": "postgres://x"}}
	p := e.do("POST", "/api/v1/agents/create", h, vec).problem(t, 422, "unsupported_knowledge_base")
	require.Contains(t, p["message"], "knowledgeBase.type")
	require.Contains(t, p["message"], "postgres_fts")
	e.do("POST", "/api/v1/agents/create", h, map[string]any{"name": "x", "systemPrompt": "y", "surprise": 1}).problem(t, 422, "invalid_input")

	// Configure is a JSON Merge Patch: zero values are set, null resets,
	// absent fields stay.
	r = e.do("PUT", "/api/v1/agents/real_estate_agent/configure", h, map[string]any{"allowGroups": true, "handoffMessage": "Já chamo alguém."})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, true, r.json(t)["configuration"].(map[string]any)["allowGroups"])
	r = e.do("PUT", "/api/v1/agents/real_estate_agent/configure", h, map[string]any{"responseSettings": map[string]any{"temperature": 0}, "allowGroups": false})
	require.Equal(t, 200, r.status, string(r.body))
	got := r.json(t)
	require.Equal(t, 0.0, got["responseSettings"].(map[string]any)["temperature"])
	require.EqualValues(t, 300, got["responseSettings"].(map[string]any)["maxTokens"], "absent fields keep their value")
	require.Equal(t, false, got["configuration"].(map[string]any)["allowGroups"])
	require.Equal(t, "Já chamo alguém.", got["configuration"].(map[string]any)["handoffMessage"])
	var stored float64
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT (configuration #>> '{responseSettings,temperature}')::float8 FROM public.ai_agents WHERE id = $1`, uuidID).Scan(&stored))
	require.Zero(t, stored)
	hp := map[string]string{"Content-Type": "application/merge-patch+json"}
	for k, v := range h {
		hp[k] = v
	}
	r = e.do("PUT", "/api/v1/agents/"+uuidID+"/configure", hp, `{"handoffMessage": null, "responseSettings": {"maxTokens": null}}`)
	require.Equal(t, 200, r.status, string(r.body))
	got = r.json(t)
	require.Nil(t, got["configuration"].(map[string]any)["handoffMessage"])
	require.EqualValues(t, 500, got["responseSettings"].(map[string]any)["maxTokens"], "null: back to the default")
	p = e.do("PUT", "/api/v1/agents/real_estate_agent/configure", h, map[string]any{"responseSettings": map[string]any{"temperature": 3}}).problem(t, 422, "invalid_input")
	require.Contains(t, p["message"], "responseSettings.temperature")
	r = e.do("PUT", "/api/v1/agents/real_estate_agent/configure", h, map[string]any{"agentId": "corretor_vm"})
	require.Equal(t, 200, r.status, string(r.body))
	e.do("GET", "/api/v1/agents/real_estate_agent", h, nil).problem(t, 404, "agent_not_found")
	require.Equal(t, 200, e.do("GET", "/api/v1/agents/corretor_vm", h, nil).status)

	// The default agent: settings.ai.defaultAgentId and isDefault never
	// disagree, whichever side is written.
	r = e.do("PUT", "/api/v1/tenant/settings", h, map[string]any{"ai": map[string]any{"defaultAgentId": "corretor_vm"}})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, uuidID, r.json(t)["ai"].(map[string]any)["defaultAgentId"])
	r = e.do("GET", "/api/v1/agents/corretor_vm", h, nil)
	require.Equal(t, true, r.json(t)["isDefault"])
	r = e.do("GET", "/api/v1/agents/"+simple["id"].(string), h, nil)
	require.Equal(t, false, r.json(t)["isDefault"])
	r = e.do("PUT", "/api/v1/agents/"+simple["id"].(string)+"/configure", h, map[string]any{"isDefault": true})
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("GET", "/api/v1/tenant/settings", h, nil)
	require.Equal(t, simple["id"], r.json(t)["ai"].(map[string]any)["defaultAgentId"])
	// A direct write (supabase-js) is kept in line by the database.
	_, err := e.pool.Exec(context.Background(), `UPDATE public.tenants SET settings = jsonb_set(settings, '{ai,defaultAgentId}', to_jsonb($2::text)) WHERE id = $1`, tid, uuidID)
	require.NoError(t, err)
	var defaults []string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT array_agg(id::text) FROM public.ai_agents WHERE tenant_id = $1 AND is_default`, tid).Scan(&defaults))
	require.Equal(t, []string{uuidID}, defaults)
	_, err = e.pool.Exec(context.Background(), `UPDATE public.tenants SET settings = jsonb_set(settings, '{ai,defaultAgentId}', '"no-such-agent"') WHERE id = $1`, tid)
	require.Error(t, err, "an unknown default agent is refused by the database")
	e.do("PUT", "/api/v1/tenant/settings", h, map[string]any{"ai": map[string]any{"defaultAgentId": "no-such-agent"}}).problem(t, 422, "agent_not_found")

	// Tenant settings are a merge patch too: one field at a time.
	r = e.do("PUT", "/api/v1/tenant/settings", h, map[string]any{"rateLimitPerMinute": 250})
	require.Equal(t, 200, r.status, string(r.body))
	st := r.json(t)
	require.EqualValues(t, 250, st["rateLimitPerMinute"])
	require.Equal(t, uuidID, st["ai"].(map[string]any)["defaultAgentId"], "untouched fields stay")
	e.do("PUT", "/api/v1/tenant/settings", h, map[string]any{"rateLimitPerMinute": 0}).problem(t, 422, "invalid_input")

	// Another tenant's slug is a 404.
	_, other := e.tenant("agents-spec-other", "owner")
	ho := auth(hsToken(claims(other, nil)), "agents-spec-other")
	e.do("GET", "/api/v1/agents/corretor_vm", ho, nil).problem(t, 404, "agent_not_found")
	e.do("PUT", "/api/v1/agents/corretor_vm/configure", ho, map[string]any{"isActive": false}).problem(t, 404, "agent_not_found")
	e.do("PUT", "/api/v1/tenant/settings", ho, map[string]any{"ai": map[string]any{"defaultAgentId": "corretor_vm"}}).problem(t, 422, "agent_not_found")

	// The OpenAPI document (what Scalar at /docs renders) shows both shapes
	// with pt-BR examples, and the merge-patch media type.
	r = e.do("GET", "/openapi.json", nil, nil)
	require.Equal(t, 200, r.status)
	doc := r.json(t)
	paths := doc["paths"].(map[string]any)
	create := paths["/api/v1/agents/create"].(map[string]any)["post"].(map[string]any)
	content := create["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)
	examples := content["examples"].(map[string]any)
	require.Contains(t, examples, "anexoA")
	require.Contains(t, examples, "nomeETipo")
	require.Equal(t, "Especialista em Imóveis", examples["anexoA"].(map[string]any)["value"].(map[string]any)["name"])
	require.Contains(t, examples["nomeETipo"].(map[string]any)["summary"], "modelo pronto")
	require.Contains(t, create["description"], "anexo A")
	configure := paths["/api/v1/agents/{agentId}/configure"].(map[string]any)["put"].(map[string]any)
	require.Contains(t, configure["requestBody"].(map[string]any)["content"], "application/merge-patch+json")
	require.Contains(t, configure["summary"], "Merge Patch")
	require.Contains(t, paths, "/api/v1/messages/{messageId}")
}
