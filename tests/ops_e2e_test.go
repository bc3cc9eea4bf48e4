package tests

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers/meta/metafake"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// Known secrets of the operations run: none may ever appear in the logs.
const (
	opsMetaToken     = "EAAGopsMetaAccessTokenSecret0123456789abcdef"
	opsMetaAppSecret = "ops-meta-app-secret-7f3a9c2e"
	opsMetaVerify    = "ops-meta-verify-token-51b0"
	opsGeminiKey     = "AIzaOpsGeminiKeySecret0123456789abcd"
	opsOpenAIKey     = "sk-ops-openai-key-secret-0123456789abcdef"
	opsMetaNumberID  = "109876543210"
	opsMetaDisplay   = "5511955550000"
)

// opsHTTP is a small JSON client for the real binary.
type opsHTTP struct {
	t    *testing.T
	base string
}

func (c opsHTTP) do(method, path string, headers map[string]string, body any) (int, map[string]any, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	_ = json.Unmarshal(raw, &obj)
	return resp.StatusCode, obj, raw
}

// scrape reads /metrics and returns its sample lines.
func scrape(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	require.NoError(t, sc.Err())
	return lines
}

// metricSum adds the values of the series called name whose labels contain
// every fragment (e.g. `result="sent"`); found says whether any matched.
func metricSum(lines []string, name string, fragments ...string) (sum float64, found bool) {
next:
	for _, l := range lines {
		sp := strings.LastIndexByte(l, ' ')
		series := l[:sp]
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		for _, f := range fragments {
			if !strings.Contains(labels, f) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(l[sp+1:], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// TestOperationsEndToEnd runs traffic through the real binary at debug log
// level with known secrets (Meta token and app secret through the fake
// Graph API, JWTs, admin token, encryption key, webhook secrets, model API
// keys), then checks:
//   - /metrics exposes the pipeline's metrics with counts matching the rows;
//   - SIGTERM in the middle of a stream exits 0 within the deadline, and
//     after a restart every row is terminal and none was sent twice;
//   - no secret appears in either process's logs;
//   - `zapbase doctor` passes against the same database.
func TestOperationsEndToEnd(t *testing.T) {
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 4*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	graph := metafake.New(metafake.Number{PhoneNumberID: opsMetaNumberID, Display: opsMetaDisplay, Token: opsMetaToken})
	t.Cleanup(graph.Close)

	sendLog := filepath.Join(t.TempDir(), "sandbox-sends.log")
	env := map[string]string{
		"ZAPBASE_LOG_LEVEL":             "debug",
		"ZAPBASE_META_GRAPH_URL":        graph.URL,
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "50ms",
		"ZAPBASE_SANDBOX_SEND_LOG":      sendLog,
		"ZAPBASE_SHUTDOWN_TIMEOUT":      "20s",
		"ZAPBASE_INSTANCE_ID":           "ops-e2e-1",
		"GEMINI_API_KEY":                opsGeminiKey,
		"OPENAI_API_KEY":                opsOpenAIKey,
	}
	proc := StartServe(t, dbURL, env)
	api := opsHTTP{t: t, base: proc.BaseURL()}
	adm := map[string]string{"Authorization": "Bearer " + testAdminToken}

	// A tenant with a member, a Meta number and a sandbox number.
	st, _, raw := api.do("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "ops", "name": "Ops"})
	require.Equal(t, 201, st, string(raw))
	owner := uuid.NewString()
	var tenantID string
	require.NoError(t, pool.QueryRow(ctx, `WITH u AS (INSERT INTO auth.users (id, email) VALUES ($1, 'ops@example.com'))
SELECT id::text FROM public.tenants WHERE client_id = 'ops'`, owner).Scan(&tenantID))
	st, _, raw = api.do("POST", "/api/v1/admin/tenants/ops/members", adm, map[string]any{"userId": owner, "role": "owner"})
	require.Equal(t, 201, st, string(raw))
	st, hook, raw := api.do("PUT", "/api/v1/admin/tenants/ops/webhook-secret", adm, nil)
	require.Equal(t, 200, st, string(raw))
	tenantHookSecret := hook["secret"].(string)
	now := time.Now()
	userJWT, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": owner, "role": "authenticated",
		"aud": "authenticated", "iss": testJWTIssuer, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte(testJWTSecret))
	require.NoError(t, err)
	user := map[string]string{"Authorization": "Bearer " + userJWT, "X-Client-Id": "ops"}

	// The Meta session is verified in the background. Known race (reported):
	// the API writes "connecting" after Initialize returns, which can
	// overwrite the background verification's "connected"; initialize again
	// when that happens.
	metaConnected := func() bool {
		st, _, raw := api.do("POST", "/api/v1/sessions/initialize", user, map[string]any{
			"phoneNumber": opsMetaDisplay, "provider": "meta_api",
			"options": map[string]string{"phoneNumberId": opsMetaNumberID, "accessToken": opsMetaToken,
				"appSecret": opsMetaAppSecret, "verifyToken": opsMetaVerify, "wabaId": "102030405060"},
		})
		require.Less(t, st, 300, string(raw))
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			var state string
			require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM public.whatsapp_sessions WHERE tenant_id = $1 AND provider_type = 'meta_api'`, tenantID).Scan(&state))
			if state == "connected" {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	connected := false
	for attempt := 1; attempt <= 3 && !connected; attempt++ {
		if connected = metaConnected(); !connected {
			t.Logf("meta session still connecting after initialize #%d (API/verify race)", attempt)
		}
	}
	require.True(t, connected, "meta session never connected")
	// Rows that ask for auto go to the sandbox (Meta would want templates).
	_, err = pool.Exec(ctx, `UPDATE public.tenants SET default_provider = 'sandbox' WHERE id = $1`, tenantID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state, connected_at)
VALUES ($1, '5511900000001', 'sandbox', 'connected', now())`, tenantID)
	require.NoError(t, err)

	// Traffic: Meta sends through the API, sandbox sends through the API and
	// straight SQL inserts (the listener's path).
	const metaSends, apiSandbox, sqlRows = 3, 3, 20
	var wamids []string
	for i := range metaSends {
		// Outside the 24-hour window Meta only takes templates.
		st, out, raw := api.do("POST", "/api/v1/messages/send", user, map[string]any{
			"to": fmt.Sprintf("55119880000%02d", i), "type": "template", "provider": "meta_api", "from": opsMetaDisplay,
			"content": map[string]any{"template": map[string]any{"name": "hello_world", "language": "en_US"}}})
		require.Less(t, st, 300, string(raw))
		require.NotEmpty(t, out["messageId"], string(raw))
	}
	// One Meta send the Graph API refuses for good (131026 undeliverable):
	// the failure path logs the provider error, which must not carry the
	// token either.
	graph.Script("5511988009999", metafake.ErrorOutcome("error_131026_sync.json", 400))
	st, _, raw = api.do("POST", "/api/v1/messages/send", user, map[string]any{
		"to": "5511988009999", "type": "template", "provider": "meta_api", "from": opsMetaDisplay,
		"content": map[string]any{"template": map[string]any{"name": "hello_world", "language": "en_US"}}})
	require.Less(t, st, 500, string(raw))
	for i := range apiSandbox {
		st, _, raw := api.do("POST", "/api/v1/messages/text", user, map[string]any{
			"to": fmt.Sprintf("55119770000%02d", i), "content": "olá pelo sandbox", "provider": "sandbox"})
		require.Less(t, st, 300, string(raw))
	}
	for i := range sqlRows {
		_, err := insertOutbound(ctx, pool, tenantID, recipient(i, 7), "linha via SQL")
		require.NoError(t, err)
	}
	counts := waitAllTerminal(t, ctx, pool, tenantID, 20*time.Second)
	require.Zero(t, counts["pending"]+counts["sending"], "rows left open: %s %s", formatCounts(counts), openRows(t, pool, tenantID))
	rows, err := pool.Query(ctx, `SELECT message_id FROM public.messages WHERE tenant_id = $1 AND provider = 'meta_api' AND message_id IS NOT NULL`, tenantID)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		wamids = append(wamids, id)
	}
	require.NoError(t, rows.Err())
	require.GreaterOrEqual(t, len(wamids), metaSends, "every accepted Meta send got a wamid")

	// Meta webhooks: one signed status (accepted), one forged (rejected).
	status := map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "WABA1",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": opsMetaDisplay, "phone_number_id": opsMetaNumberID},
			"statuses": []any{map[string]any{"id": wamids[0], "status": "delivered",
				"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "recipient_id": "5511988000000"}},
		}}}}}}
	body, err := json.Marshal(status)
	require.NoError(t, err)
	sign := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	postHook := func(sig string) int {
		req, _ := http.NewRequest("POST", proc.BaseURL()+"/api/v1/webhooks/meta", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 200, postHook(sign(opsMetaAppSecret)))
	require.Equal(t, 401, postHook(sign("not-the-app-secret")))

	// /metrics against the rows.
	var sentRows, failedRows, metaRows, sandboxRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
  count(*) FILTER (WHERE status IN ('sent','delivered','read','played')),
  count(*) FILTER (WHERE status = 'failed'),
  count(*) FILTER (WHERE provider = 'meta_api'),
  count(*) FILTER (WHERE provider = 'sandbox')
  FROM public.messages WHERE tenant_id = $1 AND direction = 'outbound'`, tenantID).Scan(&sentRows, &failedRows, &metaRows, &sandboxRows))
	require.Equal(t, metaSends+apiSandbox+sqlRows, sentRows, "every row was accepted by its provider")
	m := scrape(t, proc.BaseURL())
	tl := `tenant="` + tenantID + `"`
	v, _ := metricSum(m, "zapbase_sends_total", tl, `result="sent"`)
	require.Equal(t, float64(sentRows), v, "sends by result match the rows")
	v, _ = metricSum(m, "zapbase_sends_total", tl, `provider="meta_api"`, `result="sent"`)
	require.Equal(t, float64(metaRows-1), v)
	require.Equal(t, 1, failedRows)
	v, _ = metricSum(m, "zapbase_sends_total", tl, `provider="meta_api"`, `result="failed"`)
	require.Equal(t, 1.0, v, "the refused Meta send")
	v, _ = metricSum(m, "zapbase_sends_total", tl, `provider="sandbox"`, `result="sent"`)
	require.Equal(t, float64(sandboxRows), v)
	v, _ = metricSum(m, "zapbase_send_latency_seconds_count")
	require.Equal(t, float64(sentRows), v, "one processing latency per accepted send")
	v, _ = metricSum(m, "zapbase_send_latency_seconds_sum")
	require.Positive(t, v)
	v, _ = metricSum(m, "zapbase_provider_routed_total")
	require.Equal(t, float64(sentRows+failedRows), v, "provider mix counts every routed row")
	v, _ = metricSum(m, "zapbase_provider_routed_total", `provider="meta_api"`)
	require.Equal(t, float64(metaRows), v)
	v, _ = metricSum(m, "zapbase_dispatch_wakeups_total")
	require.GreaterOrEqual(t, v, float64(sentRows), "every claimed row was claimed after some wake-up")
	v, _ = metricSum(m, "zapbase_dispatch_queue_depth")
	require.Zero(t, v, "nothing waits once every row is terminal")
	v, _ = metricSum(m, "zapbase_dispatch_in_flight")
	require.Zero(t, v)
	v, _ = metricSum(m, "zapbase_webhooks_received_total", `source="meta"`, `result="accepted"`)
	require.Equal(t, 1.0, v)
	v, _ = metricSum(m, "zapbase_webhooks_received_total", `source="meta"`, `result="rejected"`)
	require.Equal(t, 1.0, v)
	v, _ = metricSum(m, "zapbase_listener_state", `state="leader"`)
	require.Equal(t, 1.0, v, "this replica streams the slot")
	_, found := metricSum(m, "zapbase_listener_lag_bytes")
	require.True(t, found)
	v, _ = metricSum(m, "zapbase_sessions", tl, `provider="meta_api"`, `state="connected"`)
	require.Equal(t, 1.0, v)
	v, _ = metricSum(m, "zapbase_sessions", tl, `provider="sandbox"`, `state="connected"`)
	require.Equal(t, 1.0, v)
	v, _ = metricSum(m, "zapbase_replication_slot_active")
	require.Equal(t, 1.0, v)
	v, _ = metricSum(m, "zapbase_db_scrape_success")
	require.Equal(t, 1.0, v)

	// SIGTERM in the middle of a stream of inserts.
	var (
		wg      sync.WaitGroup
		stopIns = make(chan struct{})
		prodErr error
		mu      sync.Mutex
	)
	streamed := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stopIns:
				return
			default:
			}
			if _, err := insertOutbound(ctx, pool, tenantID, recipient(i, 40), "stream"); err != nil {
				mu.Lock()
				prodErr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			streamed++
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	// Stop once the stream is well under way (rows in every state).
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return streamed >= 100 || prodErr != nil
	}, 60*time.Second, 10*time.Millisecond, "inserts streaming")
	start := time.Now()
	require.NoError(t, proc.Stop(30*time.Second), "SIGTERM exits 0")
	took := time.Since(start)
	require.Less(t, took, 20*time.Second+5*time.Second, "shutdown stays within ZAPBASE_SHUTDOWN_TIMEOUT")
	close(stopIns)
	wg.Wait()
	require.NoError(t, prodErr)
	require.Contains(t, proc.Logs(), "zapbase stopped")
	var slotActive bool
	var confirmed string
	require.NoError(t, pool.QueryRow(ctx, `SELECT active, coalesce(confirmed_flush_lsn::text, '') FROM pg_replication_slots WHERE slot_name = 'zapbase'`).Scan(&slotActive, &confirmed))
	require.False(t, slotActive, "the listener released the slot")
	require.NotEmpty(t, confirmed, "the listener acknowledged a position")
	t.Logf("SIGTERM after %d streamed rows; exit took %s; slot confirmed at %s", streamed, took.Round(time.Millisecond), confirmed)

	env["ZAPBASE_INSTANCE_ID"] = "ops-e2e-2"
	proc2 := StartServe(t, dbURL, env)
	counts = waitAllTerminal(t, ctx, pool, tenantID, 90*time.Second)
	require.Zero(t, counts["pending"]+counts["sending"], "rows left open after restart: %s %s", formatCounts(counts), openRows(t, pool, tenantID))
	require.Equal(t, 1, counts["failed"], "only the refused Meta send failed: %s", formatCounts(counts))
	sends := readSends(t, sendLog)
	require.Zero(t, sends.Duplicates, "a graceful shutdown never sends a row twice")
	var sandboxTotal int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM public.messages WHERE tenant_id = $1 AND direction = 'outbound' AND provider = 'sandbox'`, tenantID).Scan(&sandboxTotal))
	require.Equal(t, sandboxTotal, sends.Rows, "every sandbox row reached the provider exactly once")
	require.NoError(t, proc2.Stop(30*time.Second))

	// Secret-leak scan over both processes' logs (debug level).
	logs := proc.Logs() + proc2.Logs()
	t.Logf("scanned %d log bytes (%d debug lines)", len(logs), strings.Count(logs, `"level":"DEBUG"`))
	for name, s := range map[string]string{
		"meta access token": opsMetaToken, "meta app secret": opsMetaAppSecret, "meta verify token": opsMetaVerify,
		"user JWT": userJWT, "JWT signature": userJWT[strings.LastIndexByte(userJWT, '.')+1:],
		"JWT secret": testJWTSecret, "admin token": testAdminToken, "encryption key": testEncryptionKey,
		"supabase webhook secret": testWebhookSecret, "tenant webhook secret": tenantHookSecret,
		"gemini key": opsGeminiKey, "openai key": opsOpenAIKey,
	} {
		require.NotContains(t, logs, s, "%s leaked into the logs", name)
	}
	for _, r := range graph.Requests() {
		require.Equal(t, "Bearer "+opsMetaToken, r.Auth, "the token reached the Graph API (so it was in play)")
	}

	// doctor against the dev database.
	cmd := exec.CommandContext(ctx, zapbaseBin, "doctor")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "DATABASE_URL=" + dbURL}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "doctor exits 0 on the dev database:\n%s", out)
	require.NotContains(t, string(out), testEncryptionKey)
	t.Logf("doctor:\n%s", tail(string(out), 1500))
}

// openRows describes the tenant's outbound rows that are not terminal.
func openRows(t *testing.T, pool *pgxpool.Pool, tenantID string) string {
	rows, err := pool.Query(t.Context(), `SELECT id::text || ' ' || provider || ' ' || status || ' ' || coalesce(error_code, '') || ' ' || coalesce(error_reason, '') ||
       ' attempts=' || attempts || ' by=' || coalesce(claimed_by, '-') || ' claim=' || coalesce((claim_expires_at - now())::text, '-') || ' next=' || coalesce((next_attempt_at - now())::text, '-') || ' created=' || (now() - created_at)::text
  FROM public.messages WHERE tenant_id = $1 AND direction = 'outbound' AND status IN ('pending', 'sending')`, tenantID)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}
