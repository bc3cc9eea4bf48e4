package retention

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/startstop/startstoptest"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

type fixture struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	tenant string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, devdbtest.NewDatabase(t), supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	f := &fixture{ctx: ctx, pool: pool}
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('acme', 'Acme') RETURNING id::text`).Scan(&f.tenant))
	return f
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := f.pool.Exec(f.ctx, sql, args...)
	require.NoError(t, err)
}

func (f *fixture) strings(t *testing.T, sql string) []string {
	t.Helper()
	rows, err := f.pool.Query(f.ctx, sql)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// idem inserts an Idempotency-Key answer created age ago.
func (f *fixture) idem(t *testing.T, key string, age time.Duration) {
	f.exec(t, `INSERT INTO wa.idempotency_keys (tenant_id, key, request_hash, status_code, response, created_at)
VALUES ($1, $2, '\x00', 202, '{}', now() - make_interval(secs => $3))`, f.tenant, key, age.Seconds())
}

// inbox inserts a webhook delivery received age ago; processedAge < 0 leaves
// it unprocessed.
func (f *fixture) inbox(t *testing.T, key string, age, processedAge time.Duration) {
	var processed any
	if processedAge >= 0 {
		processed = processedAge.Seconds()
	}
	f.exec(t, `INSERT INTO wa.webhook_inbox (source, tenant_id, dedupe_key, payload, received_at, processed_at, attempts)
VALUES ('meta', $1, $2, '\x7b7d', now() - make_interval(secs => $3),
        now() - make_interval(secs => $4::double precision), 1)`, f.tenant, key, age.Seconds(), processed)
}

func (f *fixture) audit(t *testing.T, action string, age time.Duration) {
	f.exec(t, `INSERT INTO wa.audit_log (tenant_id, actor, action, result, created_at)
