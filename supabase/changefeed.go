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
