package dispatch_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

// env is one test's database with a tenant.
type env struct {
	t      testing.TB
	pool   *pgxpool.Pool
	tenant string
}

func newEnv(t *testing.T) *env { return newEnvTB(t) }

func newEnvTB(t testing.TB) *env {
	t.Helper()
	url := devdbtest.NewDatabase(t)
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: 20})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := &env{t: t, pool: pool}
	e.tenant = e.newTenant("acme", zapbase.ProviderAuto, `{}`)
	return e
}

func (e *env) newTenant(clientID string, def zapbase.ProviderType, settings string) string {
	e.t.Helper()
	var id string
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `
INSERT INTO public.tenants (client_id, name, default_provider, settings) VALUES ($1, $1, $2, $3::jsonb) RETURNING id::text`,
		clientID, string(def), settings).Scan(&id))
	return id
}

func (e *env) newSession(tenant, phone string, p zapbase.ProviderType, state string) string {
	e.t.Helper()
	var id string
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state) VALUES ($1, $2, $3, $4) RETURNING id::text`,
		tenant, phone, string(p), state).Scan(&id))
	return id
}

func (e *env) setSessionState(id, state string) {
	e.t.Helper()
	_, err := e.pool.Exec(context.Background(), `UPDATE public.whatsapp_sessions SET state = $2 WHERE id = $1`, id, state)
	require.NoError(e.t, err)
}

// msg describes an outbound row to insert.
type msg struct {
	to       string
	text     string
	provider zapbase.ProviderType
	session  string
	typ      zapbase.MessageType
}

func (e *env) insert(tenant string, ms ...msg) []string {
	e.t.Helper()
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.provider == "" {
			m.provider = zapbase.ProviderAuto
		}
		if m.typ == "" {
			m.typ = zapbase.MessageText
		}
		var sess *string
		if m.session != "" {
			sess = &m.session
		}
		var id string
		require.NoError(e.t, e.pool.QueryRow(context.Background(), `
INSERT INTO public.messages (tenant_id, session_id, to_number, message_type, content, provider)
VALUES ($1, $2, $3, $4, jsonb_build_object('text', $5::text), $6) RETURNING id::text`,
			tenant, sess, m.to, string(m.typ), m.text, string(m.provider)).Scan(&id))
		ids = append(ids, id)
	}
	return ids
}

// row is a message row as tests inspect it.
type row struct {
	Status      zapbase.Status
	MessageID   string
	Provider    zapbase.ProviderType
	SessionID   string
	From        string
	Attempts    int
	ErrorCode   string
	ErrorReason string
	NextAttempt time.Time
	ClaimedBy   string
}

func (e *env) row(id string) row {
	e.t.Helper()
	var (
		r                                        row
		st, prov                                 string
		mid, sess, from, code, reason, claimedBy *string
	)
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `
SELECT status, message_id, provider, session_id::text, from_number, attempts, error_code, error_reason, next_attempt_at, claimed_by
  FROM public.messages WHERE id = $1`, id).Scan(&st, &mid, &prov, &sess, &from, &r.Attempts, &code, &reason, &r.NextAttempt, &claimedBy))
	r.Status, r.Provider = zapbase.Status(st), zapbase.ProviderType(prov)
	r.MessageID, r.SessionID, r.From, r.ErrorCode, r.ErrorReason, r.ClaimedBy = s(mid), s(sess), s(from), s(code), s(reason), s(claimedBy)
	return r
}

func s(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// waitRow polls until cond holds for the row (asynchronous pipeline).
func (e *env) waitRow(id string, what string, cond func(row) bool) row {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.row(id)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("row %s: timed out waiting for %s; last %+v", id, what, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitStatus(id string, st zapbase.Status) row {
	e.t.Helper()
	return e.waitRow(id, "status "+string(st), func(r row) bool { return r.Status == st })
}

// testConfig is fast: short intervals so retries and scans happen quickly.
func testConfig(owner string) dispatch.Config {
	return dispatch.Config{
		Owner:             owner,
		ReconcileInterval: 50 * time.Millisecond,
		BackoffBase:       20 * time.Millisecond,
		BackoffMax:        100 * time.Millisecond,
		SessionRetryDelay: 50 * time.Millisecond,
		AuthLostDelay:     time.Hour,
		DrainTimeout:      5 * time.Second,
		WaitPollInterval:  20 * time.Millisecond,
	}
}

func (e *env) start(cfg dispatch.Config, deps dispatch.Deps) *dispatch.Dispatcher {
	e.t.Helper()
	deps.Pool = e.pool
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := dispatch.New(cfg, deps)
	require.NoError(e.t, err)
	require.NoError(e.t, d.Start(context.Background()))
	e.t.Cleanup(d.Stop)
	return d
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func newSandbox(t *testing.T, cfg sandbox.Config) *sandbox.Provider {
	t.Helper()
	if cfg.Sink == nil {
		cfg.NoReceipts = true
	}
	p := sandbox.New(cfg)
	t.Cleanup(p.Close)
	return p
}

// typed presents a provider under another provider type (to test routing
// between channels without their real adapters).
type typed struct {
	*sandbox.Provider
	typ zapbase.ProviderType
}

func (p typed) Type() zapbase.ProviderType { return p.typ }

var _ providers.Provider = typed{}

// sendLog records sends in order, per recipient.
type sendLog struct {
	mu   sync.Mutex
	msgs []providers.OutboundMessage
}

func (l *sendLog) add(m providers.OutboundMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, m)
}

func (l *sendLog) all() []providers.OutboundMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]providers.OutboundMessage(nil), l.msgs...)
}

func (e *env) newSessionTB(tb testing.TB, phone string) string {
	return e.newSession(e.tenant, phone, zapbase.ProviderSandbox, "connected")
}
