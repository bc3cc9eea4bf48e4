package store

import (
	"context"
	"fmt"
)

// ChangeLogQuery runs the statements of wa.change_log, the change feed
// that SSE and outgoing webhooks read. Triggers on public.messages and
// public.whatsapp_sessions write most of it; the sidecar writes the events
// that are not rows (calls, presence).
type ChangeLogQuery struct{ db DB }

// ChangeLog returns the queries of wa.change_log.
func (s *Store) ChangeLog() ChangeLogQuery { return ChangeLogQuery{s.db} }

// RecordChangeParams describe a feed event.
type RecordChangeParams struct {
	TenantID  string
	Topic     string
	SessionID string // "" for none
	Chat      string // "" for none
	Data      []byte // JSON object
}

const recordChangeSQL = `
INSERT INTO wa.change_log (tenant_id, topic, session_id, chat, data)
VALUES ($1, $2, nullif($3, '')::uuid, nullif($4, ''), $5)`

// Record appends an event to the feed.
func (q ChangeLogQuery) Record(ctx context.Context, p RecordChangeParams) error {
	if _, err := q.db.Exec(ctx, recordChangeSQL, p.TenantID, p.Topic, p.SessionID, p.Chat, p.Data); err != nil {
		return fmt.Errorf("store: record change: %w", err)
	}
	return nil
}
