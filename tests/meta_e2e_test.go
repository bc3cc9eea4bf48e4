package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers/meta/metafake"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
	"github.com/zapbase/zapbase/tracing/tracingtest"
)

// Credentials of the Meta number in the fixtures (metadata.phone_number_id
// 109876543210987, display 5511988887777).
const (
	metaPhoneNumberID = "109876543210987"
	metaPhone         = "5511988887777"
	metaToken         = "EAAG-e2e-token"
	metaAppSecret     = "e2e-meta-app-secret"
	metaVerifyToken   = "e2e-verify-token"
	metaCustomer      = "5511999999999" // "from" of webhook_text.json
	fixtureInboundID  = "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFDNFQjBDNzFBMkY0RDhCNUU2QTdCAA=="
	fixtureStatusID   = "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEkYxRTJEM0M0QjVBNjk3ODg3RgA="
)

// TestMetaEndToEnd drives the Meta Cloud API provider through the real
// binary against the fake Graph API: session set-up through the API, the
// 24-hour window, a send that reaches the fake with Meta's body, signed
// status and inbound webhooks, and a forged signature.
func TestMetaEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := withTimeout(t, 3*time.Minute)
	graph := metafake.New(metafake.Number{PhoneNumberID: metaPhoneNumberID, Display: metaPhone, Token: metaToken})
	t.Cleanup(graph.Close)
	db := devdbtest.NewDatabase(t)
	col := tracingtest.NewHTTP(t)
	p := StartServe(t, db, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "100",
		"ZAPBASE_META_GRAPH_URL":      graph.URL,
		"ZAPBASE_WHATSAPP_WEB":        "false",
		"ZAPBASE_LISTENER":            "false",
		"ZAPBASE_SEND_WAIT":           "10s",
	})
	pool, err := pgxpool.New(ctx, db)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	base := p.BaseURL()

	// A tenant and a member, as an operator sets them up.
	adm := map[string]string{"Authorization": "Bearer " + testAdminToken}
	r := doJSON(t, "POST", base+"/api/v1/admin/tenants", adm, `{"clientId": "loja", "name": "Loja"}`)
	require.Equal(t, 201, r.status, string(r.body))
	user := uuid.NewString()
	_, err = pool.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, 'dono@loja.com.br')`, user)
	require.NoError(t, err)
	r = doJSON(t, "POST", base+"/api/v1/admin/tenants/loja/members", adm, `{"userId": "`+user+`", "role": "owner"}`)
	require.Equal(t, 201, r.status, string(r.body))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "role": "authenticated",
		"aud": "authenticated", "iss": testJWTIssuer, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testJWTSecret))
	require.NoError(t, err)
	h := map[string]string{"Authorization": "Bearer " + tok, "X-Client-Id": "loja"}

	// Initialize with the body documented in the README (Meta section): answered at once, verified
	// against the Graph API in the background.
	r = doJSON(t, "POST", base+"/api/v1/sessions/initialize", h, `{
  "phoneNumber": "`+metaPhone+`",
  "provider": "meta_api",
  "meta": {
    "phoneNumberId": "`+metaPhoneNumberID+`",
    "wabaId": "102938475610293",
    "accessToken": "`+metaToken+`",
    "appSecret": "`+metaAppSecret+`",
    "verifyToken": "`+metaVerifyToken+`"
  }
}`)
	require.Equal(t, 200, r.status, string(r.body))
	require.Contains(t, []string{"connecting", "connected"}, r.obj(t)["state"], string(r.body))
	require.NotContains(t, string(r.body), metaToken, "secrets never come back")
	sessionID := r.obj(t)["sessionId"].(string)
	waitRow(t, ctx, pool, `SELECT state FROM whatsapp_sessions WHERE id = $1`, "connected", sessionID)
	var stored string
	require.NoError(t, pool.QueryRow(ctx, `SELECT session_data::text FROM whatsapp_sessions WHERE id = $1`, sessionID).Scan(&stored))
	require.NotContains(t, stored, metaToken, "the access token is encrypted at rest")
	require.NotContains(t, stored, metaAppSecret, "the app secret is encrypted at rest")
	r = doJSON(t, "GET", base+"/api/v1/sessions/status?phoneNumber="+metaPhone, h, "")
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "connected", r.obj(t)["sessions"].([]any)[0].(map[string]any)["state"])

	// Meta's callback verification handshake.
	res, err := http.Get(base + "/api/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=" + metaVerifyToken + "&hub.challenge=1158201444")
	require.NoError(t, err)
	challenge, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "1158201444", string(challenge))

	// Outside the 24-hour window a free-form text is refused before Meta
	// is called.
	r = doJSON(t, "POST", base+"/api/v1/messages/text", h, `{"to": "`+metaCustomer+`", "content": "Oi?", "provider": "meta_api"}`)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "failed", r.obj(t)["status"], string(r.body))
	require.Equal(t, "template_required", r.obj(t)["errorCode"], string(r.body))
	require.NotEmpty(t, r.obj(t)["errorReason"])
	require.Empty(t, graph.Sends(), "nothing reached the Graph API")

	// A forged inbound webhook is refused and nothing is stored.
	hook := base + "/api/v1/webhooks/meta"
	res, err = metafake.PostWebhook(http.DefaultClient, hook, "not-the-app-secret", metafake.Fixture("webhook_text.json"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)
	req, _ := http.NewRequest("POST", hook, strings.NewReader(string(metafake.Fixture("webhook_text.json"))))
	res, err = http.DefaultClient.Do(req) // no signature at all
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)
	var inbox, inbound int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM wa.webhook_inbox`).Scan(&inbox))
	require.Zero(t, inbox)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE direction = 'inbound'`).Scan(&inbound))
	require.Zero(t, inbound)

	// The customer writes (signed webhook, stamped now): an inbound row,
	// and the window opens. A redelivery stores nothing new.
	inboundHook := []byte(strings.Replace(string(metafake.Fixture("webhook_text.json")), `"timestamp": "1789003200"`,
		`"timestamp": "`+strconv.FormatInt(time.Now().Unix(), 10)+`"`, 1))
	for range 2 {
		res, err = metafake.PostWebhook(http.DefaultClient, hook, metaAppSecret, inboundHook)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
	}
	waitRow(t, ctx, pool, `SELECT count(*)::text FROM messages WHERE session_id = $1 AND direction = 'inbound' AND message_id = '`+fixtureInboundID+`'`, "1", sessionID)
	var from, text string
	require.NoError(t, pool.QueryRow(ctx, `SELECT from_number, content->>'text' FROM messages WHERE message_id = $1`, fixtureInboundID).Scan(&from, &text))
	require.Equal(t, metaCustomer, from)
	require.Equal(t, "Oi! Vocês têm a camiseta azul no tamanho M?", text)
	// Traced: the inbound row's origin is the inbox processing span, a
	// child of the webhook request's span.
	var inTP string
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(traceparent, '') FROM messages WHERE message_id = $1`, fixtureInboundID).Scan(&inTP))
	_, inSpan := spanParts(t, inTP)
	spans := col.Wait(t, 30*time.Second, "the Meta webhook spans", func(s []tracingtest.Span) bool {
		sp := spanByID(s, inSpan)
		return sp != nil && spanByID(s, sp.ParentSpanID) != nil
	})
	process := spanByID(spans, inSpan)
	require.Equal(t, "zapbase.meta.webhook.process", process.Name)
	require.Equal(t, "POST /api/v1/webhooks/meta", spanByID(spans, process.ParentSpanID).Name)

	// Now the send goes out: the fake receives Meta's body and the row is sent.
	r = doJSON(t, "POST", base+"/api/v1/messages/text", h, `{"to": "`+metaCustomer+`", "content": "Temos sim! Posso separar?", "provider": "meta_api"}`)
	require.Equal(t, 200, r.status, string(r.body))
	sent := r.obj(t)
	require.Equal(t, "sent", sent["status"], string(r.body))
	require.Equal(t, "meta_api", sent["provider"])
	wamid, _ := sent["providerMessageId"].(string)
	require.True(t, strings.HasPrefix(wamid, "wamid."), string(r.body))
	sends := graph.Sends()
	require.Len(t, sends, 1)
	var body struct {
		MessagingProduct string `json:"messaging_product"`
		To               string `json:"to"`
		Type             string `json:"type"`
		Text             struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	require.NoError(t, json.Unmarshal(sends[0], &body))
	require.Equal(t, "whatsapp", body.MessagingProduct)
	require.Equal(t, metaCustomer, strings.TrimPrefix(body.To, "+"), "Meta takes the number with or without +")
	require.Equal(t, "text", body.Type)
	require.Equal(t, "Temos sim! Posso separar?", body.Text.Body)
	var auth string
	for _, rq := range graph.Requests() {
		if rq.Method == "POST" && strings.HasSuffix(rq.Path, "/"+metaPhoneNumberID+"/messages") {
			auth = rq.Auth
		}
	}
	require.Equal(t, "Bearer "+metaToken, auth)
	// The Graph API call is a client span of the send, without the token.
	var sendTP string
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(traceparent, '') FROM messages WHERE id = $1`, sent["messageId"]).Scan(&sendTP))
	sendTrace, _ := spanParts(t, sendTP)
	spans = col.Wait(t, 30*time.Second, "the Graph API client span", func(s []tracingtest.Span) bool {
		return len(tracingtest.Find(tracingtest.InTrace(s, sendTrace), "HTTP POST")) > 0
	})
	inSend := tracingtest.InTrace(spans, sendTrace)
	graphSpan := tracingtest.Find(inSend, "HTTP POST")[0]
	require.Equal(t, tracingtest.Find(inSend, "zapbase.provider.send")[0].SpanID, graphSpan.ParentSpanID)
	require.Equal(t, "200", graphSpan.Attrs["http.response.status_code"])
	require.True(t, strings.HasSuffix(graphSpan.Attrs["url.path"], "/"+metaPhoneNumberID+"/messages"), graphSpan.Attrs["url.path"])
	for _, sp := range col.Spans() {
		for k, v := range sp.Attrs {
			require.NotContains(t, v, metaToken, "span %s attribute %s", sp.Name, k)
		}
	}

	// Status webhooks for that wamid: read, then a late delivered that must
	// not move the row back.
	msgID := sent["messageId"].(string)
	for _, f := range []string{"webhook_status_read.json", "webhook_status_delivered.json"} {
		b := []byte(strings.ReplaceAll(string(metafake.Fixture(f)), fixtureStatusID, wamid))
		res, err = metafake.PostWebhook(http.DefaultClient, hook, metaAppSecret, b)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
	}
	waitRow(t, ctx, pool, `SELECT status FROM messages WHERE id = $1`, "read", msgID)
	r = doJSON(t, "GET", base+"/api/v1/messages/"+msgID+"/status", h, "")
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "read", r.obj(t)["status"])
	require.NotEmpty(t, r.obj(t)["readAt"])
	// The delivered receipt is processed after read (inbox order) and ignored.
	waitRow(t, ctx, pool, `SELECT (count(*) FILTER (WHERE processed_at IS NULL))::text FROM wa.webhook_inbox WHERE $1::text IS NOT NULL`, "0", msgID)
	var st string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM messages WHERE id = $1`, msgID).Scan(&st))
	require.Equal(t, "read", st)
}

