package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/store"
)

// Tables the janitor prunes (the values of the table label of
// zapbase_retention_pruned_rows_total).
const (
	TableIdempotencyKeys = "idempotency_keys"
	TableWebhookInbox    = "webhook_inbox"
	TableAuditLog        = "audit_log"
	TableLeaseHolders    = "lease_holders"
	// Outgoing webhooks (issue 21).
	TableChangeLog         = "change_log"
	TableWebhookDeliveries = "webhook_deliveries"
)

// Defaults. DefaultIdempotency is what the API promises for Idempotency-Key
// replays; DefaultWebhookInbox matches Meta's redelivery window (7 days), so
// a late duplicate still finds its processed row and is not reprocessed.
const (
	DefaultIdempotency  = 48 * time.Hour
	DefaultWebhookInbox = 7 * 24 * time.Hour
	DefaultInterval     = time.Hour
	DefaultStartDelay   = time.Minute
	DefaultBatchSize    = 5000
	DefaultBatchPause   = 100 * time.Millisecond
	// LeaseHolderGrace: a lease holder expired this long ago is a replica
	// that died without unregistering (live ones renew every few seconds).
	LeaseHolderGrace = 24 * time.Hour
)

// Defaults of the outgoing webhook tables (issue 21). DefaultChangeLog
// keeps the change feed long enough for a stalled consumer (SSE client,
// webhook fan-out) to resume after a weekend.
const (
	DefaultChangeLog         = 72 * time.Hour
	DefaultWebhookDeliveries = 7 * 24 * time.Hour
)

// KeepForever, as a retention, keeps that table's rows forever (river's
// convention: zero takes the default, a negative value disables).
const KeepForever time.Duration = -1

// LockKey is the advisory lock key that elects the replica running the
// janitor ("zapbase retention").
const LockKey int64 = 0x7a62_7265_7465_6e74

// Observer receives the rows pruned per table (*metrics.Metrics in
// production).
type Observer interface {
	RetentionPruned(table string, rows int)
}

// Config configures a Janitor. Every zero field takes its default (the
// constants above); a retention of KeepForever (any negative value) keeps
// that table's rows forever.
type Config struct {
	// Pool gives the janitor one dedicated connection per run: its lock is
	// a session advisory lock, held across batches. The statements run on
	// that connection through the data layer (store.RetentionQuery).
	Pool *pgxpool.Pool
	// Idempotency: age (created_at) after which an Idempotency-Key answer is
	// forgotten; a replay after it is a new request (default 48 h).
	Idempotency time.Duration
	// WebhookInbox: age (processed_at) after which a processed webhook
	// delivery is deleted (default 7 days). Unprocessed rows are never
	// deleted.
	WebhookInbox time.Duration
	// AuditLog: age (created_at) after which audit entries are deleted
	// (default: kept forever).
	AuditLog time.Duration
	// ChangeLog: age (created_at) after which wa.change_log rows are
	// deleted — never rows the webhook fan-out has not passed while a
	// subscription is active (0: kept forever).
	ChangeLog time.Duration
	// WebhookDeliveries: age (last change) after which delivered and dead
	// outgoing webhook deliveries are deleted (0: kept forever).
	WebhookDeliveries time.Duration
	// Interval between runs (default 1 h); StartDelay before the first one
	// (default 1 min, so a restart storm does not prune at once).
	Interval   time.Duration
	StartDelay time.Duration
	// BatchSize rows per DELETE (default 5000); BatchPause between batches
	// (default 100 ms).
	BatchSize  int
	BatchPause time.Duration
	Observer   Observer
	Logger     *slog.Logger
}

// Result is the outcome of one run.
type Result struct {
	// Ran is false when another replica held the janitor lock.
	Ran bool
	// Pruned counts deleted rows per table.
	Pruned map[string]int64
}

// Janitor periodically prunes old rows. Start/Stop run it in the background;
// RunOnce runs one pass.
type Janitor struct {
	startstop.BaseStartStop

	cfg Config
	log *slog.Logger

	// afterBatchFunc is a test hook called after every batch, lock held.
	afterBatchFunc func(table string, rows int64)
}

