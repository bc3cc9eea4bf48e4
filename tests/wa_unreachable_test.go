package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// blackHole accepts TCP connections and never answers, as a network that
// drops WhatsApp's traffic does (the dial "succeeds" into a proxy that
// never forwards).
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestWhatsAppWebInitializeWhenWhatsAppIsUnreachable: with the real
// whatsmeow client and WhatsApp out of reach (all traffic goes to a proxy
// that never answers), POST /sessions/initialize with provider baileys
// answers promptly with a classified error and leaves the session in a
// clear state with a pt-BR reason: never a hang, never a 500.
func TestWhatsAppWebInitializeWhenWhatsAppIsUnreachable(t *testing.T) {
	t.Parallel()
	url := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 2*time.Minute)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	userID := uuid.NewString()
	var tenant string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('offline', 'Offline') RETURNING id::text`).Scan(&tenant))
	_, err = pool.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, 'dono@offline.test')`, userID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO public.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, tenant, userID)
	require.NoError(t, err)

	proxy := "http://" + blackHole(t)
	p := StartServe(t, url, map[string]string{
		"ZAPBASE_LISTENER":                 "false",
		"ZAPBASE_WHATSAPP_CONNECT_TIMEOUT": "2s",
		"HTTPS_PROXY":                      proxy,
		"https_proxy":                      proxy,
	})

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
		req.Header.Set("X-Client-Id", "offline")
		req.Header.Set("Content-Type", "application/json")
		// The client gives up long before the kernel's TCP timeout: a hang
		// fails the test instead of stalling it.
		res, err := (&http.Client{Timeout: 45 * time.Second}).Do(req)
		require.NoError(t, err, "the request must be answered, not hang")
		defer res.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&m))
		return res.StatusCode, m
	}

	status, body := call("POST", "/api/v1/sessions/initialize", map[string]any{"phoneNumber": "5511955554444", "provider": "baileys"})
	require.NotEqual(t, 500, status, body)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Equal(t, "provider_unreachable", body["code"])
	require.NotEmpty(t, body["message"])

	// The session row says what happened, for the API and Realtime.
	status, body = call("GET", "/api/v1/sessions/status?phoneNumber=5511955554444", nil)
	require.Equal(t, 200, status, body)
	sessions := body["sessions"].([]any)
	require.Len(t, sessions, 1)
	s := sessions[0].(map[string]any)
	require.Equal(t, "pairing_failed", s["state"])
	require.Contains(t, s["reason"], "Não foi possível conectar aos servidores do WhatsApp")
	require.Empty(t, s["qrCode"])

	// Nobody keeps the lease of a session that could not pair.
	var leases int
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `SELECT count(*) FROM wa.session_leases WHERE expires_at > now()`).Scan(&leases) == nil && leases == 0
	}, 30*time.Second, 100*time.Millisecond)
	// The black hole was really dialled (the proxy path, not a DNS error)
	// and the attempt was cut by ZAPBASE_WHATSAPP_CONNECT_TIMEOUT.
	require.Contains(t, p.Logs(), "connection attempt timed out")
	require.Contains(t, p.Logs(), "cannot reach WhatsApp to pair")
}
