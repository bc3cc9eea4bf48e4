package ai_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"

	// The built-in products: their tools and templates.
	_ "github.com/zapbase/zapbase/ai/tools/realestate"
	_ "github.com/zapbase/zapbase/ai/tools/support"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// TestMain stops the throwaway Postgres and checks that no runtime
// goroutine outlives the tests.
func TestMain(m *testing.M) {
	devdbtest.MainLeakChecked(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

// fakeClock is a manual clock: timers fire only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) ai.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time forward and runs the timers that came due, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && !t.at.After(c.now) {
			t.fired = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// env is a tenant with a sandbox session and a runtime under test.
type env struct {
	t        *testing.T
	pool     *pgxpool.Pool
	box      *secret.Box
	svc      *ai.Service
	tenantID string
	session  string
	phone    string
	clock    *fakeClock
	turns    chan ai.TurnResult
	events   *dispatch.Events
	rt       *ai.Runtime
	// beforeCommit is installed on the next runtime start only.
	beforeCommit func(context.Context, string) error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, devdbtest.NewDatabase(t), supabase.PoolConfig{MaxConns: 10})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	box, err := secret.NewBox(make([]byte, 32))
	require.NoError(t, err)
	e := &env{t: t, pool: pool, box: box, svc: ai.NewService(store.New(pool), box), clock: newFakeClock(),
		turns: make(chan ai.TurnResult, 100), phone: "5511900000000"}
	e.svc.AllowInsecureToolEndpoints = true
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tenants (client_id, name) VALUES ('imobiliaria', 'Imobiliária') RETURNING id`).Scan(&e.tenantID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type, state)
VALUES ($1, $2, 'sandbox', 'connected') RETURNING id`, e.tenantID, e.phone).Scan(&e.session))
	e.events = dispatch.NewEvents(pool)
	return e
}

// start builds and starts a runtime; cfg tweaks apply on top of test defaults.
func (e *env) start(p ai.RuntimeParams) *ai.Runtime {
	e.t.Helper()
	p.Store, p.Box, p.Clock = store.New(e.pool), e.box, e.clock
	if p.Config.ScanInterval == 0 {
		p.Config.ScanInterval = 1000 * time.Hour
	}
	if p.Config.DebounceWindow == 0 {
		p.Config.DebounceWindow = -1 // immediate unless a test asks for debounce
	}
	p.Config.AllowInsecureToolEndpoints = true
	if _, ok := p.Backends["scripted"]; ok && p.GlobalModels == nil {
		p.GlobalModels = []ai.ModelSpec{{Backend: "scripted"}}
	}
	p.OnTurnFunc = func(r ai.TurnResult) { e.turns <- r }
	rt := ai.NewRuntime(p)
	if e.beforeCommit != nil { // this start only
		ai.SetBeforeCommitForTest(rt, e.beforeCommit)
		e.beforeCommit = nil
	}
	// The hook is set before Start (never assigned while the runtime runs).
	e.events.OnInboundFunc = func(ctx context.Context, ids []string) { require.NoError(e.t, rt.HandleInbound(ctx, ids)) }
	require.NoError(e.t, rt.Start(context.Background()))
	e.t.Cleanup(rt.Stop)
	e.rt = rt
	return rt
}

func withModel(m ai.Model) map[string]ai.ModelFactoryFunc {
	f := func(ai.ModelSpec) (ai.Model, error) { return m, nil }
	return map[string]ai.ModelFactoryFunc{"scripted": f}
}

var msgSeq int

// inbound records a contact's message through the real EventSink.
func (e *env) inbound(from, text string, mod ...func(*providers.InboundMessage)) {
	e.t.Helper()
	msgSeq++
	m := providers.InboundMessage{TenantID: e.tenantID, SessionID: e.session, Provider: zapbase.ProviderSandbox,
		ProviderMessageID: "in-" + time.Now().Format("150405.000000000") + "-" + string(rune('a'+msgSeq%26)),
		From:              from, To: e.phone, Type: zapbase.MessageText, Content: providers.Content{Text: text}}
	for _, f := range mod {
		f(&m)
	}
	require.NoError(e.t, e.events.Inbound(context.Background(), m))
}

func (e *env) waitTurn() ai.TurnResult {
	e.t.Helper()
	select {
	case r := <-e.turns:
		return r
	case <-time.After(30 * time.Second):
		e.t.Fatal("no turn finished")
		return ai.TurnResult{}
	}
}

// waitOutcome waits for turns until one with a non-empty outcome arrives.
func (e *env) waitOutcome() ai.TurnResult {
	e.t.Helper()
	for {
		if r := e.waitTurn(); r.Outcome != ai.OutcomeEmpty {
			return r
		}
	}
}

type replyRow struct {
	ID, Text, To, From, Provider, Status string
	AgentID                              *string
}

func (e *env) replies() []replyRow {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `
SELECT id, content->>'text', to_number, coalesce(from_number, ''), provider, status, agent_id
  FROM messages WHERE tenant_id = $1 AND direction = 'outbound' AND agent_id IS NOT NULL ORDER BY created_at, id`, e.tenantID)
	require.NoError(e.t, err)
	defer rows.Close()
	var out []replyRow
	for rows.Next() {
		var r replyRow
		require.NoError(e.t, rows.Scan(&r.ID, &r.Text, &r.To, &r.From, &r.Provider, &r.Status, &r.AgentID))
		out = append(out, r)
	}
	require.NoError(e.t, rows.Err())
	return out
}

func (e *env) unprocessed() int {
	var n int
	require.NoError(e.t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM messages WHERE tenant_id = $1 AND direction = 'inbound' AND NOT ai_processed`, e.tenantID).Scan(&n))
	return n
}

func (e *env) convState(contact string) string {
	var s string
	require.NoError(e.t, e.pool.QueryRow(context.Background(),
		`SELECT state FROM ai_conversations WHERE tenant_id = $1 AND contact = $2`, e.tenantID, contact).Scan(&s))
	return s
}

// customAgent creates a default custom agent.
func (e *env) customAgent(caps ...string) ai.Agent {
	e.t.Helper()
	a, err := e.svc.CreateAgent(context.Background(), e.tenantID, ai.CreateAgentParams{Config: &ai.AgentConfig{
		Name: "Atendente", Type: ai.TypeCustom, SystemPrompt: "Você ajuda clientes.", Capabilities: caps,
	}})
	require.NoError(e.t, err)
	return a
}
