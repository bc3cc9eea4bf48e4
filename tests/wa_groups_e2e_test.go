package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// TestWhatsAppWebGroupsPollsAndSettingsEndToEnd boots `zapbase serve` with
// a paired WhatsApp Web session on the offline fake client and walks the
// issue-21 surface over HTTP: create a group, send to its JID through the
// normal pipeline (the row reaches sent), send a poll to it, change the
// session's settings, subscribe to a contact's presence (an event lands in
// the change feed) and read a profile picture.
func TestWhatsAppWebGroupsPollsAndSettingsEndToEnd(t *testing.T) {
	t.Parallel()
	url := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 2*time.Minute)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	userID := uuid.NewString()
	var tenant, session string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('grupos', 'Grupos') RETURNING id::text`).Scan(&tenant))
	_, err = pool.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, 'dono@grupos.test')`, userID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO public.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, tenant, userID)
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, device_jid, state)
VALUES ($1, '5511900000001', 'baileys', '5511900000001:3@s.whatsapp.net', 'disconnected') RETURNING id::text`, tenant).Scan(&session))

	p := StartServe(t, url, map[string]string{"ZAPBASE_TEST_WHATSMEOW_FAKE": "1", "ZAPBASE_SEND_WAIT": "20s"})
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": userID, "role": "authenticated", "aud": "authenticated", "iss": testJWTIssuer,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(testJWTSecret))
	require.NoError(t, err)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, p.BaseURL()+path, rd)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Client-Id", "grupos")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var m map[string]any
		raw, _ := io.ReadAll(res.Body)
		if len(raw) > 0 {
			require.NoError(t, json.Unmarshal(raw, &m), string(raw))
		}
		return res.StatusCode, m
	}
	require.Eventually(t, func() bool {
		var st string
		return pool.QueryRow(ctx, `SELECT state FROM public.whatsapp_sessions WHERE id = $1`, session).Scan(&st) == nil && st == "connected"
	}, 60*time.Second, 50*time.Millisecond)

	status, g := call("POST", "/api/v1/groups", map[string]any{"name": "Equipe", "participants": []string{"5511988887777"}})
	require.Equal(t, 200, status, g)
	gid := g["id"].(string)
	require.Regexp(t, `^120363[0-9]+@g\.us$`, gid)
	status, list := call("GET", "/api/v1/groups", nil)
	require.Equal(t, 200, status, list)
	require.Len(t, list["groups"], 1)

	status, sent := call("POST", "/api/v1/messages/text", map[string]any{"to": gid, "content": "Bom dia, equipe!", "from": "5511900000001"})
	require.Equal(t, 200, status, sent)
	require.Equal(t, "sent", sent["status"], sent)
	require.Equal(t, gid, sent["to"])

	status, poll := call("POST", "/api/v1/messages/poll", map[string]any{"to": gid, "from": "5511900000001", "name": "Almoço?", "options": []string{"Sim", "Não"}})
	require.Equal(t, 200, status, poll)
	require.Equal(t, "sent", poll["status"], poll)
	var typ string
	require.NoError(t, pool.QueryRow(ctx, `SELECT message_type FROM public.messages WHERE id = $1`, poll["messageId"]).Scan(&typ))
	require.Equal(t, "poll", typ)

	status, st := call("PUT", "/api/v1/sessions/5511900000001/settings", map[string]any{"rejectCalls": true, "alwaysOnline": true})
	require.Equal(t, 200, status, st)
	require.Equal(t, true, st["rejectCalls"])

	status, sub := call("POST", "/api/v1/chats/5511988887777/presence/subscribe", nil)
	require.Equal(t, 200, status, sub)
	require.Eventually(t, func() bool {
		var n int
		return pool.QueryRow(ctx, `SELECT count(*) FROM wa.change_log WHERE tenant_id = $1 AND topic = 'presence' AND chat = '5511988887777'`, tenant).Scan(&n) == nil && n == 1
	}, 30*time.Second, 50*time.Millisecond)

	status, pic := call("GET", "/api/v1/contacts/5511988887777/profile-picture", nil)
	require.Equal(t, 200, status, pic)
	require.Equal(t, "https://pps.whatsapp.net/fake/5511988887777.jpg", pic["url"])

	status, typing := call("POST", "/api/v1/chats/"+gid+"/presence", map[string]any{"state": "typing"})
	require.Equal(t, 200, status, typing)
}
