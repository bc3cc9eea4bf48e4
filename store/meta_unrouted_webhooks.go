package store

import (
	"context"
	"fmt"
)

// MetaUnroutedWebhookQuery runs the statements of wa.meta_unrouted_webhooks
// (deliveries that named no known number or WABA).
type MetaUnroutedWebhookQuery struct{ db DB }

// MetaUnroutedWebhooks returns the unrouted webhook queries.
func (s *Store) MetaUnroutedWebhooks() MetaUnroutedWebhookQuery {
	return MetaUnroutedWebhookQuery{s.db}
}

// RecordUnrouted counts one delivery per (entry id, field, event) of the
// parallel slices; rows unseen for 30 days are pruned.
func (q MetaUnroutedWebhookQuery) RecordUnrouted(ctx context.Context, entries, fields, events []string, size int) error {
	_, err := q.db.Exec(ctx, `
WITH pruned AS (
  DELETE FROM wa.meta_unrouted_webhooks WHERE last_seen_at < now() - interval '30 days'
)
INSERT INTO wa.meta_unrouted_webhooks AS u (entry_id, field, event, bytes)
SELECT e, f, v, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS x(e, f, v)
ON CONFLICT (entry_id, field, event) DO UPDATE
   SET deliveries = u.deliveries + 1, bytes = u.bytes + EXCLUDED.bytes, last_seen_at = now()`,
		entries, fields, events, int64(size))
	if err != nil {
		return fmt.Errorf("store: record unrouted webhook: %w", err)
	}
	return nil
}
