package store

import (
	"context"
	"fmt"
)

// QueueTextParams describe an outbound text queued by the sidecar itself
// (a simulator's reply), picked up like a row inserted by supabase-js.
type QueueTextParams struct {
	TenantID  string
	SessionID string
	To        string
	Text      string
	Provider  string
	Trigger   string // metadata.trigger; "" for none
}

const queueTextSQL = `
INSERT INTO public.messages (tenant_id, session_id, direction, to_number, message_type, content, provider, metadata)
VALUES ($1, $2, ` + sqlOutbound + `, $3, ` + sqlText + `, jsonb_build_object('text', $4::text), $5,
        jsonb_strip_nulls(jsonb_build_object('trigger', nullif($6::text, ''))))`

// QueueText inserts a pending outbound text row.
func (q MessageQuery) QueueText(ctx context.Context, p QueueTextParams) error {
	if _, err := q.db.Exec(ctx, queueTextSQL, p.TenantID, p.SessionID, p.To, p.Text, p.Provider, p.Trigger); err != nil {
		return fmt.Errorf("store: queue text: %w", err)
	}
	return nil
}
