package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

const (
	aiSessionPhone = "5511900000000"
	aiScenarioText = "Quero ver apartamentos de 2 quartos"
)

// aiTenant is a tenant set up through the real API: a member user, a
// connected sandbox session, a webhook secret and a real_estate agent.
type aiTenant struct {
	t        *testing.T
	proc     *Proc
	pool     *pgxpool.Pool
	clientID string
	id       string
	token    string
	secret   []byte
	agentID  string
}

// seedAITenant inserts the tenant, its member and its sandbox session (as
// `zapbase dev` does).
func seedAITenant(t *testing.T, ctx context.Context, pool *pgxpool.Pool) *aiTenant {
	t.Helper()
	at := &aiTenant{t: t, pool: pool, clientID: fmt.Sprintf("imob-%d", time.Now().UnixNano())}
	user := uuid.NewString()
	require.NoError(t, pool.QueryRow(ctx, `
WITH t AS (INSERT INTO public.tenants (client_id, name, default_provider) VALUES ($1, 'Imobiliária', 'auto') RETURNING id),
     u AS (INSERT INTO auth.users (id, email) VALUES ($2::uuid, $2::text || '@example.com') RETURNING id),
     m AS (INSERT INTO public.tenant_members (tenant_id, user_id, role) SELECT t.id, u.id, 'owner' FROM t, u),
     s AS (INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state, connected_at)
           SELECT t.id, $3, 'sandbox', 'connected', now() FROM t)
SELECT id::text FROM t`, at.clientID, user, aiSessionPhone).Scan(&at.id))
	now := time.Now()
	at.token, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "role": "authenticated", "aud": "authenticated", "iss": testJWTIssuer,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte(testJWTSecret))
	return at
}

// attach points the tenant at a running process and (once) sets the
// webhook secret and creates the agent through the API.
func (at *aiTenant) attach(p *Proc) {
	at.proc = p
	if at.secret != nil {
		return
	}
	status, body := at.call("PUT", "/api/v1/admin/tenants/"+at.clientID+"/webhook-secret",
		map[string]string{"Authorization": "Bearer " + testAdminToken}, nil)
	require.Equal(at.t, 200, status, string(body))
	var ws struct{ Secret string }
	require.NoError(at.t, json.Unmarshal(body, &ws))
	at.secret = []byte(ws.Secret)

	status, body = at.call("GET", "/api/v1/agents/templates", at.auth(), nil)
	require.Equal(at.t, 200, status, string(body))
	require.Contains(at.t, string(body), `"id":"real_estate"`)
	status, body = at.call("POST", "/api/v1/agents/create", at.auth(), map[string]any{"template": "real_estate"})
	require.Equal(at.t, 201, status, string(body))
	var a struct {
		ID        string
		IsDefault bool
	}
	require.NoError(at.t, json.Unmarshal(body, &a))
	require.True(at.t, a.IsDefault, "the tenant's first agent answers its conversations")
	at.agentID = a.ID
}

func (at *aiTenant) auth() map[string]string {
	return map[string]string{"Authorization": "Bearer " + at.token, "X-Client-Id": at.clientID}
}

