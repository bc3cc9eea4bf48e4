package tests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// The original spec's two end-to-end scenarios, named as the spec names
// them, against the real binary and a real PostgreSQL.

// TestShould_SendMessage_WithBaileys_Successfully: a tenant with a paired
// `baileys` (WhatsApp Web) session, driven through the test-only offline
// WhatsApp Web client (every zapbase layer is real: leases, connect, send,
// receipts), sends the spec's POST /messages/text with provider baileys;
// the answer is 200/202 and the row reaches sent.
func TestShould_SendMessage_WithBaileys_Successfully(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 2*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	const phone = "5511900000042"
	at := &aiTenant{t: t, pool: pool, clientID: "baileys-spec"}
	user := uuid.NewString()
	var sessionID string
	require.NoError(t, pool.QueryRow(ctx, `
WITH t AS (INSERT INTO public.tenants (client_id, name) VALUES ($1, 'Loja Baileys') RETURNING id),
     u AS (INSERT INTO auth.users (id, email) VALUES ($2::uuid, $2::text || '@example.com') RETURNING id),
     m AS (INSERT INTO public.tenant_members (tenant_id, user_id, role) SELECT t.id, u.id, 'owner' FROM t, u)
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, device_jid, state)
SELECT t.id, $3, 'baileys', $3 || ':7@s.whatsapp.net', 'disconnected' FROM t
RETURNING tenant_id::text, id::text`, at.clientID, user, phone).Scan(&at.id, &sessionID))
	now := time.Now()
	at.token, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "role": "authenticated", "aud": "authenticated", "iss": testJWTIssuer,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte(testJWTSecret))
	at.proc = StartServe(t, dbURL, map[string]string{"ZAPBASE_TEST_WHATSMEOW_FAKE": "1"})

	// The paired device connects (its lease is taken by this process).
	require.Eventually(t, func() bool {
		var state string
		return pool.QueryRow(ctx, `SELECT state FROM public.whatsapp_sessions WHERE id = $1`, sessionID).Scan(&state) == nil && state == "connected"
	}, 60*time.Second, 100*time.Millisecond, "the baileys session never connected\n%s", tail(at.proc.Logs(), 4000))

	// The spec's request.
	status, body := at.call("POST", "/api/v1/messages/text", at.auth(), map[string]any{
		"to": "5511988887777", "content": "Olá do zapbase!", "provider": "baileys"})
	require.Contains(t, []int{200, 202}, status, string(body))
	var sent struct {
		MessageID, Status, Provider string
	}
	require.NoError(t, json.Unmarshal(body, &sent))
	require.Equal(t, "baileys", sent.Provider)
	require.Eventually(t, func() bool {
		var st string
		return pool.QueryRow(ctx, `SELECT status FROM public.messages WHERE id = $1`, sent.MessageID).Scan(&st) == nil &&
			terminalStatuses[st] && st != "failed"
	}, 30*time.Second, 100*time.Millisecond, "the row never reached sent")

	// The annex B view of the row carries the real session and provider id.
	status, body = at.call("GET", "/api/v1/messages/"+sent.MessageID, at.auth(), nil)
	require.Equal(t, 200, status, string(body))
	var rec struct {
		SessionID string `json:"sessionId"`
		MessageID string `json:"messageId"`
		From, To  string
		Metadata  struct{ Provider, DeliveryStatus string }
	}
	require.NoError(t, json.Unmarshal(body, &rec))
	require.Equal(t, sessionID, rec.SessionID)
	require.NotEmpty(t, rec.MessageID)
	require.Equal(t, phone, rec.From)
	require.Equal(t, "5511988887777", rec.To)
	require.Equal(t, "baileys", rec.Metadata.Provider)
	require.NotEqual(t, "pending", rec.Metadata.DeliveryStatus)
}

