package store

import (
	"context"
	"fmt"
	"time"
)

// RetentionQuery runs the retention janitor's statements: its advisory
// lock and one batched DELETE per pruned table. Each prune deletes at most
// Limit rows older than OlderThan and returns how many it deleted.
type RetentionQuery struct{ db DB }

// Retention returns the retention janitor's queries. The lock is a session
// lock: run them on a Store over one dedicated connection (On(conn)).
func (s *Store) Retention() RetentionQuery { return RetentionQuery{s.db} }

// PruneParams bound one pruning batch.
type PruneParams struct {
	OlderThan time.Duration // rows older than this go
	Limit     int           // rows per batch at most
}

const tryLockRetentionSQL = `SELECT pg_try_advisory_lock($1)`

// TryLock takes the janitor's session advisory lock key if it is free.
func (q RetentionQuery) TryLock(ctx context.Context, key int64) (bool, error) {
	var locked bool
	if err := q.db.QueryRow(ctx, tryLockRetentionSQL, key).Scan(&locked); err != nil {
		return false, fmt.Errorf("store: retention lock: %w", err)
	}
	return locked, nil
}

const unlockRetentionSQL = `SELECT pg_advisory_unlock($1)`

// Unlock releases the janitor's session advisory lock key.
func (q RetentionQuery) Unlock(ctx context.Context, key int64) error {
	if _, err := q.db.Exec(ctx, unlockRetentionSQL, key); err != nil {
		return fmt.Errorf("store: retention unlock: %w", err)
	}
	return nil
}

// prune runs one pruning statement: $1 retention in seconds, $2 batch size.
func (q RetentionQuery) prune(ctx context.Context, table, sql string, p PruneParams) (int64, error) {
	tag, err := q.db.Exec(ctx, sql, p.OlderThan.Seconds(), p.Limit)
	if err != nil {
		return 0, fmt.Errorf("store: prune %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}

const pruneIdempotencyKeysSQL = `
DELETE FROM wa.idempotency_keys k
 USING (SELECT tenant_id, key FROM wa.idempotency_keys
         WHERE created_at < now() - make_interval(secs => $1)
         LIMIT $2 FOR UPDATE SKIP LOCKED) old
 WHERE k.tenant_id = old.tenant_id AND k.key = old.key`

// PruneIdempotencyKeys forgets Idempotency-Key answers (by created_at).
func (q RetentionQuery) PruneIdempotencyKeys(ctx context.Context, p PruneParams) (int64, error) {
	return q.prune(ctx, "idempotency_keys", pruneIdempotencyKeysSQL, p)
}

const pruneWebhookInboxSQL = `
DELETE FROM wa.webhook_inbox WHERE id IN (
  SELECT id FROM wa.webhook_inbox
   WHERE processed_at IS NOT NULL AND processed_at < now() - make_interval(secs => $1)
   LIMIT $2 FOR UPDATE SKIP LOCKED)`

// PruneWebhookInbox deletes processed inbound webhook deliveries (by
// processed_at); unprocessed ones are never deleted.
func (q RetentionQuery) PruneWebhookInbox(ctx context.Context, p PruneParams) (int64, error) {
	return q.prune(ctx, "webhook_inbox", pruneWebhookInboxSQL, p)
}

const pruneAuditLogSQL = `
DELETE FROM wa.audit_log WHERE id IN (
  SELECT id FROM wa.audit_log
   WHERE created_at < now() - make_interval(secs => $1)
   LIMIT $2 FOR UPDATE SKIP LOCKED)`

// PruneAuditLog deletes audit entries (by created_at).
func (q RetentionQuery) PruneAuditLog(ctx context.Context, p PruneParams) (int64, error) {
	return q.prune(ctx, "audit_log", pruneAuditLogSQL, p)
}

const pruneLeaseHoldersSQL = `
DELETE FROM wa.lease_holders WHERE holder IN (
  SELECT holder FROM wa.lease_holders
   WHERE expires_at < now() - make_interval(secs => $1)
   LIMIT $2 FOR UPDATE SKIP LOCKED)`

// PruneLeaseHolders deletes lease holders expired for OlderThan (replicas
// that died without unregistering).
func (q RetentionQuery) PruneLeaseHolders(ctx context.Context, p PruneParams) (int64, error) {
	return q.prune(ctx, "lease_holders", pruneLeaseHoldersSQL, p)
}

// pruneChangeLogSQL: the feed is read in (txid, id) order, so its oldest
// rows come first: take the first $2 and delete those old enough (a short
// batch ends the run) — never rows the webhook fan-out has not passed while
// a subscription is active.
const pruneChangeLogSQL = `
DELETE FROM wa.change_log c
 USING (SELECT txid, id FROM wa.change_log ORDER BY txid, id LIMIT $2) first
 WHERE c.txid = first.txid AND c.id = first.id
   AND c.created_at < now() - make_interval(secs => $1)
   AND (NOT EXISTS (SELECT 1 FROM wa.webhook_subscriptions s WHERE s.is_active)
        OR (c.txid, c.id) <= (SELECT k.txid, k.id FROM wa.webhook_cursor k WHERE k.name = 'fanout'))`

// PruneChangeLog deletes old change-feed rows (by created_at).
func (q RetentionQuery) PruneChangeLog(ctx context.Context, p PruneParams) (int64, error) {
	return q.prune(ctx, "change_log", pruneChangeLogSQL, p)
}

const pruneWebhookDeliveriesSQL = `
DELETE FROM wa.webhook_deliveries WHERE id IN (
  SELECT id FROM wa.webhook_deliveries
   WHERE state IN (` + sqlWebhookDelivered + `, ` + sqlWebhookDead + `) AND updated_at < now() - make_interval(secs => $1)
   LIMIT $2 FOR UPDATE SKIP LOCKED)`

// PruneWebhookDeliveries deletes delivered and dead outgoing webhook
// deliveries (by their last change).
func (q RetentionQuery) PruneWebhookDeliveries(ctx context.Context, p PruneParams) (int64, error) {
	return q.prune(ctx, "webhook_deliveries", pruneWebhookDeliveriesSQL, p)
}