VALUES ($1, 'test', $2, 'ok', now() - make_interval(secs => $3))`, f.tenant, action, age.Seconds())
}

// recorder is an Observer.
type recorder struct {
	mu     sync.Mutex
	pruned map[string]int
}

func (r *recorder) RetentionPruned(table string, rows int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pruned == nil {
		r.pruned = map[string]int{}
	}
	r.pruned[table] += rows
}

const day = 24 * time.Hour

func TestRunOncePrunesOldRowsOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Idempotency answers: 7 past the 48 h retention, 2 recent.
	for i := range 7 {
		f.idem(t, fmt.Sprintf("old-%d", i), 49*time.Hour+time.Duration(i)*time.Minute)
	}
	f.idem(t, "recent-1", time.Hour)
	f.idem(t, "recent-2", 47*time.Hour)
	// Webhook inbox: old processed rows go; old unprocessed rows (still
	// retrying, or never claimed) and recently processed rows stay.
	for i := range 5 {
		f.inbox(t, fmt.Sprintf("old-processed-%d", i), 9*day, 8*day)
	}
	f.inbox(t, "old-unprocessed", 30*day, -1)
	f.exec(t, `UPDATE wa.webhook_inbox SET attempts = 12, last_error = 'boom' WHERE dedupe_key = 'old-unprocessed'`)
	f.inbox(t, "old-received-recently-processed", 9*day, day)
	f.inbox(t, "new-processed", time.Minute, time.Minute)
	f.inbox(t, "new-unprocessed", time.Minute, -1)
	// Audit log: kept by default, whatever its age.
	f.audit(t, "old.action", 400*day)
	f.audit(t, "new.action", time.Minute)
	// Lease holders: one died long ago, one is live.
	f.exec(t, `INSERT INTO wa.lease_holders (holder, expires_at) VALUES ('dead', now() - interval '2 days'), ('live', now() + interval '15 seconds')`)

	obs := &recorder{}
	var batches []string
	j, err := New(Config{Pool: f.pool, Idempotency: DefaultIdempotency, WebhookInbox: DefaultWebhookInbox,
		BatchSize: 3, BatchPause: time.Millisecond, Observer: obs})
	require.NoError(t, err)
	j.afterBatchFunc = func(table string, rows int64) { batches = append(batches, fmt.Sprintf("%s:%d", table, rows)) }
	res, err := j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.True(t, res.Ran)
	// The change feed and webhook deliveries run too (their defaults), with
	// nothing old enough to prune.
	require.Equal(t, map[string]int64{TableIdempotencyKeys: 7, TableWebhookInbox: 5, TableLeaseHolders: 1,
		TableChangeLog: 0, TableWebhookDeliveries: 0}, res.Pruned)
	require.Equal(t, map[string]int{TableIdempotencyKeys: 7, TableWebhookInbox: 5, TableLeaseHolders: 1}, obs.pruned)
	// Bounded batches: 3 + 3 + 1 idempotency rows, 3 + 2 inbox rows.
	require.Equal(t, []string{"idempotency_keys:3", "idempotency_keys:3", "idempotency_keys:1",
		"webhook_inbox:3", "webhook_inbox:2", "lease_holders:1", "change_log:0", "webhook_deliveries:0"}, batches)

	require.ElementsMatch(t, []string{"recent-1", "recent-2"}, f.strings(t, `SELECT key FROM wa.idempotency_keys`))
	require.ElementsMatch(t, []string{"old-unprocessed", "old-received-recently-processed", "new-processed", "new-unprocessed"},
		f.strings(t, `SELECT dedupe_key FROM wa.webhook_inbox`))
	require.ElementsMatch(t, []string{"old.action", "new.action"}, f.strings(t, `SELECT action FROM wa.audit_log`))
	require.ElementsMatch(t, []string{"live"}, f.strings(t, `SELECT holder FROM wa.lease_holders`))

	// A second pass finds nothing; the lock was released.
	res, err = j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.True(t, res.Ran)
	require.Zero(t, res.Pruned[TableIdempotencyKeys]+res.Pruned[TableWebhookInbox])
}

func TestAuditLogRetentionWhenConfigured(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.audit(t, "old.action", 91*day)
	f.audit(t, "new.action", 89*day)
	f.idem(t, "old", 400*day)
	f.inbox(t, "old", 400*day, 400*day)
	// Only the audit log has a retention: the other tables are kept.
	j, err := New(Config{Pool: f.pool, AuditLog: 90 * day, Idempotency: KeepForever, WebhookInbox: KeepForever})
	require.NoError(t, err)
	res, err := j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Pruned[TableAuditLog])
	require.Equal(t, []string{"new.action"}, f.strings(t, `SELECT action FROM wa.audit_log`))
	require.Equal(t, []string{"old"}, f.strings(t, `SELECT key FROM wa.idempotency_keys`))
	require.Equal(t, []string{"old"}, f.strings(t, `SELECT dedupe_key FROM wa.webhook_inbox`))
}

func TestOnlyOneJanitorRunsAtATime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 4 {
		f.idem(t, fmt.Sprintf("old-%d", i), 3*day)
	}
	cfg := Config{Pool: f.pool, Idempotency: DefaultIdempotency, WebhookInbox: DefaultWebhookInbox, BatchSize: 2, BatchPause: time.Millisecond}
	a, err := New(cfg)
	require.NoError(t, err)
	b, err := New(cfg)
	require.NoError(t, err)

	// a stops inside its run, lock held, after its first batch.
	inside, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.afterBatchFunc = func(string, int64) {
		once.Do(func() {
			close(inside)
			<-resume
		})
	}
	type outcome struct {
		res Result
		err error
	}
	aDone := make(chan outcome, 1)
	go func() {
		res, err := a.RunOnce(f.ctx)
		aDone <- outcome{res, err}
	}()
	<-inside

	// b, on another connection, does not get the lock: it skips the run and
	// deletes nothing.
	var bBatches int
	b.afterBatchFunc = func(string, int64) { bBatches++ }
	res, err := b.RunOnce(f.ctx)
	require.NoError(t, err)
	require.False(t, res.Ran)
	require.Zero(t, bBatches)
	require.Len(t, f.strings(t, `SELECT key FROM wa.idempotency_keys`), 2, "only a's first batch is gone")

	close(resume)
	out := <-aDone
	require.NoError(t, out.err)
	require.True(t, out.res.Ran)
	require.Equal(t, int64(4), out.res.Pruned[TableIdempotencyKeys])

	// a released the lock: b runs now.
	res, err = b.RunOnce(f.ctx)
	require.NoError(t, err)
	require.True(t, res.Ran)
}

func TestStartRunsInTheBackgroundAndStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.idem(t, "old", 3*day)
	obs := &prunedSignal{ch: make(chan string, 8)}
	j, err := New(Config{Pool: f.pool, Idempotency: DefaultIdempotency, StartDelay: time.Millisecond, Interval: time.Hour, Observer: obs})
	require.NoError(t, err)
	require.NoError(t, j.Start(f.ctx))
	select {
	case table := <-obs.ch:
		require.Equal(t, TableIdempotencyKeys, table)
	case <-time.After(30 * time.Second):
		t.Fatal("the background pass never pruned")
	}
	j.Stop()
	j.Stop() // idempotent
	require.Empty(t, f.strings(t, `SELECT key FROM wa.idempotency_keys`))
}

type prunedSignal struct{ ch chan string }

func (p *prunedSignal) RetentionPruned(table string, _ int) { p.ch <- table }

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.Error(t, err)
}

// TestZeroIsDefault: zero retentions take the defaults (the audit log is
// kept by default), KeepForever keeps a table.
func TestZeroIsDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.idem(t, "old", 3*day)
	f.inbox(t, "old", 8*day, 8*day)
	f.audit(t, "old.action", 400*day)
	j, err := New(Config{Pool: f.pool})
	require.NoError(t, err)
	res, err := j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Pruned[TableIdempotencyKeys])
	require.Equal(t, int64(1), res.Pruned[TableWebhookInbox])
	require.Zero(t, res.Pruned[TableAuditLog])
	require.Equal(t, []string{"old.action"}, f.strings(t, `SELECT action FROM wa.audit_log`))

	f.idem(t, "again", 3*day)
	j, err = New(Config{Pool: f.pool, Idempotency: KeepForever})
	require.NoError(t, err)
	res, err = j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.Zero(t, res.Pruned[TableIdempotencyKeys])
	require.Equal(t, []string{"again"}, f.strings(t, `SELECT key FROM wa.idempotency_keys`))
}

func TestStartStopStress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j, err := New(Config{Pool: f.pool, Idempotency: DefaultIdempotency, StartDelay: time.Millisecond, Interval: time.Millisecond})
	require.NoError(t, err)
	startstoptest.Stress(f.ctx, t, j)

	// Cancelling the start context stops the janitor too.
	ctx, cancel := context.WithCancel(f.ctx)
	require.NoError(t, j.Start(ctx))
	<-j.Started()
	cancel()
	<-j.Stopped()
}

// The change feed is trimmed by age, but never past what the webhook
// fan-out still has to read while a subscription is active; finished
// webhook deliveries go after their retention, open ones never.
func TestChangeLogAndWebhookDeliveriesRetention(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.exec(t, `DELETE FROM wa.change_log`)
	for i, age := range []time.Duration{100 * time.Hour, 90 * time.Hour, 80 * time.Hour, time.Hour} {
		f.exec(t, `INSERT INTO wa.change_log (tenant_id, topic, chat, created_at) VALUES ($1, 'message.received', $2, now() - make_interval(secs => $3))`,
			f.tenant, fmt.Sprint(i), age.Seconds())
	}
	// An active subscription whose fan-out has passed only the first row.
	var subID string
	require.NoError(t, f.pool.QueryRow(f.ctx, `INSERT INTO wa.webhook_subscriptions (tenant_id, url, events, secret_key_id, secret_ciphertext)
