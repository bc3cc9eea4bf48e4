package api_test

// File size: the HTTP API's shared behaviours (auth, problems, limits,
// idempotency) tested against one server fixture; split by feature when a
// feature grows its own file.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/api"
)

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func TestSendTextSpecExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tid, uid := e.tenant("acme", "member")
	tok := hsToken(claims(uid, nil))

	// The original spec's example, byte for byte (provider auto).
	r := e.do("POST", "/api/v1/messages/text", auth(tok, "acme"),
		`{"to": "5511988887777", "content": "Olá do zapbase!", "provider": "auto"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m := r.json(t)
	require.Equal(t, "sent", m["status"])
	require.Equal(t, "sandbox", m["provider"]) // resolved by dispatch when it claimed the row
	require.NotEmpty(t, m["timestamp"])
	id := m["messageId"].(string)
	require.Equal(t, "prov-"+id, m["providerMessageId"])
	require.NotEmpty(t, r.header.Get("X-Request-Id"))

	var content []byte
	var to, typ string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT to_number, message_type, content::text FROM messages WHERE id = $1 AND tenant_id = $2`, id, tid).Scan(&to, &typ, &content))
	require.Equal(t, "5511988887777", to)
	require.Equal(t, "text", typ)
	require.JSONEq(t, `{"text": "Olá do zapbase!"}`, string(content))

	// Audited, with actor and request id, without content.
	var actor, reqID, action string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT actor, request_id, action FROM wa.audit_log WHERE tenant_id = $1 AND target = $2`, tid, id).Scan(&actor, &reqID, &action))
	require.Equal(t, "user:"+uid, actor)
	require.Equal(t, r.header.Get("X-Request-Id"), reqID)
	require.Equal(t, "message.send", action)

	// Status endpoint by zapbase id and by provider id.
	s := e.do("GET", "/api/v1/messages/"+id+"/status", auth(tok, "acme"), nil)
	require.Equal(t, http.StatusOK, s.status, string(s.body))
	require.Equal(t, "sent", s.json(t)["status"])
	s = e.do("GET", "/api/v1/messages/prov-"+id+"/status", auth(tok, "acme"), nil)
	require.Equal(t, id, s.json(t)["messageId"])
	e.do("GET", "/api/v1/messages/"+uuid.NewString()+"/status", auth(tok, "acme"), nil).problem(t, 404, "message_not_found")

	// The access log line carries tenant_id.
	require.Contains(t, e.logBuf.String(), `"tenant_id":"`+tid+`"`)
}

func TestSendWithoutWaitIsPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, uid := e.tenant("acme", "member")
	r := e.do("POST", "/api/v1/messages/text?wait=false", auth(hsToken(claims(uid, nil)), "acme"),
		map[string]any{"to": "+5511988887777", "content": "oi"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, "pending", r.json(t)["status"])
	require.Equal(t, "5511988887777", r.json(t)["to"])
}

func TestSendRefusesImpossibleRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tid, uid := e.tenant("acme", "member")
	h := auth(hsToken(claims(uid, nil)), "acme")
	for _, to := range []string{"00000000000", "+5500988887777", "5511888887777", "99912345678", "00000000000@s.whatsapp.net"} {
		p := e.do("POST", "/api/v1/messages/text?wait=false", h, map[string]any{"to": to, "content": "oi"}).problem(t, 422, "invalid_recipient")
		require.Contains(t, p["message"], "campo to", to)
		require.Contains(t, fmt.Sprint(p["errors"]), "body.to", to)
	}
	bulk := []map[string]any{{"to": "5511988887777", "type": "text", "content": map[string]any{"text": "oi"}},
		{"to": "00000000000", "type": "text", "content": map[string]any{"text": "oi"}}}
	p := e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"messages": bulk}).problem(t, 422, "invalid_recipient")
	require.Contains(t, fmt.Sprint(p["errors"]), "body.messages[1].to")
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE tenant_id = $1`, tid).Scan(&n))
	require.Zero(t, n, "nothing is written")
}

