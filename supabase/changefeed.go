package supabase

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase/providers"
)

// ChangeFeed writes provider events that are not message rows (calls,
// presence) into the change feed wa.change_log, which SSE and outgoing
// webhooks read. It implements providers.FeedSink.
type ChangeFeed struct {
	Pool *pgxpool.Pool
}

var _ providers.FeedSink = ChangeFeed{}

// RecordEvent implements providers.FeedSink.
func (f ChangeFeed) RecordEvent(ctx context.Context, e providers.FeedEvent) error {
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Topic, err)
	}
	_, err = f.Pool.Exec(ctx, `
INSERT INTO wa.change_log (tenant_id, topic, session_id, chat, data)
VALUES ($1, $2, nullif($3, '')::uuid, nullif($4, ''), $5)`, e.TenantID, e.Topic, e.SessionID, e.Chat, b)
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Topic, err)
	}
	return nil
}

var _ providers.Outbox = ChangeFeed{}

// QueueText implements providers.Outbox: a pending outbound row, picked up
// by the listener like one inserted by supabase-js.
func (f ChangeFeed) QueueText(ctx context.Context, q providers.QueuedText) error {
	_, err := f.Pool.Exec(ctx, `
INSERT INTO public.messages (tenant_id, session_id, direction, to_number, message_type, content, provider, metadata)
VALUES ($1, $2, 'outbound', $3, 'text', jsonb_build_object('text', $4::text), $5,
        jsonb_strip_nulls(jsonb_build_object('trigger', nullif($6::text, ''))))`,
		q.TenantID, q.SessionID, q.To, q.Text, q.Provider, q.Trigger)
	if err != nil {
		return fmt.Errorf("queue text to %s: %w", q.To, err)
	}
	return nil
}
