package ai_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
)

// settings.ai.defaultAgentId is honoured: written directly (as supabase-js
// would), it moves is_default, and the runtime answers with that agent.
func TestTenantSettingsDefaultAgentIsHonoured(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := e.customAgent()
	second, err := e.svc.CreateAgent(ctx, e.tenantID, ai.CreateAgentParams{Template: ai.TypeCustomerSupport, Slug: "suporte"})
	require.NoError(t, err)
	require.True(t, first.IsDefault)
	require.False(t, second.IsDefault)
	_, err = e.pool.Exec(ctx, `UPDATE tenants SET settings = jsonb_set(settings, '{ai}', '{"defaultAgentId": "suporte"}') WHERE id = $1`, e.tenantID)
	require.NoError(t, err)
	a, err := e.svc.GetAgent(ctx, e.tenantID, "suporte")
	require.NoError(t, err)
	require.True(t, a.IsDefault)
	var stored string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT settings #>> '{ai,defaultAgentId}' FROM tenants WHERE id = $1`, e.tenantID).Scan(&stored))
	require.Equal(t, second.ID, stored, "the slug is stored as the UUID")

	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "oi")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Equal(t, second.ID, *e.replies()[0].AgentID)

	// Deleting the default agent clears the setting too.
	_, err = e.pool.Exec(ctx, `DELETE FROM ai_agents WHERE id = $1`, second.ID)
	require.NoError(t, err)
	var left *string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT settings #>> '{ai,defaultAgentId}' FROM tenants WHERE id = $1`, e.tenantID).Scan(&left))
	require.Nil(t, left)
}

// An operator's manual send pauses the agent; a later send with enableAI
// and an agentId assigns the conversation to that agent, which answers the
// next inbound message. Capability spellings of the annex map to the tools.
func TestEnableAISendAssignsTheConversation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	def := e.customAgent()
	named, err := e.svc.CreateAgent(ctx, e.tenantID, ai.CreateAgentParams{Slug: "corretor", Config: &ai.AgentConfig{
		Name: "Corretor", Type: ai.TypeCustom, SystemPrompt: "Você é corretor.", Capabilities: []string{"property_search", "financing_calculator"}}})
	require.NoError(t, err)
	require.Equal(t, []string{ai.CapSearchProperties, ai.CapCalculateFinancing}, named.Config.Capabilities)
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model)})

	send := func(enableAI bool, agentID *string) {
		_, err := e.pool.Exec(ctx, `INSERT INTO messages (tenant_id, session_id, direction, to_number, message_type, content, status, provider, enable_ai, agent_id)
VALUES ($1, $2, 'outbound', $3, 'text', '{"text": "oi"}', 'sent', 'sandbox', $4, $5)`, e.tenantID, e.session, contact, enableAI, agentID)
		require.NoError(t, err)
	}
	send(false, nil) // the operator takes over
	e.inbound(contact, "olá?")
	r := e.waitOutcome()
	require.Equal(t, ai.OutcomePaused, r.Outcome)
	require.Equal(t, "operator", r.Reason)

	e.clock.Advance(time.Second)
	send(true, &named.ID)
	e.clock.Advance(time.Second)
	e.inbound(contact, "quero ver apartamentos")
	r = e.waitOutcome()
	require.Equal(t, ai.OutcomeReplied, r.Outcome, "%+v", r)
	require.Equal(t, named.ID, r.AgentID)
	require.NotEqual(t, def.ID, r.AgentID)
	var convAgent string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT agent_id::text FROM ai_conversations WHERE tenant_id = $1 AND contact = $2`, e.tenantID, contact).Scan(&convAgent))
	require.Equal(t, named.ID, convAgent)

	// An explicit assignment afterwards wins over the older send.
	_, err = e.svc.AssignConversation(ctx, e.tenantID, def.ID, ai.AssignConversationParams{SessionID: e.session, Contact: contact})
	require.NoError(t, err)
	e.inbound(contact, "e casas?")
	r = e.waitOutcome()
	require.Equal(t, ai.OutcomeReplied, r.Outcome)
	require.Equal(t, def.ID, r.AgentID)
}
