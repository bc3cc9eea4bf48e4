package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
)

// recorder is a dispatch.Observer that counts what it is told.
type recorder struct {
	mu        sync.Mutex
	counts    map[string]int
	latencies []time.Duration
}

func (r *recorder) add(key string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[key] += n
}

func (r *recorder) get(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}

func (r *recorder) SendAccepted(tenant, provider string, d time.Duration) {
	r.add("sent/"+provider, 1)
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.mu.Unlock()
}
func (r *recorder) SendFailed(tenant, provider string)    { r.add("failed/"+provider, 1) }
func (r *recorder) SendAmbiguous(tenant, provider string) { r.add("ambiguous/"+provider, 1) }
func (r *recorder) SendRetried(tenant, provider, class string) {
	r.add("retry/"+provider+"/"+class, 1)
}
func (r *recorder) ProviderRouted(requested, provider string) {
	r.add("routed/"+requested+"/"+provider, 1)
}
func (r *recorder) SetDispatchQueueDepth(n int)       { r.add("depth_set", 1) }
func (r *recorder) SetDispatchInFlight(n int)         { r.add("inflight_set", 1) }
func (r *recorder) Wakeup(source string, rows int)    { r.add("wake/"+source, rows) }
func (r *recorder) ReconcileFound(kind string, n int) { r.add("found/"+kind, n) }

var _ dispatch.Observer = (*recorder)(nil)

func TestObserverSeesEveryOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	sb := newSandbox(t, sandbox.Config{})
	obs := &recorder{}
	cfg := testConfig("obs")
	cfg.ReconcileInterval = time.Hour // only Wake claims here
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb), Observer: obs})
	wake := func(to string, typ zapbase.MessageType) string {
		t.Helper()
		id := e.insert(e.tenant, msg{to: to, text: "x", typ: typ})[0]
		require.NoError(t, d.Wake(context.Background(), []string{id}))
		return id
	}

	for i := range 3 {
		e.waitStatus(wake(fmt.Sprintf("55110000001%02d", i), ""), zapbase.StatusSent)
	}
	sb.FailRecipient("5511000000200", sandbox.ErrorOf("permanent"))
	e.waitStatus(wake("5511000000200", ""), zapbase.StatusFailed)
	sb.FailRecipient("5511000000201", sandbox.ErrorOf("ambiguous"))
	e.waitStatus(wake("5511000000201", ""), zapbase.StatusFailed)
	e.waitStatus(wake("5511000000202", zapbase.MessageSystem), zapbase.StatusFailed) // unsupported: fails before sending
	sb.FailRecipient("5511000000203", &providers.RateLimitedError{After: time.Hour, Scope: providers.ScopeRecipient, Err: errors.New("131056")})
	id := wake("5511000000203", "")
	e.waitRow(id, "deferred", func(r row) bool { return r.Status == zapbase.StatusPending && r.ErrorCode != "" })

	require.Equal(t, 3, obs.get("sent/sandbox"))
	// permanent + unsupported (which fails at routing, provider "auto", or at
	// the provider, depending on where the capability check runs).
	require.Equal(t, 2, obs.get("failed/sandbox")+obs.get("failed/auto"))
	require.Equal(t, 1, obs.get("ambiguous/sandbox"))
	require.Equal(t, 1, obs.get("retry/sandbox/rate_limited"))
	routed := 0
	obs.mu.Lock()
	for k, n := range obs.counts {
		if strings.HasPrefix(k, "routed/") && strings.HasSuffix(k, "/sandbox") {
			routed += n
		}
	}
	obs.mu.Unlock()
	require.Equal(t, 6, routed, "every row that reached a provider: %v", obs.counts)
	// Wake is the webhook path; on a loaded machine the scan the dispatcher
	// runs once at Start may claim a row before its Wake does.
	require.Equal(t, 7, obs.get("wake/webhook")+obs.get("wake/reconcile"), "every row claimed once: %v", obs.counts)
	require.Positive(t, obs.get("wake/webhook"), "Wake is the webhook path")
	require.Positive(t, obs.get("depth_set"))
	require.Positive(t, obs.get("inflight_set"))
	obs.mu.Lock()
	for _, l := range obs.latencies {
		require.Positive(t, l, "insert to acceptance is measured from created_at")
	}
	obs.mu.Unlock()
}

func TestObserverCountsReconciledRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	ids := e.insert(e.tenant, msg{to: "5511000000301", text: "a"}, msg{to: "5511000000302", text: "b"})
	obs := &recorder{}
	d := e.start(testConfig("obs-scan"), dispatch.Deps{Registry: dispatch.NewRegistry(newSandbox(t, sandbox.Config{})), Observer: obs})
	require.NoError(t, d.Resync(context.Background()))
	for _, id := range ids {
		e.waitStatus(id, zapbase.StatusSent)
	}
	require.Equal(t, 2, obs.get("wake/reconcile"))
	require.Equal(t, 2, obs.get("found/pending"))
	require.Equal(t, 0, obs.get("found/sending"))
	require.Equal(t, 2, obs.get("sent/sandbox"))
}

// The change stream can announce a row a moment before its transaction is
// visible to other sessions. Such a row must not wait for the reconciler:
// HandleInserts tries it again shortly. Here the row is announced while its
// transaction is still open, then committed.
func TestHandleInsertsRetriesRowsNotVisibleYet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	// A row waiting before Start: the start scan claims it, which tells the
	// test that scan is over (the next one is an hour away).
	before := e.insert(e.tenant, msg{to: "5511977776666", text: "antes"})[0]
	obs := &recorder{}
	cfg := testConfig("invisible")
	cfg.ReconcileInterval = time.Hour
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(newSandbox(t, sandbox.Config{})), Observer: obs})
	ctx := context.Background()
	e.waitStatus(before, zapbase.StatusSent)
	require.Equal(t, 1, obs.get("found/pending"), "the start scan ran")

	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	var id string
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, to_number, content)
VALUES ($1, '5511988887777', '{"text":"oi"}') RETURNING id::text`, e.tenant).Scan(&id))
	require.NoError(t, d.HandleInserts(ctx, []string{id}), "an invisible row is accepted, not an error")
	require.Equal(t, 0, obs.get("wake/listener"), "nothing claimable yet")
	require.NoError(t, tx.Commit(ctx))

	e.waitStatus(id, zapbase.StatusSent)
	require.Equal(t, 1, obs.get("wake/listener_retry"), "claimed by the retry, not by a scan")
	require.Equal(t, 1, obs.get("found/pending"), "no scan claimed it")
}