// New validates cfg and returns a janitor (not started).
func New(cfg Config) (*Janitor, error) {
	if cfg.Pool == nil {
		return nil, errors.New("retention: pool is required")
	}
	if cfg.Idempotency == 0 {
		cfg.Idempotency = DefaultIdempotency
	}
	if cfg.WebhookInbox == 0 {
		cfg.WebhookInbox = DefaultWebhookInbox
	}
	if cfg.AuditLog == 0 {
		cfg.AuditLog = KeepForever
	}
	if cfg.ChangeLog == 0 {
		cfg.ChangeLog = DefaultChangeLog
	}
	if cfg.WebhookDeliveries == 0 {
		cfg.WebhookDeliveries = DefaultWebhookDeliveries
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.StartDelay <= 0 {
		cfg.StartDelay = DefaultStartDelay
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchPause <= 0 {
		cfg.BatchPause = DefaultBatchPause
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Janitor{cfg: cfg, log: cfg.Logger.With("component", "retention")}, nil
}

// task is one table's pruning statement (at most PruneParams.Limit rows
// per call).
type task struct {
	table     string
	retention time.Duration
	prune     func(store.RetentionQuery, context.Context, store.PruneParams) (int64, error)
}

func (j *Janitor) tasks() []task {
	all := []task{
		{TableIdempotencyKeys, j.cfg.Idempotency, store.RetentionQuery.PruneIdempotencyKeys},
		{TableWebhookInbox, j.cfg.WebhookInbox, store.RetentionQuery.PruneWebhookInbox},
		{TableAuditLog, j.cfg.AuditLog, store.RetentionQuery.PruneAuditLog},
		{TableLeaseHolders, LeaseHolderGrace, store.RetentionQuery.PruneLeaseHolders},
		// The feed is read in (txid, id) order, so its oldest rows come
		// first: a batch takes the first rows and deletes those old enough
		// (a short batch ends the run).
		{TableChangeLog, j.cfg.ChangeLog, store.RetentionQuery.PruneChangeLog},
		{TableWebhookDeliveries, j.cfg.WebhookDeliveries, store.RetentionQuery.PruneWebhookDeliveries},
	}
	out := all[:0]
	for _, t := range all {
		if t.retention > 0 {
			out = append(out, t)
		}
	}
	return out
}

// RunOnce runs one pass if this replica gets the janitor lock (Result.Ran
// false otherwise). A cancelled ctx stops between batches; what was deleted
// stays deleted.
func (j *Janitor) RunOnce(ctx context.Context) (Result, error) {
	res := Result{Pruned: map[string]int64{}}
	conn, err := j.cfg.Pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("retention: acquire connection: %w", err)
	}
	q := store.On(conn).Retention()
	locked, err := q.TryLock(ctx, LockKey)
	if err != nil {
		conn.Release()
		return res, fmt.Errorf("retention: take lock: %w", err)
	}
	if !locked {
		conn.Release()
		j.log.Debug("retention run skipped: another replica holds the lock")
		return res, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := q.Unlock(uctx, LockKey); err != nil {
			// Closing the session releases its advisory locks.
			j.log.Warn("retention: unlock failed, closing the connection", "error", err)
			_ = conn.Hijack().Close(uctx)
			return
		}
		conn.Release()
	}()
	res.Ran = true
	start := time.Now()
	var errs []error
	for _, t := range j.tasks() {
		n, err := j.prune(ctx, q, t)
		res.Pruned[t.table] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: prune %s: %w", t.table, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	var total int64
	for _, n := range res.Pruned {
		total += n
	}
	if total > 0 || len(errs) > 0 {
		args := []any{"duration", time.Since(start).String()}
		for table, n := range res.Pruned {
			args = append(args, table, n)
		}
		j.log.Info("retention run", args...)
	}
	return res, errors.Join(errs...)
}

// prune deletes t's old rows batch by batch until a batch comes back short.
func (j *Janitor) prune(ctx context.Context, q store.RetentionQuery, t task) (int64, error) {
	var total int64
	for {
		n, err := t.prune(q, ctx, store.PruneParams{OlderThan: t.retention, Limit: j.cfg.BatchSize})
		if err != nil {
			return total, err
		}
		total += n
		if n > 0 && j.cfg.Observer != nil {
			j.cfg.Observer.RetentionPruned(t.table, int(n))
		}
		if j.afterBatchFunc != nil {
			j.afterBatchFunc(t.table, n)
		}
		if n < int64(j.cfg.BatchSize) {
			return total, nil
		}
		// Let other transactions (and autovacuum) in between batches.
		timer := time.NewTimer(j.cfg.BatchPause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return total, ctx.Err()
		case <-timer.C:
		}
	}
}

// Start runs the janitor in the background: the first pass after
// StartDelay, then every Interval. It never fails (the database may be down
// now and up at the next pass). Cancelling ctx stops the janitor; Start on a
// running janitor is a no-op.
func (j *Janitor) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := j.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		timer := time.NewTimer(j.cfg.StartDelay)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
				j.log.Warn("retention run failed", "error", err)
			}
			timer.Reset(j.cfg.Interval)
		}
	}()
	return nil
}

// Stop ends the background loop (a batch in progress finishes or is
// cancelled) and waits for it. Idempotent.
func (j *Janitor) Stop() { j.BaseStartStop.Stop() }
