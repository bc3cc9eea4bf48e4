package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/tracing"
)

// Events implements providers.EventSink over the database: receipts move
// rows forward under the state machine, inbound messages become rows,
// session states are persisted for the frontend (Realtime).
type Events struct {
	pool *pgxpool.Pool
	db   *store.Store // the data layer over pool
	// OnInbound, when set, is called with the row ids of newly inserted
	// inbound messages (to wake the agent runtime without waiting for the
	// listener).
	OnInboundFunc func(ctx context.Context, rowIDs []string)
}

var _ providers.EventSink = (*Events)(nil)

// NewEvents returns an EventSink writing to pool.
func NewEvents(pool *pgxpool.Pool) *Events { return &Events{pool: pool, db: store.New(pool)} }

// receiptSQL applies one receipt (receipts describe outbound messages; the
// direction predicate lets it use messages_provider_message_id_idx fully).
// Rows are locked in id order, like dispatch's batched status writes, so
// the two never deadlock on the same rows. to every matching row whose state may move
// to the new one: late and duplicate receipts match nothing (monotonic).
const receiptSQL = `
WITH target AS (
  SELECT id FROM public.messages
   WHERE tenant_id = $1 AND provider = $2 AND direction = 'outbound' AND message_id = ANY($3)
   ORDER BY id FOR UPDATE
)
UPDATE public.messages m
   SET status = $4,
       error_code = CASE WHEN $4 = 'failed' THEN $5 ELSE m.error_code END,
       error_reason = CASE WHEN $4 = 'failed' THEN $6 ELSE m.error_reason END,
       delivered_at = CASE WHEN $4 = 'delivered' THEN coalesce($7, now()) ELSE m.delivered_at END,
       read_at = CASE WHEN $4 = 'read' THEN coalesce($7, now()) ELSE m.read_at END,
       played_at = CASE WHEN $4 = 'played' THEN coalesce($7, now()) ELSE m.played_at END,
       claimed_by = NULL, claim_expires_at = NULL
  FROM target
 WHERE m.id = target.id AND wa.status_transition_allowed(m.status, $4)`

// Receipt implements providers.EventSink.
func (e *Events) Receipt(ctx context.Context, r providers.Receipt) error {
	if len(r.ProviderMessageIDs) == 0 {
		return nil
	}
	var ts *time.Time
	if !r.Timestamp.IsZero() {
		ts = &r.Timestamp
	}
	// Custom plans: the id list's size matters to the planner.
	_, err := e.pool.Exec(ctx, receiptSQL, pgx.QueryExecModeCacheDescribe, r.TenantID, string(r.Provider), r.ProviderMessageIDs,
		string(r.Status), nullIfEmpty(r.ErrorCode), nullIfEmpty(r.ErrorReason), ts)
	if err != nil {
		return fmt.Errorf("apply receipt %s: %w", r.Status, err)
	}
	return nil
}

const inboundSQL = `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, from_number, to_number,
  message_type, content, status, provider, metadata, created_at, traceparent)
VALUES ($1, $2, $3, 'inbound', $4, $5, $6, $7, 'received', $8, $9, coalesce($10, now()), $11)
ON CONFLICT (tenant_id, provider, direction, message_id) WHERE message_id IS NOT NULL DO NOTHING
RETURNING id`

// Inbound implements providers.EventSink. A redelivered message (same
// provider id) is a no-op. The row carries ctx's trace context (the webhook
// or event that brought it), which the agent's turn continues.
func (e *Events) Inbound(ctx context.Context, m providers.InboundMessage) error {
	content, err := json.Marshal(m.Content)
	if err != nil {
		return fmt.Errorf("encode inbound content: %w", err)
	}
	meta := map[string]any{}
	if m.FromAlt != "" {
		meta["fromAlt"] = m.FromAlt
	}
	if m.PushName != "" {
		meta["pushName"] = m.PushName
	}
	if m.IsGroup {
		meta["isGroup"] = true
	}
	if m.Chat != "" {
		meta["chat"] = m.Chat
	}
	if m.FromMe {
		meta["fromMe"] = true
	}
	metaJSON, _ := json.Marshal(meta)
	var ts *time.Time
	if !m.Timestamp.IsZero() {
		ts = &m.Timestamp
	}
	msgType := m.Type
	if !msgType.Valid() {
		msgType = zapbase.MessageUnsupported
	}
	var id string
	err = e.pool.QueryRow(ctx, inboundSQL, m.TenantID, nullIfEmpty(m.SessionID), nullIfEmpty(m.ProviderMessageID),
		nullIfEmpty(m.From), nullIfEmpty(m.To), string(msgType), content, string(m.Provider), metaJSON, ts,
		tracing.TraceparentOrNil(ctx)).Scan(&id)
	if err != nil {
		if isNoRows(err) {
			return nil // duplicate delivery
		}
		return fmt.Errorf("insert inbound message: %w", err)
	}
	if e.OnInboundFunc != nil {
		e.OnInboundFunc(ctx, []string{id})
	}
	return nil
}

// SessionState implements providers.EventSink.
func (e *Events) SessionState(ctx context.Context, sessionID string, s providers.SessionState) error {
	_, err := e.pool.Exec(ctx, `
UPDATE public.whatsapp_sessions
   SET state = $2, state_reason = $3, state_until = $4, qr_code = $5, pair_code = $6,
       device_jid = coalesce($7, device_jid),
       connected_at = CASE WHEN $2 = 'connected' THEN now() ELSE connected_at END
 WHERE id = $1`, sessionID, s.State, nullIfEmpty(s.Reason), s.Until, nullIfEmpty(s.QRCode),
		nullIfEmpty(s.PairCode), nullIfEmpty(s.JID))
	if err != nil {
		return fmt.Errorf("persist session state %s: %w", s.State, err)
	}
	return nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