VALUES ($1, 'https://example.com/hook', '{message.received}', 'k', '\x00') RETURNING id::text`, f.tenant).Scan(&subID))
	f.exec(t, `UPDATE wa.webhook_cursor SET (txid, id) = (SELECT txid, id FROM wa.change_log ORDER BY txid, id LIMIT 1) WHERE name = 'fanout'`)
	for _, st := range []struct {
		state string
		age   time.Duration
	}{{"delivered", 8 * day}, {"dead", 8 * day}, {"pending", 8 * day}, {"delivered", day}} {
		f.exec(t, `INSERT INTO wa.webhook_deliveries (tenant_id, subscription_id, event, event_id, ordering_key, payload, state, updated_at)
VALUES ($1, $2, 'message.received', 'e', 'k', '{}', $3, now() - make_interval(secs => $4))`, f.tenant, subID, st.state, st.age.Seconds())
	}
	j, err := New(Config{Pool: f.pool, ChangeLog: DefaultChangeLog, WebhookDeliveries: DefaultWebhookDeliveries, BatchSize: 2})
	require.NoError(t, err)
	res, err := j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Pruned[TableChangeLog], "rows the fan-out has not read stay")
	require.Equal(t, []string{"1", "2", "3"}, f.strings(t, `SELECT chat FROM wa.change_log ORDER BY txid, id`))
	require.Equal(t, int64(2), res.Pruned[TableWebhookDeliveries])
	require.ElementsMatch(t, []string{"pending", "delivered"}, f.strings(t, `SELECT state FROM wa.webhook_deliveries`))

	// Without an active subscription, age alone decides.
	f.exec(t, `UPDATE wa.webhook_subscriptions SET is_active = false`)
	res, err = j.RunOnce(f.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), res.Pruned[TableChangeLog])
	require.Equal(t, []string{"3"}, f.strings(t, `SELECT chat FROM wa.change_log ORDER BY txid, id`))
}
