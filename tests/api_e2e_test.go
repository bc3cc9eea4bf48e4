package tests

// File size: one end-to-end scenario of the public API through the real
// binary; its steps depend on each other.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
	"github.com/zapbase/zapbase/supabase/supabasetest"
)

const (
	e2eHS256 = "e2e-secret-with-at-least-32-characters-long"
	e2eAdmin = "e2e-admin-token-0123456789abcdef"
	e2eHook  = "e2e-supabase-webhook-secret"
)

type instance struct {
	t    *testing.T
	base string
	db   string
	jwks *supabasetest.JWKS
	iss  string
	k1   *ecdsa.PrivateKey
	// sendLog records every sandbox send of the process.
	sendLog string
}

// start runs `zapbase serve` (shared harness) with JWKS at SUPABASE_URL
// and, when hs256, the legacy secret too.
func start(t *testing.T, hs256 bool) *instance {
	t.Helper()
	in := &instance{t: t, db: devdbtest.NewDatabase(t), jwks: supabasetest.NewJWKS(t)}
	in.iss = in.jwks.URL + "/auth/v1"
	in.k1 = in.jwks.AddKey("k1") // published before start; later keys are a rotation
	in.sendLog = filepath.Join(t.TempDir(), "sends.jsonl")
	env := map[string]string{
		"SUPABASE_URL":                    in.jwks.URL,
		"SUPABASE_JWT_ISSUER":             in.iss,
		"ZAPBASE_ADMIN_TOKEN":             e2eAdmin,
		"ZAPBASE_SUPABASE_WEBHOOK_SECRET": e2eHook,
		"ZAPBASE_MEDIA_DIR":               t.TempDir(),
		"ZAPBASE_LISTENER":                "false",
		"ZAPBASE_SEND_WAIT":               "10s",
		"ZAPBASE_SANDBOX_SEND_LOG":        in.sendLog,
		"SUPABASE_JWT_SECRET":             "",
	}
	if hs256 {
		env["SUPABASE_JWT_SECRET"] = e2eHS256
	}
	p := StartServe(t, in.db, env)
	in.base = p.BaseURL()
	return in
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (r reply) problem(t *testing.T, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	m := r.obj(t)
	require.Equal(t, code, m["code"], string(r.body))
	require.NotEmpty(t, m["message"])
}

func (in *instance) call(method, path string, h map[string]string, body any) reply {
	in.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	require.NoError(in.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

func (in *instance) sql(q string, args ...any) pgx.Row {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.db)
	require.NoError(in.t, err)
	in.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn.QueryRow(ctx, q, args...)
}

func (in *instance) claims(sub string, mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": sub, "role": "authenticated", "aud": "authenticated", "iss": in.iss,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	return c
}

// waitStatus waits (on the row: polling the API would spend the tenant's
// rate limit) until the message reaches want or a terminal state past it,
// then answers GET /messages/{id}/status.
func (in *instance) waitStatus(tok, id, want string) map[string]any {
	in.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.db)
	require.NoError(in.t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st string
		require.NoError(in.t, conn.QueryRow(ctx, `SELECT status FROM messages WHERE id = $1`, id).Scan(&st))
		if st == want || st == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := in.call("GET", "/api/v1/messages/"+id+"/status", bearer(tok, "acme"), nil)
	require.Equal(in.t, 200, r.status, string(r.body))
	return r.obj(in.t)
}

// requireBaileysUnreachable checks what initialize answers when WhatsApp's
// servers cannot be reached: 503 provider_unreachable with Retry-After, and
// the session row in pairing_failed with a reason for the frontend.
func (in *instance) requireBaileysUnreachable(r reply, phone string) {
	in.t.Helper()
	r.problem(in.t, 503, "provider_unreachable")
	require.NotEmpty(in.t, r.header.Get("Retry-After"))
	var state, reason string
	require.NoError(in.t, in.sql(`SELECT state, coalesce(state_reason, '') FROM whatsapp_sessions WHERE phone_number = $1`, phone).Scan(&state, &reason))
	require.Equal(in.t, "pairing_failed", state)
	require.NotEmpty(in.t, reason)
}

// pngEncode writes a small real PNG.
func pngEncode(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	return png.Encode(w, img)
}

func hs(c jwt.MapClaims) string {
	s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(e2eHS256))
	return s
}

func es(k *ecdsa.PrivateKey, kid string, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = kid
	s, _ := tok.SignedString(k)
	return s
}

func bearer(tok, client string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + tok}
	if client != "" {
		h["X-Client-Id"] = client
	}
	return h
}