func TestSendPollsWhenNoWaiterAndAnswersPendingAtDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noWaiter: true, sendWait: 50 * time.Millisecond})
	_, uid := e.tenant("acme", "member")
	r := e.do("POST", "/api/v1/messages/text", auth(hsToken(claims(uid, nil)), "acme"), map[string]any{"to": "5511988887777", "content": "oi"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, "pending", r.json(t)["status"])
}

func TestIdempotencyKeyReplays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tid, uid := e.tenant("acme", "member")
	h := auth(hsToken(claims(uid, nil)), "acme")
	h["Idempotency-Key"] = "order-42"
	body := map[string]any{"to": "5511988887777", "content": "pedido 42"}
	first := e.do("POST", "/api/v1/messages/text", h, body)
	require.Equal(t, http.StatusOK, first.status, string(first.body))
	second := e.do("POST", "/api/v1/messages/text", h, body)
	require.Equal(t, http.StatusOK, second.status, string(second.body))
	require.Equal(t, "true", second.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.json(t)["messageId"], second.json(t)["messageId"])
	require.Equal(t, "sent", second.json(t)["status"])
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE tenant_id = $1`, tid).Scan(&n))
	require.Equal(t, 1, n)

	// Same key, other body: refused.
	e.do("POST", "/api/v1/messages/text", h, map[string]any{"to": "5511988887777", "content": "outro"}).problem(t, 422, "idempotency_key_reused")
}

func TestSendBulkOneTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tid, uid := e.tenant("acme", "member")
	h := auth(hsToken(claims(uid, nil)), "acme")
	msgs := []map[string]any{}
	for i := range 5 {
		msgs = append(msgs, map[string]any{"to": fmt.Sprintf("551198888000%d", i), "type": "text", "content": map[string]any{"text": "oi " + strconv.Itoa(i)}})
	}
	r := e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"messages": msgs})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	var out api.BulkResponse
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Equal(t, 5, out.Count)
	for i, m := range out.Messages {
		require.Equal(t, fmt.Sprintf("551198888000%d", i), m.To)
		require.Equal(t, "pending", m.Status)
	}

	// One invalid message: nothing is written.
	msgs = append(msgs, map[string]any{"to": "5511988887777", "type": "location", "content": map[string]any{"latitude": 100.0, "longitude": 0.0}})
	bad := e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"messages": msgs})
	p := bad.problem(t, 422, "invalid_input")
	require.Contains(t, fmt.Sprint(p["errors"]), "body.messages[5].content.latitude")
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE tenant_id = $1`, tid).Scan(&n))
	require.Equal(t, 5, n)

	// Over the limit.
	many := make([]map[string]any, api.MaxBulkMessages+1)
	for i := range many {
		many[i] = msgs[0]
	}
	e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"messages": many}).problem(t, 422, "invalid_input")
}

func TestSendOtherTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, uid := e.tenant("acme", "member")
	h := auth(hsToken(claims(uid, nil)), "acme")

	r := e.do("POST", "/api/v1/messages/location", h, map[string]any{"to": "5511988887777", "latitude": -23.56, "longitude": -46.65, "name": "MASP"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	r = e.do("POST", "/api/v1/messages/send", h, map[string]any{"to": "5511988887777", "type": "image",
		"content": map[string]any{"mediaUrl": "https://example.com/a.jpg", "caption": "foto"}, "from": "5511900000000"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "sandbox", r.json(t)["provider"]) // resolved from the session

	r = e.do("POST", "/api/v1/messages/media", h, map[string]any{"to": "5511988887777", "type": "image", "mediaUrl": "https://example.com/a.jpg"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	png := pngBytes()
	r = e.do("POST", "/api/v1/messages/media", h, map[string]any{"to": "5511988887777", "type": "image", "mediaBase64": base64.StdEncoding.EncodeToString(png)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var content map[string]any
	var raw []byte
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT content FROM messages WHERE id = $1`, r.json(t)["messageId"]).Scan(&raw))
	require.NoError(t, json.Unmarshal(raw, &content))
	require.Equal(t, "image/png", content["mimeType"])
	require.True(t, strings.HasPrefix(content["mediaPath"].(string), "acme/"), content["mediaPath"])

	// Multipart upload of a voice note.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("to", "5511988887777")
	_ = mw.WriteField("voice", "true")
	fw, _ := mw.CreateFormFile("file", "nota.ogg")
	_, _ = fw.Write(append([]byte("OggS"), make([]byte, 200)...))
	_ = mw.Close()
	r = e.do("POST", "/api/v1/messages/audio", mergeH(h, map[string]string{"Content-Type": mw.FormDataContentType()}), buf.Bytes())
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	// Wrong MIME for an image upload.
	e.do("POST", "/api/v1/messages/media", h, map[string]any{"to": "5511988887777", "type": "image",
		"mediaBase64": base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 not an image"))}).problem(t, 422, "unsupported_media_type")
	// Two sources.
	e.do("POST", "/api/v1/messages/media", h, map[string]any{"to": "5511988887777", "type": "image", "mediaUrl": "https://e.com/a.jpg",
		"mediaBase64": base64.StdEncoding.EncodeToString(png)}).problem(t, 422, "invalid_input")
	// Unsupported type for the provider.
	e.do("POST", "/api/v1/messages/send", h, map[string]any{"to": "5511988887777", "type": "template", "provider": "sandbox",
		"content": map[string]any{"template": map[string]any{"name": "x", "language": "pt_BR"}}}).problem(t, 422, "unsupported_message_type")
	// Provider not registered.
	e.do("POST", "/api/v1/messages/text", h, map[string]any{"to": "5511988887777", "content": "x", "provider": "meta_api"}).problem(t, 503, "provider_unavailable")
	// Unknown agent.
	e.do("POST", "/api/v1/messages/text", h, map[string]any{"to": "5511988887777", "content": "x", "agentId": uuid.NewString()}).problem(t, 422, "agent_not_found")
	// Unknown session.
	e.do("POST", "/api/v1/messages/text", h, map[string]any{"to": "5511988887777", "content": "x", "from": "5511911111111"}).problem(t, 422, "session_not_found")
}

func mergeH(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func pngBytes() []byte {
	return append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
}

func TestInvalidInputsAreProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, uid := e.tenant("acme", "owner")
	h := auth(hsToken(claims(uid, nil)), "acme")
	cases := []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", "/api/v1/messages/text", `{"to": "abc", "content": "x"}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/text", `{"to": "5511988887777"}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/text", `{"to": "5511988887777", "content": "x", "extra": 1}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/text", `{"to": "5511988887777", "content": "x", "provider": "telegram"}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/text", `{not json`, 400, "invalid_input"},
		{"POST", "/api/v1/messages/text", `{"to": "5511988887777", "content": "` + strings.Repeat("a", 4097) + `"}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/send", `{"to": "5511988887777", "type": "text", "content": {}}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/send", `{"to": "5511988887777", "type": "read_mark", "content": {}}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/location", `{"to": "5511988887777", "latitude": 91, "longitude": 0}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/media", `{"to": "5511988887777", "type": "gif"}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/media", `[1,2]`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/audio", `{"to": "5511988887777", "mediaBase64": "!!!"}`, 422, "invalid_input"},
		{"POST", "/api/v1/messages/send-bulk", `{"messages": []}`, 422, "invalid_input"},
		{"GET", "/api/v1/messages/x/status?foo=1", nil, 404, "message_not_found"},
		{"POST", "/api/v1/sessions/initialize", `{"phoneNumber": "12", "provider": "sandbox"}`, 422, "invalid_input"},
		{"POST", "/api/v1/sessions/initialize", `{"phoneNumber": "5511900000001", "provider": "meta_api"}`, 503, "provider_unavailable"},
		{"GET", "/api/v1/sessions/status?phoneNumber=abc", nil, 422, "invalid_input"},
		{"GET", "/api/v1/sessions/status?phoneNumber=5511933333333", nil, 404, "session_not_found"},
		{"DELETE", "/api/v1/sessions/disconnect", nil, 422, "invalid_input"},
		{"PUT", "/api/v1/tenant/settings", `{"name": "", "defaultProvider": "auto", "rateLimitPerMinute": 0, "ai": {}}`, 422, "invalid_input"},
		{"PUT", "/api/v1/tenant/settings", `{"name": "x", "defaultProvider": "sandbox", "fallbackProvider": "sandbox", "rateLimitPerMinute": 10, "ai": {}}`, 422, "invalid_input"},
		{"PUT", "/api/v1/tenant/settings", `{"name": "x", "defaultProvider": "auto", "rateLimitPerMinute": 10, "ai": {"defaultAgentId": "` + uuid.NewString() + `"}}`, 422, "agent_not_found"},
		{"POST", "/api/v1/tenant/provider-switch", `{"provider": "whatsapp"}`, 422, "invalid_input"},
		{"POST", "/api/v1/tenant/provider-switch", `{"provider": "baileys"}`, 503, "provider_unavailable"},
		{"GET", "/api/v1/nowhere", nil, 404, "not_found"},
		{"PATCH", "/api/v1/messages/text", `{}`, 405, "method_not_allowed"},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, h, c.body)
		p := r.problem(t, c.status, c.code)
		require.NotEmpty(t, p["requestId"], "%s %s", c.method, c.path)
		if c.status == 422 && c.code == "invalid_input" {
			require.NotEmpty(t, p["errors"], "%s %s: %s", c.method, c.path, r.body)
		}
	}
	// Oversized body → 413.
	big := `{"to": "5511988887777", "content": "` + strings.Repeat("a", api.DefaultBodyLimit) + `"}`
	e.do("POST", "/api/v1/messages/text", h, big).problem(t, 413, "payload_too_large")
	// Nothing was written by any of these.
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&n))
	require.Equal(t, 0, n)
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, uid := e.tenant("acme", "member")
	_, other := e.tenant("globex", "member")
	path := "/api/v1/tenant/settings"

	e.do("GET", path, nil, nil).problem(t, 401, "unauthorized")
	e.do("GET", path, auth(hsToken(claims(uid, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), "acme"), nil).problem(t, 401, "unauthorized")
	e.do("GET", path, auth(hsToken(claims(uid, func(c jwt.MapClaims) { c["iss"] = "https://evil.example/auth/v1" })), "acme"), nil).problem(t, 401, "unauthorized")
	e.do("GET", path, auth(hsToken(claims(uid, func(c jwt.MapClaims) { c["aud"] = "anon" })), "acme"), nil).problem(t, 401, "unauthorized")
	e.do("GET", path, auth(hsToken(claims(uid, func(c jwt.MapClaims) { c["role"] = "service_role" })), "acme"), nil).problem(t, 401, "unauthorized")
	e.do("GET", path, auth(hsToken(claims("not-a-uuid", nil)), "acme"), nil).problem(t, 401, "unauthorized")
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(uid, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	e.do("GET", path, auth(none, "acme"), nil).problem(t, 401, "unauthorized")
	e.do("GET", path, auth("garbage", "acme"), nil).problem(t, 401, "unauthorized")

	good := hsToken(claims(uid, nil))
	e.do("GET", path, auth(good, ""), nil).problem(t, 400, "missing_client_id")
	e.do("GET", path, auth(good, "nobody"), nil).problem(t, 401, "unknown_tenant")
	e.do("GET", path, auth(good, "globex"), nil).problem(t, 403, "forbidden")
	require.Equal(t, 200, e.do("GET", path, auth(hsToken(claims(other, nil)), "globex"), nil).status)

	// ES256 via JWKS, then key rotation: a token with an unknown kid makes
	// the verifier refresh the JWKS.
	r := e.do("GET", path, auth(esToken(e.esKey, "key-1", claims(uid, nil)), "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	k2 := e.jwks.AddKey("key-2")
	r = e.do("GET", path, auth(esToken(k2, "key-2", claims(uid, nil)), "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	// A kid nobody publishes.
	stray := e.jwks.AddKey("tmp")
	e.jwks.RemoveKey("tmp")
	e.do("GET", path, auth(esToken(stray, "key-3", claims(uid, nil)), "acme"), nil).problem(t, 401, "unauthorized")
}

func TestHS256RefusedWhenOnlyJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noHS256: true})
	_, uid := e.tenant("acme", "member")
	e.do("GET", "/api/v1/tenant/settings", auth(hsToken(claims(uid, nil)), "acme"), nil).problem(t, 401, "unauthorized")
	r := e.do("GET", "/api/v1/tenant/settings", auth(esToken(e.esKey, "key-1", claims(uid, nil)), "acme"), nil)
	require.Equal(t, 200, r.status, string(r.body))
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tid, uid := e.tenant("acme", "member")
	_, err := e.pool.Exec(context.Background(), `UPDATE tenants SET rate_limit_per_minute = 3 WHERE id = $1`, tid)
	require.NoError(t, err)
	h := auth(hsToken(claims(uid, nil)), "acme")
	for range 3 {
		require.Equal(t, 200, e.do("GET", "/api/v1/tenant/settings", h, nil).status)
	}
	r := e.do("GET", "/api/v1/tenant/settings", h, nil)
	r.problem(t, 429, "rate_limited")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, secs, 1)
	require.LessOrEqual(t, secs, 20)
}

func TestAdminAPIKeysAndTenantSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	adm := map[string]string{"Authorization": "Bearer " + testAdmin}
	e.do("POST", "/api/v1/admin/tenants", map[string]string{"Authorization": "Bearer wrong"}, map[string]any{"clientId": "x1", "name": "X"}).problem(t, 401, "unauthorized")

	r := e.do("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "initech", "name": "Initech"})
	require.Equal(t, 201, r.status, string(r.body))
	e.do("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "initech", "name": "Initech"}).problem(t, 409, "tenant_exists")
	e.do("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "Bad Id", "name": "x"}).problem(t, 422, "invalid_input")

	uid := uuid.NewString()
	_, err := e.pool.Exec(context.Background(), `INSERT INTO auth.users (id, email) VALUES ($1, 'u@x.com')`, uid)
	require.NoError(t, err)
	e.do("POST", "/api/v1/admin/tenants/initech/members", adm, map[string]any{"userId": uuid.NewString()}).problem(t, 404, "user_not_found")
	r = e.do("POST", "/api/v1/admin/tenants/initech/members", adm, map[string]any{"userId": uid, "role": "member"})
	require.Equal(t, 201, r.status, string(r.body))

	// A plain member cannot change settings.
	tok := hsToken(claims(uid, nil))
	settings := map[string]any{"name": "Initech SA", "defaultProvider": "sandbox", "rateLimitPerMinute": 50, "ai": map[string]any{"enabled": true}}
	e.do("PUT", "/api/v1/tenant/settings", auth(tok, "initech"), settings).problem(t, 403, "forbidden")

	// API key: created once, works as X-API-Key and Bearer, revocable.
	r = e.do("POST", "/api/v1/admin/tenants/initech/api-keys", adm, map[string]any{"name": "crm"})
	require.Equal(t, 201, r.status, string(r.body))
	key := r.json(t)["key"].(string)
	keyID := r.json(t)["id"].(string)
	require.True(t, strings.HasPrefix(key, "zb_"))
	var stored int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.api_keys WHERE key_hash = sha256($1::bytea)`, []byte(key)).Scan(&stored))
	require.Equal(t, 1, stored)

	r = e.do("PUT", "/api/v1/tenant/settings", map[string]string{"X-API-Key": key}, settings)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "sandbox", r.json(t)["defaultProvider"])
	require.Equal(t, true, r.json(t)["ai"].(map[string]any)["enabled"])
	r = e.do("GET", "/api/v1/tenant/settings", map[string]string{"Authorization": "Bearer " + key}, nil)
	require.Equal(t, "Initech SA", r.json(t)["name"])
	e.do("GET", "/api/v1/tenant/settings", map[string]string{"X-API-Key": key, "X-Client-Id": "acme"}, nil).problem(t, 403, "forbidden")

	r = e.do("POST", "/api/v1/tenant/provider-switch", map[string]string{"X-API-Key": key}, map[string]any{"provider": "auto"})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "auto", r.json(t)["settings"].(map[string]any)["defaultProvider"])

	require.Equal(t, 204, e.do("DELETE", "/api/v1/admin/tenants/initech/api-keys/"+keyID, adm, nil).status)
	e.do("GET", "/api/v1/tenant/settings", map[string]string{"X-API-Key": key}, nil).problem(t, 401, "unauthorized")
	e.do("DELETE", "/api/v1/admin/tenants/initech/api-keys/"+keyID, adm, nil).problem(t, 404, "api_key_not_found")

	require.Equal(t, 204, e.do("DELETE", "/api/v1/admin/tenants/initech/members/"+uid, adm, nil).status)
	e.do("GET", "/api/v1/tenant/settings", auth(tok, "initech"), nil).problem(t, 403, "forbidden")

	// Audit: every mutation, never the key itself.
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.audit_log WHERE actor = 'admin'`).Scan(&n))
	require.GreaterOrEqual(t, n, 5)
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.audit_log WHERE details::text LIKE '%' || $1 || '%'`, key).Scan(&n))
	require.Equal(t, 0, n)
}

func TestSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, uid := e.tenant("acme", "admin")
	h := auth(hsToken(claims(uid, nil)), "acme")
	r := e.do("POST", "/api/v1/sessions/initialize", h, map[string]any{"phoneNumber": "5511977776666", "provider": "sandbox"})
	require.Equal(t, 200, r.status, string(r.body))
	m := r.json(t)
	require.Equal(t, "pairing", m["state"])
	require.Equal(t, "2@qr-code-data", m["qrCode"])
	require.Len(t, e.prov.inits, 1)

	r = e.do("GET", "/api/v1/sessions/status", h, nil)
	require.Equal(t, 200, r.status)
	require.Len(t, r.json(t)["sessions"], 2)
	r = e.do("GET", "/api/v1/sessions/status?phoneNumber=5511977776666", h, nil)
	require.Equal(t, "connected", r.json(t)["sessions"].([]any)[0].(map[string]any)["state"])

	r = e.do("DELETE", "/api/v1/sessions/disconnect?phoneNumber=5511977776666&logout=true", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "logged_out", r.json(t)["state"])
	// Spec readers send a JSON body, and POST: both work the same way.
	r = e.do("DELETE", "/api/v1/sessions/disconnect", h, map[string]any{"phoneNumber": "5511977776666"})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "disconnected", r.json(t)["state"])
	r = e.do("POST", "/api/v1/sessions/disconnect", h, map[string]any{"phoneNumber": "5511977776666", "logout": true})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "logged_out", r.json(t)["state"])
	e.do("POST", "/api/v1/sessions/disconnect", h, map[string]any{"logout": true}).problem(t, 422, "invalid_input")

	e.do("POST", "/api/v1/sessions/initialize", h, map[string]any{"phoneNumber": "5511977776666", "provider": "baileys"}).problem(t, 503, "provider_unavailable")
}

func TestGenericWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tid, uid := e.tenant("acme", "member")
	adm := map[string]string{"Authorization": "Bearer " + testAdmin}
	r := e.do("PUT", "/api/v1/admin/tenants/acme/webhook-secret", adm, nil)
	require.Equal(t, 200, r.status, string(r.body))
	sec := []byte(r.json(t)["secret"].(string))

	// An outbound message to receive receipts for.
	s := e.do("POST", "/api/v1/messages/text", auth(hsToken(claims(uid, nil)), "acme"), map[string]any{"to": "5511988887777", "content": "oi"})
	id := s.json(t)["messageId"].(string)

	post := func(path string, body []byte, ts int64, sig string) resp {
		return e.do("POST", path, map[string]string{"X-Client-Id": "acme", "X-Zapbase-Timestamp": strconv.FormatInt(ts, 10),
			"X-Zapbase-Signature": sig}, body)
	}
	now := time.Now().Unix()
	in := []byte(`{"session": "5511900000000", "messageId": "gw-1", "from": "5511988887777", "type": "text", "content": {"text": "olá"}}`)
	r = post("/api/v1/webhooks/incoming-message", in, now, api.SignWebhook(sec, now, in))
	require.Equal(t, 200, r.status, string(r.body))
	r = post("/api/v1/webhooks/incoming-message", in, now, api.SignWebhook(sec, now, in)) // redelivery: idempotent
	require.Equal(t, 200, r.status, string(r.body))
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE tenant_id = $1 AND direction = 'inbound'`, tid).Scan(&n))
	require.Equal(t, 1, n)

	st := []byte(`{"session": "5511900000000", "messageIds": ["prov-` + id + `"], "status": "read"}`)
	r = post("/api/v1/webhooks/status-update", st, now, api.SignWebhook(sec, now, st))
	require.Equal(t, 200, r.status, string(r.body))
	var status string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT status FROM messages WHERE id = $1`, id).Scan(&status))
	require.Equal(t, "read", status)

	// Bad signature, replayed (old) timestamp, tampered body, invalid body.
	post("/api/v1/webhooks/incoming-message", in, now, "sha256=00").problem(t, 401, "invalid_signature")
	old := now - 3600
	post("/api/v1/webhooks/incoming-message", in, old, api.SignWebhook(sec, old, in)).problem(t, 401, "invalid_signature")
	post("/api/v1/webhooks/incoming-message", append(in, ' '), now, api.SignWebhook(sec, now, in)).problem(t, 401, "invalid_signature")
	bad := []byte(`{"session": "5511900000000", "messageId": "gw-2", "from": "x", "type": "fax", "content": {}}`)
	post("/api/v1/webhooks/incoming-message", bad, now, api.SignWebhook(sec, now, bad)).problem(t, 422, "invalid_input")
	// Unsigned: authentication fails (401), whatever the body.
	e.do("POST", "/api/v1/webhooks/incoming-message", map[string]string{"X-Client-Id": "acme"}, in).problem(t, 401, "invalid_signature")
	e.do("POST", "/api/v1/webhooks/status-update", map[string]string{"X-Client-Id": "acme"}, in).problem(t, 401, "invalid_signature")
	e.do("POST", "/api/v1/webhooks/incoming-message", nil, in).problem(t, 401, "invalid_signature")

	// Supabase Database Webhook wakes dispatch.
	hook := map[string]any{"type": "INSERT", "table": "messages", "schema": "public", "record": map[string]any{"id": id, "status": "pending", "direction": "outbound"}, "old_record": nil}
	e.do("POST", "/api/v1/webhooks/supabase", map[string]string{"X-Zapbase-Webhook-Secret": "nope"}, hook).problem(t, 401, "invalid_signature")
	r = e.do("POST", "/api/v1/webhooks/supabase", map[string]string{"Authorization": "Bearer " + testHookSec}, hook)
	require.Equal(t, 200, r.status, string(r.body))
	require.EqualValues(t, 1, r.json(t)["woken"])
	require.Equal(t, []string{id}, e.waker.ids)
}

func TestOpenAPIAndDocs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.do("GET", "/openapi.json", nil, nil)
	require.Equal(t, 200, r.status)
	doc := r.json(t)
	require.True(t, strings.HasPrefix(doc["openapi"].(string), "3.1."))
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/api/v1/messages/text", "/api/v1/messages/send", "/api/v1/messages/media", "/api/v1/messages/audio",
		"/api/v1/messages/location", "/api/v1/messages/send-bulk", "/api/v1/messages/{messageId}/status",
		"/api/v1/sessions/initialize", "/api/v1/sessions/status", "/api/v1/sessions/disconnect",
		"/api/v1/tenant/settings", "/api/v1/tenant/provider-switch", "/api/v1/webhooks/incoming-message",
		"/api/v1/webhooks/status-update", "/api/v1/webhooks/supabase", "/api/v1/admin/tenants"} {
		require.Contains(t, paths, p)
	}
	media := paths["/api/v1/messages/media"].(map[string]any)["post"].(map[string]any)["requestBody"].(map[string]any)["content"].(map[string]any)
	require.Contains(t, media, "multipart/form-data")
	require.Contains(t, media, "application/json")

	r = e.do("GET", "/docs", nil, nil)
	require.Equal(t, 200, r.status)
	require.Contains(t, string(r.body), "/docs/scalar-standalone.js")
	require.NotContains(t, string(r.body), "cdn.jsdelivr")
	r = e.do("GET", "/docs/scalar-standalone.js", map[string]string{"Accept-Encoding": "identity"}, nil)
	require.Equal(t, 200, r.status)
	require.Greater(t, len(r.body), 1<<20)
}
