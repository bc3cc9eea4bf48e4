package store

import (
	"context"
	"fmt"
)

// WebhookCursorQuery runs the statements of wa.webhook_cursor, the
// outgoing-webhook fan-out's position in the change feed: a fan-out step
// (which writes wa.webhook_deliveries) and the idle jump.
type WebhookCursorQuery struct{ db DB }

// WebhookCursor returns the queries of wa.webhook_cursor.
func (s *Store) WebhookCursor() WebhookCursorQuery { return WebhookCursorQuery{s.db} }

// webhookPayloadSQL builds the delivered JSON from the feed row (b), its tenant
// (t), and the current message (m) and session (ws) rows. The event's own
// state (status, error) comes from the feed row: the message may have moved
// on since. The shape is documented in the README ("Webhooks de saída").
const webhookPayloadSQL = `jsonb_strip_nulls(jsonb_build_object(
  'id', b.txid::text || '-' || b.id,
  'event', b.topic,
  'clientId', t.client_id,
  'tenantId', b.tenant_id,
  'occurredAt', b.created_at,
  'session', CASE WHEN ws.id IS NOT NULL THEN jsonb_build_object(
      'id', ws.id, 'phoneNumber', ws.phone_number, 'provider', ws.provider_type,
      'state', CASE WHEN b.topic = 'session.state' THEN coalesce(b.data->>'state', ws.state) ELSE ws.state END,
      'stateReason', CASE WHEN b.topic = 'session.state' THEN b.data->>'reason' ELSE ws.state_reason END,
      'previousState', CASE WHEN b.topic = 'session.state' THEN b.data->>'previous' END,
      'qrCode', CASE WHEN b.topic = 'session.qr' THEN b.data->>'qr_code' END,
      'pairCode', CASE WHEN b.topic = 'session.qr' THEN b.data->>'pair_code' END)
    WHEN b.session_id IS NOT NULL THEN jsonb_build_object('id', b.session_id) END,
  'message', CASE WHEN m.id IS NOT NULL THEN jsonb_build_object(
      'id', m.id, 'providerMessageId', m.message_id, 'direction', m.direction,
      'from', m.from_number, 'to', m.to_number, 'type', m.message_type, 'content', m.content,
      'status', coalesce(b.data->>'status', m.status), 'previousStatus', b.data->>'previous',
      'provider', m.provider,
      'errorCode', CASE WHEN b.topic = 'message.status' THEN b.data->>'error_code' ELSE m.error_code END,
      'errorReason', CASE WHEN b.topic = 'message.status' THEN b.data->>'error_reason' ELSE m.error_reason END,
      'agentId', m.agent_id, 'conversationId', m.conversation_id, 'metadata', m.metadata,
      'createdAt', m.created_at, 'sentAt', m.sent_at, 'deliveredAt', m.delivered_at,
      'readAt', m.read_at, 'failedAt', m.failed_at)
    WHEN b.message_id IS NOT NULL THEN jsonb_build_object('id', b.message_id) END,
  'chat', b.chat,
  'data', b.data))`

// fanOutSQL is one fan-out step, one statement: lock the cursor (SKIP
// LOCKED: one replica at a time; nothing at all when no subscription is
// active — the idle cost is one probe of a partial index), read the next
// feed rows of finished transactions (txid below the snapshot's xmin, in
// (txid, id) order), insert a delivery per matching subscription, and move
// the cursor to the last row read. A crash rolls back deliveries and
// cursor together. $1: batch size.
//
// The ordering key is the contact for message events — not the session: an
// outbound row gets its session only when dispatch routes it, and its
// events before and after must stay one conversation — and the session for
// session events.
const fanOutSQL = `
WITH cur AS (
  SELECT k.txid, k.id FROM wa.webhook_cursor k
   WHERE k.name = 'fanout'
     AND EXISTS (SELECT 1 FROM wa.webhook_subscriptions s WHERE s.is_active)
   FOR UPDATE SKIP LOCKED
), batch AS (
  SELECT c.* FROM cur, LATERAL (
    SELECT c.* FROM wa.change_log c
     WHERE (c.txid, c.id) > (cur.txid, cur.id)
       AND c.txid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY c.txid, c.id
     LIMIT $1) c
), ins AS (
  INSERT INTO wa.webhook_deliveries (tenant_id, subscription_id, event, event_id, ordering_key, payload)
  SELECT b.tenant_id, s.id, b.topic, b.txid::text || '-' || b.id,
         CASE WHEN b.chat IS NOT NULL THEN 'chat:' || b.chat ELSE 'session:' || coalesce(b.session_id::text, '') END,
         ` + webhookPayloadSQL + `
    FROM batch b
    JOIN wa.webhook_subscriptions s ON s.tenant_id = b.tenant_id AND s.is_active
         AND b.topic = ANY (s.events)
         AND (s.session_id IS NULL OR s.session_id = b.session_id)
         AND s.active_since <= b.created_at
    JOIN public.tenants t ON t.id = b.tenant_id
    LEFT JOIN public.messages m ON m.id = b.message_id AND m.tenant_id = b.tenant_id
    LEFT JOIN public.whatsapp_sessions ws ON ws.id = b.session_id AND ws.tenant_id = b.tenant_id
   ORDER BY b.txid, b.id, s.id
  RETURNING 1
), adv AS (
  UPDATE wa.webhook_cursor k SET txid = l.txid, id = l.id, updated_at = now()
    FROM (SELECT txid, id FROM batch ORDER BY txid DESC, id DESC LIMIT 1) l
   WHERE k.name = 'fanout'
  RETURNING 1
)
SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM batch), (SELECT count(*) FROM ins)`

// advanceIdleCursorSQL jumps the cursor to the end of the finished feed while no
// subscription is active (guarded in the same statement, so a subscription
// committed before it starts stops the jump).
const advanceIdleCursorSQL = `
UPDATE wa.webhook_cursor k SET txid = h.txid, id = h.id, updated_at = now()
  FROM (SELECT c.txid, c.id FROM wa.change_log c
         WHERE c.txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY c.txid DESC, c.id DESC LIMIT 1) h
 WHERE k.name = 'fanout' AND (h.txid, h.id) > (k.txid, k.id)
   AND NOT EXISTS (SELECT 1 FROM wa.webhook_subscriptions s WHERE s.is_active)`

// FanOutResult is what one fan-out step did.
type FanOutResult struct {
	// Locked is false when no subscription is active or another replica
	// holds the cursor.
	Locked     bool
	Read       int
	Deliveries int
}

// FanOut runs one fan-out step over at most batch feed rows (see
// fanOutSQL).
func (q WebhookCursorQuery) FanOut(ctx context.Context, batch int) (FanOutResult, error) {
	var r FanOutResult
	var locked int
	if err := q.db.QueryRow(ctx, fanOutSQL, batch).Scan(&locked, &r.Read, &r.Deliveries); err != nil {
		return r, fmt.Errorf("store: fan out webhooks: %w", err)
	}
	r.Locked = locked > 0
	return r, nil
}

// AdvanceIdle moves the cursor to the end of the finished feed, unless a
// subscription is active.
func (q WebhookCursorQuery) AdvanceIdle(ctx context.Context) error {
	if _, err := q.db.Exec(ctx, advanceIdleCursorSQL); err != nil {
		return fmt.Errorf("store: advance idle webhook cursor: %w", err)
	}
	return nil
}