func (at *aiTenant) call(method, path string, h map[string]string, body any) (int, []byte) {
	at.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, at.proc.BaseURL()+path, rd)
	require.NoError(at.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(at.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// inbound delivers a contact's text through the signed generic webhook,
// the way an external gateway does.
func (at *aiTenant) inbound(from, text string) {
	at.t.Helper()
	body, _ := json.Marshal(map[string]any{"session": aiSessionPhone, "messageId": "gw-" + uuid.NewString(),
		"from": from, "pushName": "Cliente", "type": "text", "content": map[string]any{"text": text}})
	status, resp := at.call("POST", "/api/v1/webhooks/incoming-message", at.webhookHeaders(body), body)
	require.Equal(at.t, 200, status, string(resp))
}

// inboundMayCrash is inbound for a process that may kill itself while
// answering: a cut connection is accepted once the message row is stored.
func (at *aiTenant) inboundMayCrash(from, text string) {
	at.t.Helper()
	body, _ := json.Marshal(map[string]any{"session": aiSessionPhone, "messageId": "gw-" + uuid.NewString(),
		"from": from, "pushName": "Cliente", "type": "text", "content": map[string]any{"text": text}})
	req, err := http.NewRequest("POST", at.proc.BaseURL()+"/api/v1/webhooks/incoming-message", bytes.NewReader(body))
	require.NoError(at.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range at.webhookHeaders(body) {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(at.t, 200, res.StatusCode, string(b))
		return
	}
	var n int
	require.NoError(at.t, at.pool.QueryRow(context.Background(), `SELECT count(*) FROM public.messages
 WHERE tenant_id = $1 AND direction = 'inbound' AND from_number = $2`, at.id, from).Scan(&n))
	require.Equal(at.t, 1, n, "the webhook stored the message before the connection ended: %v", err)
}

// webhookHeaders signs body for the tenant's generic webhook, now.
func (at *aiTenant) webhookHeaders(body []byte) map[string]string {
	ts := time.Now().Unix()
	return map[string]string{
		"X-Client-Id":              at.clientID,
		api.HeaderWebhookTimestamp: strconv.FormatInt(ts, 10),
		api.HeaderWebhookSignature: api.SignWebhook(at.secret, ts, body),
	}
}

// aiReply is an outbound row written by the agent.
type aiReply struct {
	ID, Text, Status string
}

// replies lists the agent's outbound rows to a contact.
func (at *aiTenant) replies(ctx context.Context, to string) []aiReply {
	at.t.Helper()
	rows, err := at.pool.Query(ctx, `
SELECT id::text, coalesce(content->>'text', ''), status FROM public.messages
 WHERE tenant_id = $1 AND direction = 'outbound' AND to_number = $2 AND agent_id IS NOT NULL
 ORDER BY created_at`, at.id, to)
	require.NoError(at.t, err)
	defer rows.Close()
	var out []aiReply
	for rows.Next() {
		var r aiReply
		require.NoError(at.t, rows.Scan(&r.ID, &r.Text, &r.Status))
		out = append(out, r)
	}
	require.NoError(at.t, rows.Err())
	return out
}

// waitSentReplies polls (the database is the only signal a separate
// process gives) until n agent replies to the contact went out through the
// sandbox and the contact's inbound rows are all handled.
func (at *aiTenant) waitSentReplies(ctx context.Context, to string, n int, timeout time.Duration) []aiReply {
	at.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		reps := at.replies(ctx, to)
		sent := 0
		for _, r := range reps {
			if terminalStatuses[r.Status] && r.Status != "failed" {
				sent++
			}
		}
		var pending int
		require.NoError(at.t, at.pool.QueryRow(ctx, `SELECT count(*) FROM public.messages
 WHERE tenant_id = $1 AND direction = 'inbound' AND from_number = $2 AND NOT ai_processed`, at.id, to).Scan(&pending))
		if sent >= n && pending == 0 {
			return reps
		}
		if time.Now().After(deadline) {
			at.t.Fatalf("waited %s for %d sent agent replies to %s: have %+v, %d inbound rows unhandled\n%s",
				timeout, n, to, reps, pending, tail(at.proc.Logs(), 6000))
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// userTexts are the generateContent requests that start a turn (the last
// content is the contact's text, not a function response).
func userTexts(s *aitest.Server) []string {
	var out []string
	for _, req := range s.Requests() {
		if aitest.LastGeminiPartKind(req) == "text" {
			out = append(out, lastGeminiText(req))
		}
	}
	return out
}

func lastGeminiText(req map[string]any) string {
	contents, _ := req["contents"].([]any)
	if len(contents) == 0 {
		return ""
	}
	last, _ := contents[len(contents)-1].(map[string]any)
	parts, _ := last["parts"].([]any)
	var b strings.Builder
	for _, p := range parts {
		if pm, ok := p.(map[string]any); ok {
			if s, ok := pm["text"].(string); ok {
				b.WriteString(s)
			}
		}
	}
	return b.String()
}

// TestAIAgentEndToEnd is the spec's scenario through the real binary and
// the sandbox provider, with a fake Gemini speaking the real wire format:
// an agent created from the real_estate template receives "Quero ver
// apartamentos de 2 quartos", calls search_properties (answered from its
// knowledge base) and its reply goes out with "apartamentos" in it. Then a
// burst of three messages within the debounce window is one model turn and
// one reply.
func TestAIAgentEndToEnd(t *testing.T) {
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
		return aitest.GeminiText("Olá! Sou o assistente da imobiliária. Você procura imóvel para comprar ou alugar?", 150, 20)
	}
	proc := StartServe(t, dbURL, map[string]string{
		"GEMINI_API_KEY":                "fake-gemini-key",
		"GEMINI_BASE_URL":               gem.URL,
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
		"ZAPBASE_AI_DEBOUNCE":           "2s",
	})
	at.attach(proc)

	// The scenario.
	const contact = "5511988887777"
	at.inbound(contact, aiScenarioText)
	reps := at.waitSentReplies(ctx, contact, 1, 45*time.Second)
	require.Len(t, reps, 1)
	require.Contains(t, reps[0].Text, "apartamentos")
	require.Equal(t, []string{aiScenarioText}, userTexts(gem))
	// The tool ran against the template's knowledge base: its result went
	// back to the model.
	var toolResult string
	for _, req := range gem.Requests() {
		if aitest.LastGeminiPartKind(req) == "functionResponse" {
			b, _ := json.Marshal(req["contents"])
			toolResult = string(b)
		}
	}
	require.Contains(t, toolResult, "search_properties")
	require.Contains(t, toolResult, "Vila Mariana")
	var agentID, convState string
	var processed bool
	require.NoError(t, pool.QueryRow(ctx, `
SELECT m.agent_id::text, c.state,
       (SELECT bool_and(ai_processed) FROM public.messages WHERE tenant_id = $1 AND direction = 'inbound' AND from_number = $2)
  FROM public.messages m JOIN public.ai_conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
 WHERE m.id = $3`, at.id, contact, reps[0].ID).Scan(&agentID, &convState, &processed))
	require.Equal(t, at.agentID, agentID)
	require.Equal(t, "active", convState)
	require.True(t, processed)

	// Debounce: three messages inside the window → one model turn, one reply.
	const burst = "5511977776666"
	callsBefore := len(userTexts(gem))
	for _, text := range []string{"Oi", "tudo bem?", "queria uma informação"} {
		at.inbound(burst, text)
	}
	reps = at.waitSentReplies(ctx, burst, 1, 45*time.Second)
	require.Len(t, reps, 1, "one reply for the burst")
	turns := userTexts(gem)[callsBefore:]
	require.Len(t, turns, 1, "one model call for three messages")
	for _, text := range []string{"Oi", "tudo bem?", "queria uma informação"} {
		require.Contains(t, turns[0], text, "the turn carries every message of the burst")
	}
}

// TestAIAgentLocalBackendSurvivesCrash runs with no model credentials: the
// offline local backend answers from the template's knowledge base. The
// first process kills itself (SIGKILL, test-only hook) after the answer and
// before the reply commit; after a restart exactly one reply goes out.
func TestAIAgentLocalBackendSurvivesCrash(t *testing.T) {
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 3*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	at := seedAITenant(t, ctx, pool)
	env := map[string]string{
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
		"ZAPBASE_AI_DEBOUNCE":           "0",
	}

	crashEnv := map[string]string{"ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT": "true"}
	for k, v := range env {
		crashEnv[k] = v
	}
	first := StartServe(t, dbURL, crashEnv)
	at.attach(first)
	const contact = "5511955554444"
	// The agent wakes while the webhook answers (the shared event sink), so
	// the crash may cut the answer short: the row is stored before either.
	at.inboundMayCrash(contact, aiScenarioText)
	select {
	case <-first.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("the crash hook never fired\n%s", tail(first.Logs(), 6000))
	}
	require.Contains(t, first.Logs(), "killing the process before the AI reply commit")
	require.Empty(t, at.replies(ctx, contact), "the crash came before the reply commit")

	second := StartServe(t, dbURL, env)
	at.attach(second)
	reps := at.waitSentReplies(ctx, contact, 1, 60*time.Second)
	require.Len(t, reps, 1, "exactly one reply after the crash")
	require.Contains(t, reps[0].Text, "sem IA", "the local backend labels itself")
	require.Contains(t, reps[0].Text, "Vila Mariana")
	require.Contains(t, reps[0].Text, "Pinheiros")
	require.NoError(t, second.Stop(30*time.Second))
	require.Len(t, at.replies(ctx, contact), 1)
}