// doJSON sends a request with a JSON body (when not empty).
func doJSON(t *testing.T, method, url string, h map[string]string, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

// waitRow polls query (one text column, one argument) until it answers
// want; the database is the only signal another process gives.
func waitRow(t *testing.T, ctx context.Context, pool *pgxpool.Pool, query, want string, arg any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for {
		err := pool.QueryRow(ctx, query, arg).Scan(&got)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %q, last %q (err %v)", query, want, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metaTenant sets up, through the real API, a tenant "loja" with a member
// and a Meta session for the fixtures' number, and waits until the session
// is verified (connected). It returns the member's headers.
func metaTenant(t *testing.T, ctx context.Context, base string, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	adm := map[string]string{"Authorization": "Bearer " + testAdminToken}
	r := doJSON(t, "POST", base+"/api/v1/admin/tenants", adm, `{"clientId": "loja", "name": "Loja"}`)
	require.Equal(t, 201, r.status, string(r.body))
	user := uuid.NewString()
	_, err := pool.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, 'dono@loja.com.br')`, user)
	require.NoError(t, err)
	r = doJSON(t, "POST", base+"/api/v1/admin/tenants/loja/members", adm, `{"userId": "`+user+`", "role": "owner"}`)
	require.Equal(t, 201, r.status, string(r.body))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "role": "authenticated",
		"aud": "authenticated", "iss": testJWTIssuer, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testJWTSecret))
	require.NoError(t, err)
	h := map[string]string{"Authorization": "Bearer " + tok, "X-Client-Id": "loja"}
	r = doJSON(t, "POST", base+"/api/v1/sessions/initialize", h, `{"phoneNumber": "`+metaPhone+`", "provider": "meta_api",
  "meta": {"phoneNumberId": "`+metaPhoneNumberID+`", "wabaId": "102938475610293", "accessToken": "`+metaToken+`",
           "appSecret": "`+metaAppSecret+`", "verifyToken": "`+metaVerifyToken+`"}}`)
	require.Equal(t, 200, r.status, string(r.body))
	waitRow(t, ctx, pool, `SELECT state FROM whatsapp_sessions WHERE id = $1`, "connected", r.obj(t)["sessionId"].(string))
	return h
}

// metaBatch builds a messages webhook of n text messages from n customers
// split over two changes, each text of textRunes characters (Portuguese,
// so non-ASCII), stamped now.
func metaBatch(n, textBytes int, idPrefix string) []byte {
	type msg map[string]any
	now := strconv.FormatInt(time.Now().Unix(), 10)
	text := string([]rune(strings.Repeat("Olá! Gostaria de saber se a promoção de verão ainda está válida para o pedido. ", textBytes/70+1))[:textBytes])
	changes := []any{}
	for half := range 2 {
		var contacts, messages []any
		for i := half * n / 2; i < (half+1)*n/2; i++ {
			from := fmt.Sprintf("55119%08d", i)
			contacts = append(contacts, map[string]any{"profile": map[string]any{"name": fmt.Sprintf("Cliente %d", i)}, "wa_id": from})
			messages = append(messages, msg{"from": from, "id": fmt.Sprintf("wamid.%s%06d", idPrefix, i), "timestamp": now,
				"type": "text", "text": map[string]any{"body": text}})
		}
		changes = append(changes, map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": metaPhone, "phone_number_id": metaPhoneNumberID},
			"contacts":          contacts, "messages": messages}})
	}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102938475610293", "changes": changes}}})
	return b
}

// TestMetaWebhookLargeBatchThroughTheHTTPServer posts a real-sized signed
// batch (1,000 messages, about 2.9 MB: Meta sends up to 3 MB) through the
// real binary's HTTP server, whose default body limit is 1 MiB: it is
// accepted, and every message is stored exactly once (also when Meta
// delivers the batch twice). Above the configured limit the answer is 413.
func TestMetaWebhookLargeBatchThroughTheHTTPServer(t *testing.T) {
	t.Parallel()
	ctx := withTimeout(t, 3*time.Minute)
	graph := metafake.New(metafake.Number{PhoneNumberID: metaPhoneNumberID, Display: metaPhone, Token: metaToken})
	t.Cleanup(graph.Close)
	db := devdbtest.NewDatabase(t)
	const limit = 3<<20 + 512<<10 // 3.5 MiB, configured
	p := StartServe(t, db, map[string]string{
		"ZAPBASE_META_GRAPH_URL":         graph.URL,
		"ZAPBASE_WHATSAPP_WEB":           "false",
		"ZAPBASE_LISTENER":               "false",
		"ZAPBASE_META_WEBHOOK_MAX_BYTES": strconv.Itoa(limit),
	})
	pool, err := pgxpool.New(ctx, db)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	base := p.BaseURL()
	metaTenant(t, ctx, base, pool)
	hook := base + "/api/v1/webhooks/meta"

	body := metaBatch(1000, 2800, "BIG")
	require.Greater(t, len(body), 2700<<10, "a real-sized batch")
	require.Less(t, len(body), limit)
	for range 2 { // Meta redelivers: stored once
		res, err := metafake.PostWebhook(http.DefaultClient, hook, metaAppSecret, body)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode, string(b))
	}
	waitRow(t, ctx, pool, `SELECT count(*)::text FROM messages WHERE direction = 'inbound' AND message_id LIKE $1`, "1000", "wamid.BIG%")
	var rows, distinct int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT message_id) FROM messages WHERE direction = 'inbound'`).Scan(&rows, &distinct))
	require.Equal(t, 1000, rows)
	require.Equal(t, 1000, distinct)
	var text string
	require.NoError(t, pool.QueryRow(ctx, `SELECT content->>'text' FROM messages WHERE message_id = 'wamid.BIG000999'`).Scan(&text))
	require.Equal(t, 2800, utf8.RuneCountInString(text))

	// Over the configured limit: 413, nothing stored, the rest of the API
	// keeps its own 1 MiB limit.
	huge := metaBatch(1000, 3700, "HUGE")
	require.Greater(t, len(huge), limit)
	res, err := metafake.PostWebhook(http.DefaultClient, hook, metaAppSecret, huge)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	var inbox int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM wa.webhook_inbox`).Scan(&inbox))
	require.Equal(t, 1, inbox, "the batch once, the oversized one not at all")
}
