package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// fakeAuth speaks Supabase Auth's (GoTrue's) REST wire format for the calls
// the console makes: password and refresh_token grants and logout, with the
// apikey header and CORS as the hosted service answers them.
type fakeAuth struct {
	t       *testing.T
	srv     *httptest.Server
	apiKey  string
	email   string
	pass    string
	userID  string
	ttl     time.Duration // lifetime of issued access tokens
	mu      sync.Mutex
	grants  []string // "password", "refresh_token", "logout"
	refresh map[string]bool
	last    string // last access token issued
	logout  string // access token of the logout call
}

func newFakeAuth(t *testing.T, apiKey, email, pass, userID string) *fakeAuth {
	f := &fakeAuth{t: t, apiKey: apiKey, email: email, pass: pass, userID: userID, ttl: time.Hour, refresh: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAuth) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Headers", "apikey, authorization, content-type, x-client-info")
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Path == "/auth/v1/.well-known/jwks.json" {
		_, _ = w.Write([]byte(`{"keys":[]}`))
		return
	}
	if r.Header.Get("apikey") != f.apiKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "No API key found in request"})
		return
	}
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/token" && r.URL.Query().Get("grant_type") == "password":
		f.grants = append(f.grants, "password")
		if body["email"] != f.email || body["password"] != f.pass {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"})
			return
		}
		f.issue(w)
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/token" && r.URL.Query().Get("grant_type") == "refresh_token":
		f.grants = append(f.grants, "refresh_token")
		if !f.refresh[body["refresh_token"]] {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "error_code": "refresh_token_not_found", "msg": "Invalid Refresh Token: Refresh Token Not Found"})
			return
		}
		delete(f.refresh, body["refresh_token"]) // rotation: each refresh token works once
		f.issue(w)
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/logout":
		f.grants = append(f.grants, "logout")
		f.logout = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "not found"})
	}
}

func (f *fakeAuth) issue(w http.ResponseWriter) {
	now := time.Now()
	exp := now.Add(f.ttl)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": f.userID, "email": f.email, "role": "authenticated", "aud": "authenticated",
		"iss": f.srv.URL + "/auth/v1", "iat": now.Unix(), "exp": exp.Unix(), "session_id": uuid.NewString(),
	}).SignedString([]byte(testJWTSecret))
	require.NoError(f.t, err)
	rt := uuid.NewString()
	f.refresh[rt] = true
	f.last = tok
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "bearer", "expires_in": int(f.ttl.Seconds()), "expires_at": exp.Unix(),
		"refresh_token": rt, "user": map[string]any{"id": f.userID, "email": f.email, "aud": "authenticated", "role": "authenticated"},
	})
}

func (f *fakeAuth) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.grants...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// TestConsoleSupabaseSignIn: in production the console signs in against the
// project's Supabase Auth (SUPABASE_URL + SUPABASE_PUBLISHABLE_KEY) with the
// password grant, refreshes the session before it expires, uses the token
// with the API, and logs out; a wrong password is refused in pt-BR.
func TestConsoleSupabaseSignIn(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	require.NoError(t, err, "install Debian's chromium (apt-get install -y chromium): scripts/test does")
	url := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 3*time.Minute)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	userID := uuid.NewString()
	_, err = pool.Exec(ctx, `
WITH t AS (INSERT INTO public.tenants (client_id, name) VALUES ('loja', 'Loja Online') RETURNING id),
     u AS (INSERT INTO auth.users (id, email) VALUES ($1, 'ana@loja.example') RETURNING id),
     m AS (INSERT INTO public.tenant_members (tenant_id, user_id, role) SELECT t.id, u.id, 'admin' FROM t, u)
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
SELECT t.id, '5511966660000', 'sandbox', 'connected' FROM t`, userID)
	require.NoError(t, err)

	const key = "sb_publishable_test_0123456789"
	auth := newFakeAuth(t, key, "ana@loja.example", "senha-correta-123", userID)
	// Tokens that expire within the console's refresh margin: the first API
	// call refreshes the session first.
	auth.ttl = 30 * time.Second
	p := StartServe(t, url, map[string]string{
		"SUPABASE_URL": auth.srv.URL, "SUPABASE_PUBLISHABLE_KEY": key, "SUPABASE_JWT_ISSUER": auth.srv.URL + "/auth/v1",
	})

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	b := &page{t: t, ctx: browser, shots: t.TempDir()}

	b.do(chromedp.Navigate(p.BaseURL() + "/console"))
	b.wait(`document.querySelector('input[type="email"]') !== null`)
	require.Equal(t, "input", b.eval(`document.activeElement.tagName.toLowerCase()`), "the e-mail field has focus")
	b.do(chromedp.SendKeys(`input[type="email"]`, "ana@loja.example"), chromedp.SendKeys(`input[type="password"]`, "errada"),
		chromedp.Click(`form.login-form button[type="submit"]`))
	b.wait(`document.querySelector('.login-form .error')?.textContent === 'E-mail ou senha incorretos.'`)

	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('input[type="password"]').value = ''`), chromedp.SendKeys(`input[type="password"]`, "senha-correta-123"),
		chromedp.Click(`form.login-form button[type="submit"]`))
	b.wait(`document.querySelector('[data-session="5511966660000"]') !== null`)
	b.wait(`document.getElementById('live')?.textContent === 'ao vivo'`)
	require.Equal(t, "loja", b.eval(`document.getElementById('tenant').value`))
	require.Equal(t, "ana@loja.example", b.eval(`document.querySelector('.who .user').textContent`))
	require.Contains(t, auth.calls(), "refresh_token", "a session about to expire is refreshed before it is used")
	require.Equal(t, "null", b.eval(`String(localStorage.getItem('zapbase.console.auth'))`), "tokens stay out of localStorage")

	b.do(chromedp.Click(`.who button`))
	b.wait(`document.querySelector('input[type="email"]') !== null && document.querySelector('.notice')?.textContent === 'Você saiu.'`)
	calls := auth.calls()
	require.Equal(t, "logout", calls[len(calls)-1])
	auth.mu.Lock()
	require.Equal(t, "Bearer "+auth.last, auth.logout, "logout revokes the current session")
	auth.mu.Unlock()
	require.Equal(t, "null", b.eval(`String(sessionStorage.getItem('zapbase.console.auth'))`))
}
