package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WebhookInboxQuery runs the statements of wa.webhook_inbox (verified
// webhook deliveries stored before they are answered, processed later).
type WebhookInboxQuery struct{ db DB }

// WebhookInbox returns the webhook inbox queries.
func (s *Store) WebhookInbox() WebhookInboxQuery { return WebhookInboxQuery{s.db} }

// InboxRow is one delivery to store (Tenant and Traceparent nil when
// unknown).
type InboxRow struct {
	Tenant      *string
	Key         string
	Body        []byte
	Traceparent *string
}

// InsertInbox stores rows of source in one statement (idempotent on
// source and dedupe key).
func (q WebhookInboxQuery) InsertInbox(ctx context.Context, source string, rows []InboxRow) error {
	tenants := make([]*string, len(rows))
	keys := make([]string, len(rows))
	bodies := make([][]byte, len(rows))
	traces := make([]*string, len(rows))
	for i, r := range rows {
		tenants[i], keys[i], bodies[i], traces[i] = r.Tenant, r.Key, r.Body, r.Traceparent
	}
	_, err := q.db.Exec(ctx, `
INSERT INTO wa.webhook_inbox (source, tenant_id, dedupe_key, payload, traceparent)
SELECT $1, t, k, p, tp FROM unnest($2::uuid[], $3::text[], $4::bytea[], $5::text[]) AS u(t, k, p, tp)
ON CONFLICT (source, dedupe_key) DO NOTHING`, source, tenants, keys, bodies, traces)
	if err != nil {
		return fmt.Errorf("store: write webhook inbox: %w", err)
	}
	return nil
}

// InboxItem is a claimed delivery.
type InboxItem struct {
	ID          int64
	Payload     []byte
	Attempts    int
	Traceparent string
}

const claimInboxSQL = `
WITH c AS (
  SELECT id FROM wa.webhook_inbox
   WHERE source = $1 AND processed_at IS NULL AND next_attempt_at <= now()
   ORDER BY next_attempt_at, id
   LIMIT $2
   FOR UPDATE SKIP LOCKED)
UPDATE wa.webhook_inbox i
   SET attempts = i.attempts + 1, next_attempt_at = now() + $3::interval
  FROM c WHERE i.id = c.id
RETURNING i.id, i.payload, i.attempts, coalesce(i.traceparent, '')`

// ClaimInbox claims up to limit due deliveries of source, leasing each for
// lease (a crash mid-processing is retried by any replica).
func (q WebhookInboxQuery) ClaimInbox(ctx context.Context, source string, limit int, lease time.Duration) ([]InboxItem, error) {
	rows, err := q.db.Query(ctx, claimInboxSQL, source, limit, lease.String())
	if err != nil {
		return nil, fmt.Errorf("store: claim webhooks: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxItem, error) {
		var it InboxItem
		err := r.Scan(&it.ID, &it.Payload, &it.Attempts, &it.Traceparent)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim webhooks: %w", err)
	}
	return items, nil
}

// MarkInboxProcessed marks a delivery processed.
func (q WebhookInboxQuery) MarkInboxProcessed(ctx context.Context, id int64) error {
	if _, err := q.db.Exec(ctx, `UPDATE wa.webhook_inbox SET processed_at = now(), last_error = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: mark webhook %d processed: %w", id, err)
	}
	return nil
}

// RetryInbox records a delivery's failure and retries it in retryIn.
func (q WebhookInboxQuery) RetryInbox(ctx context.Context, id int64, lastError string, retryIn time.Duration) error {
	if _, err := q.db.Exec(ctx, `
UPDATE wa.webhook_inbox SET last_error = $2, next_attempt_at = now() + $3::interval WHERE id = $1`,
		id, lastError, retryIn.String()); err != nil {
		return fmt.Errorf("store: retry webhook %d: %w", id, err)
	}
	return nil
}

// ExtendInboxLease pushes the lease of an unprocessed delivery to at least
// d (plus a minute) from now.
func (q WebhookInboxQuery) ExtendInboxLease(ctx context.Context, id int64, d time.Duration) error {
	if _, err := q.db.Exec(ctx, `
UPDATE wa.webhook_inbox SET next_attempt_at = greatest(next_attempt_at, now() + $2::interval + interval '1 minute')
 WHERE id = $1 AND processed_at IS NULL`, id, d.String()); err != nil {
		return fmt.Errorf("store: extend webhook %d lease: %w", id, err)
	}
	return nil
}