// TestShould_ProcessMessage_WithAIAgent_Successfully: a real_estate agent
// created with the spec's own body ({"name", "type"}) receives "Quero ver
// apartamentos de 2 quartos" and answers with a reply that contains
// "apartamentos". Then the spec's send with enableAI + agentId (a slug)
// hands a contact an operator had taken over to that agent, which answers
// the contact's next message; the skipped turn before it is logged at INFO.
func TestShould_ProcessMessage_WithAIAgent_Successfully(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 3*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	at := seedAITenant(t, ctx, pool)

	gem := aitest.NewGemini()
	t.Cleanup(gem.Close)
	gem.Script = func(req map[string]any) aitest.Reply {
		if aitest.LastGeminiPartKind(req) == "functionResponse" {
			return aitest.GeminiText("Encontrei 2 apartamentos de 2 quartos: Vila Mariana (R$ 650.000) e Pinheiros (R$ 720.000). Quer agendar uma visita?", 300, 40)
		}
		if strings.Contains(lastGeminiText(req), "apartamentos") {
			return aitest.GeminiFunctionCalls(200, 12, aitest.GeminiCall{Name: "search_properties", Args: map[string]any{"query": "apartamento 2 quartos"}})
		}
		return aitest.GeminiText("Olá! Como posso ajudar?", 50, 10)
	}
	at.proc = StartServe(t, dbURL, map[string]string{
		"GEMINI_API_KEY":                "fake-gemini-key",
		"GEMINI_BASE_URL":               gem.URL,
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
		"ZAPBASE_AI_DEBOUNCE":           "0",
	})
	status, body := at.call("PUT", "/api/v1/admin/tenants/"+at.clientID+"/webhook-secret",
		map[string]string{"Authorization": "Bearer " + testAdminToken}, nil)
	require.Equal(t, 200, status, string(body))
	var ws struct{ Secret string }
	require.NoError(t, json.Unmarshal(body, &ws))
	at.secret = []byte(ws.Secret)

	// The spec's agent body.
	status, body = at.call("POST", "/api/v1/agents/create", at.auth(), map[string]any{"name": "Especialista em Imóveis", "type": "real_estate"})
	require.Equal(t, 201, status, string(body))
	var agent struct {
		ID, Type  string
		IsDefault bool
	}
	require.NoError(t, json.Unmarshal(body, &agent))
	require.Equal(t, "real_estate", agent.Type)
	require.True(t, agent.IsDefault)

	// The scenario.
	const contact = "5511988887777"
	at.inbound(contact, aiScenarioText)
	reps := at.waitSentReplies(ctx, contact, 1, 45*time.Second)
	require.Len(t, reps, 1)
	require.Contains(t, reps[0].Text, "apartamentos")
	var replyAgent string
	require.NoError(t, pool.QueryRow(ctx, `SELECT agent_id::text FROM public.messages WHERE id = $1`, reps[0].ID).Scan(&replyAgent))
	require.Equal(t, agent.ID, replyAgent)

	// A second agent, not the default, known by its slug (annex A body).
	status, body = at.call("POST", "/api/v1/agents/create", at.auth(), map[string]any{
		"agentId": "corretor_plantao", "name": "Corretor de Plantão",
		"systemPrompt":     "Você é o corretor de plantão. Responda sobre imóveis em português do Brasil.",
		"capabilities":     []string{"search_properties", "schedule_visits", "provide_documentation", "calculate_financing"},
		"knowledgeBase":    map[string]any{"type": "postgres_fts", "name": "property_database"},
		"responseSettings": map[string]any{"maxTokens": 500, "temperature": 0.7, "language": "pt-BR"},
		"knowledge": []map[string]any{{"title": "Apartamento 2 quartos — Moema", "category": "properties",
			"content": "Apartamento de 2 quartos em Moema, 70 m², R$ 800.000."}},
	})
	require.Equal(t, 201, status, string(body))
	var plantao struct{ ID, AgentID string }
	require.NoError(t, json.Unmarshal(body, &plantao))
	require.Equal(t, "corretor_plantao", plantao.AgentID)

	// An operator writes to another contact by hand: the agent stays
	// silent for them, and says so in the log.
	const other = "5511966665555"
	status, body = at.call("POST", "/api/v1/messages/text", at.auth(), map[string]any{"to": other, "content": "Oi, aqui é a Ana, da imobiliária."})
	require.Equal(t, 200, status, string(body))
	at.inbound(other, "Oi Ana")
	require.Eventually(t, func() bool {
		return strings.Contains(at.proc.Logs(), "ai turn skipped: a human operator wrote to the contact recently")
	},
		30*time.Second, 100*time.Millisecond, "a skipped turn is logged at INFO with its reason")
	require.Empty(t, at.replies(ctx, other))

	// The spec's send with enableAI + agentId hands the conversation to
	// that agent, which answers the contact's next message.
	status, body = at.call("POST", "/api/v1/messages/text", at.auth(), map[string]any{
		"to": other, "content": "Vou passar você para o nosso corretor virtual.", "provider": "auto", "enableAI": true, "agentId": "corretor_plantao"})
	require.Equal(t, 200, status, string(body))
	at.inbound(other, aiScenarioText)
	reps = at.waitSentReplies(ctx, other, 2, 45*time.Second) // the send itself has agent_id set too
	var fromAgent []aiReply
	for _, r := range reps {
		var meta string
		require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(metadata->'ai'->>'outcome', '') FROM public.messages WHERE id = $1`, r.ID).Scan(&meta))
		if meta != "" {
			fromAgent = append(fromAgent, r)
		}
	}
	require.Len(t, fromAgent, 1, "%+v", reps)
	require.Contains(t, fromAgent[0].Text, "apartamentos")
	var convAgent string
	require.NoError(t, pool.QueryRow(ctx, `
SELECT c.agent_id::text FROM public.ai_conversations c WHERE c.tenant_id = $1 AND c.contact = $2`, at.id, other).Scan(&convAgent))
	require.Equal(t, plantao.ID, convAgent, "the conversation is assigned to the agent named in the send")
	require.NoError(t, pool.QueryRow(ctx, `SELECT agent_id::text FROM public.messages WHERE id = $1`, fromAgent[0].ID).Scan(&replyAgent))
	require.Equal(t, plantao.ID, replyAgent)
}
