package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/media"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
	"github.com/zapbase/zapbase/supabase/supabasetest"
)

func TestMain(m *testing.M) { devdbtest.Main(m) }

const (
	testIssuer   = "https://proj.supabase.co/auth/v1"
	testHSSecret = "test-secret-with-at-least-32-characters!!"
	testAdmin    = "admin-token-0123456789abcdef"
	testHookSec  = "supabase-webhook-secret-123"
)

// fakeProvider is a Provider that accepts every send (the DB rows are the
// API's output; the pipeline is not under test here).
type fakeProvider struct {
	typ   zapbase.ProviderType
	types []zapbase.MessageType
	mu    sync.Mutex
	inits []providers.InitializeParams
	disc  []string
}

func (f *fakeProvider) Type() zapbase.ProviderType { return f.typ }
func (f *fakeProvider) Capabilities() providers.Capabilities {
	return providers.Capabilities{MessageTypes: f.types}
}
func (f *fakeProvider) Send(context.Context, providers.OutboundMessage) (providers.SendResult, error) {
	return providers.SendResult{}, nil
}
func (f *fakeProvider) Initialize(_ context.Context, p providers.InitializeParams) (providers.SessionState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inits = append(f.inits, p)
	return providers.SessionState{State: providers.StatePairing, QRCode: "2@qr-code-data"}, nil
}
func (f *fakeProvider) Status(context.Context, string) (providers.SessionState, error) {
	return providers.SessionState{State: providers.StateConnected}, nil
}
func (f *fakeProvider) Disconnect(_ context.Context, id string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disc = append(f.disc, id)
	return nil
}

// fakeWaiter marks the row sent through the DB (as dispatch would) and
// reports it, so the wait path is deterministic.
type fakeWaiter struct{ pool *pgxpool.Pool }

func (w fakeWaiter) WaitFinal(ctx context.Context, id string) (zapbase.Status, error) {
	_, err := w.pool.Exec(ctx, `UPDATE public.messages SET status = 'sending' WHERE id = $1 AND status = 'pending'`, id)
	if err != nil {
		return "", err
	}
	_, err = w.pool.Exec(ctx, `UPDATE public.messages SET status = 'sent', provider = 'sandbox', message_id = 'prov-' || id::text, sent_at = now() WHERE id = $1`, id)
	return zapbase.StatusSent, err
}

type recWaker struct {
	mu  sync.Mutex
	ids []string
}

func (w *recWaker) Wake(_ context.Context, ids []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ids = append(w.ids, ids...)
	return nil
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	pool   *pgxpool.Pool
	jwks   *supabasetest.JWKS
	esKey  *ecdsa.PrivateKey
	prov   *fakeProvider
	waker  *recWaker
	box    *secret.Box
	logBuf *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type envOpts struct {
	noHS256  bool
	noWaiter bool
	sendWait time.Duration
	// register adds operations of other packages (RegisterFuncs).
	register []func(*api.Router)
	// extra registers more providers (by type) next to the sandbox fake.
	extra map[zapbase.ProviderType]providers.Provider
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	url := devdbtest.NewDatabase(t)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := &env{t: t, pool: pool, jwks: supabasetest.NewJWKS(t), waker: &recWaker{}, logBuf: &syncBuffer{}}
	e.esKey = e.jwks.AddKey("key-1")
	e.prov = &fakeProvider{typ: zapbase.ProviderSandbox, types: []zapbase.MessageType{
		zapbase.MessageText, zapbase.MessageImage, zapbase.MessageAudio, zapbase.MessageVoice, zapbase.MessageDocument,
		zapbase.MessageLocation, zapbase.MessageVideo, zapbase.MessageReaction}}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.box, err = secret.NewBox(key)
	require.NoError(t, err)
	vc := supabase.VerifierConfig{JWKSURL: e.jwks.URL + supabasetest.JWKSPath, Issuer: testIssuer}
	if !o.noHS256 {
		vc.HS256Secret = testHSSecret
	}
	ver, err := supabase.NewVerifier(ctx, vc)
	require.NoError(t, err)
	t.Cleanup(ver.Close)
	p := api.Params{
		Pool: pool, Store: store.New(pool), Logger: slogJSON(e.logBuf),
		Providers:             map[zapbase.ProviderType]providers.Provider{zapbase.ProviderSandbox: e.prov},
		Verifier:              ver,
		Box:                   e.box,
		Media:                 &media.Local{Dir: t.TempDir()},
		AdminToken:            testAdmin,
		SupabaseWebhookSecret: testHookSec,
		Waker:                 e.waker,
		SendWait:              o.sendWait,
		RegisterFuncs:         o.register,
	}
	for k, v := range o.extra {
		p.Providers[k] = v
	}
	if !o.noWaiter {
		p.Waiter = fakeWaiter{pool}
	}
	e.srv = httptest.NewServer(api.NewHandler(p))
	t.Cleanup(e.srv.Close)
	return e
}

// tenant creates a tenant, a user and its membership; returns ids.
func (e *env) tenant(clientID string, role string) (tenantID, userID string) {
	e.t.Helper()
	ctx := context.Background()
	userID = uuid.NewString()
	require.NoError(e.t, e.pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ($1, $1) RETURNING id`, clientID).Scan(&tenantID))
	_, err := e.pool.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, $2)`, userID, clientID+"@example.com")
	require.NoError(e.t, err)
	if role != "" {
		_, err = e.pool.Exec(ctx, `INSERT INTO public.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, $3)`, tenantID, userID, role)
		require.NoError(e.t, err)
	}
	_, err = e.pool.Exec(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state) VALUES ($1, '5511900000000', 'sandbox', 'connected')`, tenantID)
	require.NoError(e.t, err)
	return tenantID, userID
}

func claims(sub string, mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": sub, "role": "authenticated", "aud": "authenticated", "iss": testIssuer,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	return c
}

func hsToken(c jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testHSSecret))
	if err != nil {
		panic(err)
	}
	return s
}

func esToken(k *ecdsa.PrivateKey, kid string, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		panic(err)
	}
	return s
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (r resp) problem(t *testing.T, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), string(r.body))
	m := r.json(t)
	require.Equal(t, code, m["code"], string(r.body))
	require.NotEmpty(t, m["message"])
	require.EqualValues(t, status, m["status"])
	return m
}

func (e *env) do(method, path string, headers map[string]string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func auth(token, clientID string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + token}
	if clientID != "" {
		h["X-Client-Id"] = clientID
	}
	return h
}