// TestAPIEndToEnd walks every endpoint of the real binary: admin set-up,
// auth (HS256 and JWKS with rotation), tenant settings, sessions, sends,
// webhooks, limits and the problem shape.
func TestAPIEndToEnd(t *testing.T) {
	t.Parallel()
	in := start(t, true)
	adm := map[string]string{"Authorization": "Bearer " + e2eAdmin}

	require.Equal(t, 200, in.call("GET", "/healthz", nil, nil).status)
	require.Equal(t, 200, in.call("GET", "/readyz", nil, nil).status)

	// Administration: tenants, members, API keys, webhook secret.
	r := in.call("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "acme", "name": "ACME", "rateLimitPerMinute": 150})
	require.Equal(t, 201, r.status, string(r.body))
	r = in.call("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "globex", "name": "Globex"})
	require.Equal(t, 201, r.status, string(r.body))
	in.call("POST", "/api/v1/admin/tenants", nil, map[string]any{"clientId": "x1", "name": "X"}).problem(t, 401, "unauthorized")
	in.call("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "No Way", "name": "X"}).problem(t, 422, "invalid_input")

	owner, outsider := uuid.NewString(), uuid.NewString()
	var tid string
	require.NoError(t, in.sql(`WITH u AS (INSERT INTO auth.users (id, email) VALUES ($1, 'o@acme.com'), ($2, 'x@globex.com'))
SELECT id FROM tenants WHERE client_id = 'acme'`, owner, outsider).Scan(&tid))
	require.Equal(t, 201, in.call("POST", "/api/v1/admin/tenants/acme/members", adm, map[string]any{"userId": owner, "role": "owner"}).status)
	require.Equal(t, 201, in.call("POST", "/api/v1/admin/tenants/globex/members", adm, map[string]any{"userId": outsider}).status)
	in.call("POST", "/api/v1/admin/tenants/acme/members", adm, map[string]any{"userId": "nope"}).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/admin/tenants/ghost/members", adm, map[string]any{"userId": owner}).problem(t, 404, "tenant_not_found")

	r = in.call("POST", "/api/v1/admin/tenants/acme/api-keys", adm, map[string]any{"name": "crm"})
	require.Equal(t, 201, r.status, string(r.body))
	apiKey, keyID := r.obj(t)["key"].(string), r.obj(t)["id"].(string)
	r = in.call("PUT", "/api/v1/admin/tenants/acme/webhook-secret", adm, nil)
	require.Equal(t, 200, r.status, string(r.body))
	hookSecret := []byte(r.obj(t)["secret"].(string))

	// Auth failures.
	path := "/api/v1/tenant/settings"
	good := hs(in.claims(owner, nil))
	in.call("GET", path, nil, nil).problem(t, 401, "unauthorized")
	in.call("GET", path, bearer(hs(in.claims(owner, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), "acme"), nil).problem(t, 401, "unauthorized")
	in.call("GET", path, bearer(hs(in.claims(owner, func(c jwt.MapClaims) { c["iss"] = "https://other.supabase.co/auth/v1" })), "acme"), nil).problem(t, 401, "unauthorized")
	in.call("GET", path, bearer(hs(in.claims(owner, func(c jwt.MapClaims) { c["aud"] = "anon" })), "acme"), nil).problem(t, 401, "unauthorized")
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, in.claims(owner, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	in.call("GET", path, bearer(none, "acme"), nil).problem(t, 401, "unauthorized")
	in.call("GET", path, bearer(good, ""), nil).problem(t, 400, "missing_client_id")
	in.call("GET", path, bearer(good, "ghost"), nil).problem(t, 401, "unknown_tenant")
	in.call("GET", path, bearer(good, "globex"), nil).problem(t, 403, "forbidden")
	in.call("GET", path, bearer(hs(in.claims(outsider, nil)), "acme"), nil).problem(t, 403, "forbidden")

	// JWKS (ES256) and key rotation: the new kid is fetched on first sight.
	r = in.call("GET", path, bearer(es(in.k1, "k1", in.claims(owner, nil)), "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	k2 := in.jwks.AddKey("k2")
	r = in.call("GET", path, bearer(es(k2, "k2", in.claims(owner, nil)), "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	forged, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	in.call("GET", path, bearer(es(forged, "k1", in.claims(owner, nil)), "acme"), nil).problem(t, 401, "unauthorized")

	// Tenant settings and provider switch.
	r = in.call("PUT", path, bearer(good, "acme"), map[string]any{"name": "ACME SA", "defaultProvider": "auto",
		"fallbackProvider": "sandbox", "rateLimitPerMinute": 150, "ai": map[string]any{"enabled": true, "handoffKeywords": []string{"humano"}}})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "ACME SA", r.obj(t)["name"])
	in.call("PUT", path, bearer(good, "acme"), map[string]any{"name": "x", "defaultProvider": "pigeon", "rateLimitPerMinute": 40, "ai": map[string]any{}}).problem(t, 422, "invalid_input")
	r = in.call("POST", "/api/v1/tenant/provider-switch", map[string]string{"X-API-Key": apiKey}, map[string]any{"provider": "auto"})
	require.Equal(t, 200, r.status, string(r.body))
	r = in.call("POST", "/api/v1/tenant/provider-switch", bearer(good, "acme"), map[string]any{"provider": "meta_api"})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "meta_api", r.obj(t)["settings"].(map[string]any)["defaultProvider"])
	r = in.call("POST", "/api/v1/tenant/provider-switch", bearer(good, "acme"), map[string]any{"provider": "sandbox"})
	require.Equal(t, 200, r.status, string(r.body))

	// Sessions on the wired sandbox: initialize connects at once.
	in.call("GET", "/api/v1/sessions/status?phoneNumber=5511900000000", bearer(good, "acme"), nil).problem(t, 404, "session_not_found")
	r = in.call("POST", "/api/v1/sessions/initialize", bearer(good, "acme"), map[string]any{"phoneNumber": "5511900000000", "provider": "sandbox"})
	require.Equal(t, 200, r.status, string(r.body))
	sess := r.obj(t)
	require.Equal(t, "connected", sess["state"], string(r.body))
	require.Equal(t, "sandbox", sess["provider"])
	sessionID := sess["sessionId"].(string)
	r = in.call("GET", "/api/v1/sessions/status?phoneNumber=5511900000000", bearer(good, "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "connected", r.obj(t)["sessions"].([]any)[0].(map[string]any)["state"])
	in.call("POST", "/api/v1/sessions/initialize", bearer(good, "acme"), map[string]any{"phoneNumber": "5511900000000", "provider": "meta_api"}).problem(t, 409, "session_provider_mismatch")

	// The spec's scenario: send a text and get status sent.
	r = in.call("POST", "/api/v1/messages/text", bearer(good, "acme"), `{"to": "5511988887777", "content": "Olá do zapbase!", "provider": "auto"}`)
	require.Equal(t, 200, r.status, string(r.body))
	sent := r.obj(t)
	require.Equal(t, "sent", sent["status"], string(r.body))
	require.Equal(t, "sandbox", sent["provider"], string(r.body))
	require.NotEmpty(t, sent["providerMessageId"])
	_, err := uuid.Parse(sent["messageId"].(string))
	require.NoError(t, err)
	_, err = time.Parse(time.RFC3339Nano, sent["timestamp"].(string))
	require.NoError(t, err)
	textID := sent["messageId"].(string)
	// The status follows the receipts to read.
	require.Equal(t, "read", in.waitStatus(good, textID, "read")["status"])
	// By provider id too.
	r = in.call("GET", "/api/v1/messages/"+sent["providerMessageId"].(string)+"/status", bearer(good, "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, textID, r.obj(t)["messageId"])

	// Idempotency-Key: the replay answers the first response and the
	// provider sees one send.
	idem := bearer(good, "acme")
	idem["Idempotency-Key"] = "pedido-123"
	body := `{"to": "5511977776666", "content": "Pedido 123 confirmado", "from": "5511900000000"}`
	r1 := in.call("POST", "/api/v1/messages/text", idem, body)
	require.Equal(t, 200, r1.status, string(r1.body))
	require.Equal(t, "sent", r1.obj(t)["status"])
	r2 := in.call("POST", "/api/v1/messages/text", idem, body)
	require.Equal(t, 200, r2.status, string(r2.body))
	require.Equal(t, "true", r2.header.Get("Idempotent-Replayed"))
	require.Equal(t, r1.obj(t)["messageId"], r2.obj(t)["messageId"])
	in.call("POST", "/api/v1/messages/text", idem, `{"to": "5511977776666", "content": "outro corpo"}`).problem(t, 422, "idempotency_key_reused")
	var idemRows int
	require.NoError(t, in.sql(`SELECT count(*) FROM messages WHERE tenant_id = $1 AND to_number = '5511977776666'`, tid).Scan(&idemRows))
	require.Equal(t, 1, idemRows)

	// Media: multipart upload and base64 JSON.
	var png bytes.Buffer
	require.NoError(t, pngEncode(&png))
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	require.NoError(t, mw.WriteField("to", "5511988887777"))
	require.NoError(t, mw.WriteField("type", "image"))
	require.NoError(t, mw.WriteField("caption", "Nossa vitrine"))
	fw, err := mw.CreateFormFile("file", "vitrine.png")
	require.NoError(t, err)
	_, _ = fw.Write(png.Bytes())
	require.NoError(t, mw.Close())
	mh := bearer(good, "acme")
	mh["Content-Type"] = mw.FormDataContentType()
	r = in.call("POST", "/api/v1/messages/media", mh, form.Bytes())
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "sent", r.obj(t)["status"], string(r.body))
	imageID := r.obj(t)["messageId"].(string)
	r = in.call("POST", "/api/v1/messages/media", bearer(good, "acme"), map[string]any{"to": "5511988887777", "type": "document",
		"mediaBase64": base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")), "filename": "catalogo.pdf"})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "sent", r.obj(t)["status"], string(r.body))
	var mediaPath, mimeType string
	require.NoError(t, in.sql(`SELECT content->>'mediaPath', content->>'mimeType' FROM messages WHERE id = $1`, imageID).Scan(&mediaPath, &mimeType))
	require.NotEmpty(t, mediaPath)
	require.Equal(t, "image/png", mimeType)

	// Bulk: one transaction, every row reaches a terminal state.
	r = in.call("POST", "/api/v1/messages/send-bulk", bearer(good, "acme"), map[string]any{"messages": []map[string]any{
		{"to": "5511911110001", "type": "text", "content": map[string]any{"text": "Promoção 1"}},
		{"to": "5511911110002", "type": "text", "content": map[string]any{"text": "Promoção 2"}, "provider": "sandbox"},
		{"to": "5511911110003", "type": "location", "content": map[string]any{"latitude": -23.5614, "longitude": -46.6559, "name": "MASP"}},
	}})
	require.Equal(t, 202, r.status, string(r.body))
	bulk := r.obj(t)
	require.EqualValues(t, 3, bulk["count"])
	for _, m := range bulk["messages"].([]any) {
		require.Equal(t, "read", in.waitStatus(good, m.(map[string]any)["messageId"].(string), "read")["status"])
	}

	// Every send above reached the provider exactly once.
	sends := readSends(t, in.sendLog)
	require.Equal(t, 7, sends.Rows, "rows sent")
	require.Zero(t, sends.Duplicates)
	require.Len(t, sends.PerRow[r1.obj(t)["messageId"].(string)], 1)

	// Validation still comes first.
	in.call("POST", "/api/v1/messages/text", bearer(good, "acme"), `{"to": "x", "content": ""}`).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/messages/send-bulk", bearer(good, "acme"), `{"messages": []}`).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/messages/media", bearer(good, "acme"), `{"to": "5511988887777", "type": "image"}`).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/messages/audio", bearer(good, "acme"), `{"to": "5511988887777", "mediaBase64": "%%%"}`).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/messages/location", bearer(good, "acme"), `{"to": "5511988887777", "latitude": 0}`).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/messages/send", bearer(good, "acme"), `{"to": "5511988887777", "type": "text"}`).problem(t, 422, "invalid_input")
	in.call("POST", "/api/v1/messages/text", bearer(good, "acme"), `{"to": "5511988887777", "content": "oi", "from": "5511900000099"}`).problem(t, 422, "session_not_found")
	in.call("GET", "/api/v1/messages/"+uuid.NewString()+"/status", bearer(good, "acme"), nil).problem(t, 404, "message_not_found")

	// WhatsApp Web (baileys) cannot reach WhatsApp from here: initialize
	// answers a clear problem or state, never a 500 or a hang.
	r = in.call("POST", "/api/v1/sessions/initialize", bearer(good, "acme"), map[string]any{"phoneNumber": "5511900000002", "provider": "baileys"})
	in.requireBaileysUnreachable(r, "5511900000002")

	// An outbound row as the frontend would have it, for the webhooks below.
	var msgID string
	require.NoError(t, in.sql(`INSERT INTO messages (tenant_id, session_id, to_number, content, provider, status, message_id)
VALUES ($1, $2, '5511988887777', '{"text":"oi"}', 'sandbox', 'sent', 'sbx-1') RETURNING id`, tid, sessionID).Scan(&msgID))
	r = in.call("GET", "/api/v1/messages/"+msgID+"/status", map[string]string{"X-API-Key": apiKey}, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "sent", r.obj(t)["status"])

	// Disconnect: the session is persisted disconnected.
	r = in.call("DELETE", "/api/v1/sessions/disconnect?phoneNumber=5511900000000", bearer(good, "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "disconnected", r.obj(t)["state"])
	var sessState string
	require.NoError(t, in.sql(`SELECT state FROM whatsapp_sessions WHERE id = $1`, sessionID).Scan(&sessState))
	require.Equal(t, "disconnected", sessState)

	// Signed generic webhooks.
	signed := func(p string, body []byte, ts int64, sig string) reply {
		return in.call("POST", p, map[string]string{"X-Client-Id": "acme", "X-Zapbase-Timestamp": strconv.FormatInt(ts, 10), "X-Zapbase-Signature": sig}, body)
	}
	now := time.Now().Unix()
	inbound := []byte(`{"session": "5511900000000", "messageId": "gw-1", "from": "5511988887777", "type": "text", "content": {"text": "quero comprar"}}`)
	r = signed("/api/v1/webhooks/incoming-message", inbound, now, api.SignWebhook(hookSecret, now, inbound))
	require.Equal(t, 200, r.status, string(r.body))
	status := []byte(`{"session": "5511900000000", "messageIds": ["sbx-1"], "status": "delivered"}`)
	r = signed("/api/v1/webhooks/status-update", status, now, api.SignWebhook(hookSecret, now, status))
	require.Equal(t, 200, r.status, string(r.body))
	var st string
	require.NoError(t, in.sql(`SELECT status FROM messages WHERE id = $1`, msgID).Scan(&st))
	require.Equal(t, "delivered", st)
	var inboundCount int
	require.NoError(t, in.sql(`SELECT count(*) FROM messages WHERE tenant_id = $1 AND direction = 'inbound' AND message_id = 'gw-1'`, tid).Scan(&inboundCount))
	require.Equal(t, 1, inboundCount)
	signed("/api/v1/webhooks/incoming-message", inbound, now-3600, api.SignWebhook(hookSecret, now-3600, inbound)).problem(t, 401, "invalid_signature")
	signed("/api/v1/webhooks/incoming-message", inbound, now, "sha256=deadbeef").problem(t, 401, "invalid_signature")

	// Supabase Database Webhook.
	hook := map[string]any{"type": "INSERT", "table": "messages", "schema": "public", "record": map[string]any{"id": uuid.NewString(), "status": "pending"}, "old_record": nil}
	in.call("POST", "/api/v1/webhooks/supabase", nil, hook).problem(t, 401, "invalid_signature")
	r = in.call("POST", "/api/v1/webhooks/supabase", map[string]string{"X-Zapbase-Webhook-Secret": e2eHook}, hook)
	require.Equal(t, 200, r.status, string(r.body))

	// Revoked API key stops working.
	require.Equal(t, 204, in.call("DELETE", "/api/v1/admin/tenants/acme/api-keys/"+keyID, adm, nil).status)
	in.call("GET", path, map[string]string{"X-API-Key": apiKey}, nil).problem(t, 401, "unauthorized")
	require.Equal(t, 204, in.call("DELETE", "/api/v1/admin/tenants/globex/members/"+outsider, adm, nil).status)

	// 404 / 405 are problems too.
	in.call("GET", "/api/v1/nope", nil, nil).problem(t, 404, "not_found")
	in.call("PUT", "/api/v1/messages/text", nil, nil).problem(t, 405, "method_not_allowed")

	// Audit trail of mutations, without secrets.
	var audits int
	require.NoError(t, in.sql(`SELECT count(*) FROM wa.audit_log WHERE tenant_id = $1`, tid).Scan(&audits))
	require.GreaterOrEqual(t, audits, 6)
	var leaks int
	require.NoError(t, in.sql(`SELECT count(*) FROM wa.audit_log WHERE details::text LIKE '%' || $1 || '%' OR details::text LIKE '%' || $2 || '%'`, apiKey, string(hookSecret)).Scan(&leaks))
	require.Zero(t, leaks)

	// Rate limit: acme allows 150/min; the calls above spent part of it.
	limited := false
	for range 155 {
		r = in.call("GET", path, bearer(good, "acme"), nil)
		if r.status == 429 {
			limited = true
			r.problem(t, 429, "rate_limited")
			require.NotEmpty(t, r.header.Get("Retry-After"))
			break
		}
		require.Equal(t, 200, r.status, string(r.body))
	}
	require.True(t, limited, "no 429 after the tenant's limit")
}

func TestAPIRefusesHS256WhenOnlyJWKS(t *testing.T) {
	t.Parallel()
	in := start(t, false)
	adm := map[string]string{"Authorization": "Bearer " + e2eAdmin}
	require.Equal(t, 201, in.call("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "acme", "name": "ACME"}).status)
	user := uuid.NewString()
	var n int
	require.NoError(t, in.sql(`WITH u AS (INSERT INTO auth.users (id, email) VALUES ($1, 'a@b.c')) SELECT 1`, user).Scan(&n))
	require.Equal(t, 201, in.call("POST", "/api/v1/admin/tenants/acme/members", adm, map[string]any{"userId": user}).status)
	in.call("GET", "/api/v1/tenant/settings", bearer(hs(in.claims(user, nil)), "acme"), nil).problem(t, 401, "unauthorized")
	r := in.call("GET", "/api/v1/tenant/settings", bearer(es(in.k1, "k1", in.claims(user, nil)), "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
}

// TestOpenAPIAndDocs validates /openapi.json structurally as OpenAPI 3.1
// and renders /docs (the embedded Scalar bundle) in headless Chromium.
func TestOpenAPIAndDocs(t *testing.T) {
	t.Parallel()
	in := start(t, true)
	r := in.call("GET", "/openapi.json", nil, nil)
	require.Equal(t, 200, r.status)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title, Version string
		} `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	require.Regexp(t, `^3\.1\.\d+$`, doc.OpenAPI)
	require.NotEmpty(t, doc.Info.Title)
	require.NotEmpty(t, doc.Info.Version)
	require.Contains(t, doc.Components.SecuritySchemes, "supabaseJWT")
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}
	ids := map[string]bool{}
	for p, ops := range doc.Paths {
		require.True(t, strings.HasPrefix(p, "/"), p)
		for m, raw := range ops {
			require.True(t, methods[m], "%s %s", m, p)
			var op struct {
				OperationID string                     `json:"operationId"`
				Summary     string                     `json:"summary"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			require.NotEmpty(t, op.OperationID, "%s %s", m, p)
			require.False(t, ids[op.OperationID], "duplicate operationId %s", op.OperationID)
			ids[op.OperationID] = true
			require.NotEmpty(t, op.Summary, "%s %s", m, p)
			require.NotEmpty(t, op.Responses, "%s %s", m, p)
		}
	}
	// Every $ref resolves to a component schema.
	for _, ref := range refs(r.body) {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		require.Contains(t, doc.Components.Schemas, name, ref)
	}
	require.Contains(t, doc.Paths, "/api/v1/messages/text")

	chromium, err := exec.LookPath("chromium")
	require.NoError(t, err, "install Debian's chromium (apt-get install -y chromium) to run the /docs check")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", in.base+"/docs").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "/api/v1/messages/text", "Scalar did not render the operation list")
}

func refs(b []byte) []string {
	var out []string
	s := string(b)
	for {
		i := strings.Index(s, `"$ref":"`)
		if i < 0 {
			return out
		}
		s = s[i+8:]
		j := strings.IndexByte(s, '"')
		out = append(out, s[:j])
		s = s[j:]
	}
}
