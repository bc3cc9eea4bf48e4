package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/zapbase/zapbase/startstop"
)

// Fan-out defaults.
const (
	DefaultPollInterval = 250 * time.Millisecond
	DefaultFanoutBatch  = 500
	// DefaultIdleAdvance: with no active subscription anywhere the feed is
	// not read; the cursor jumps to the feed's end this often, so the
	// first subscription does not make the fan-out walk days of feed.
	DefaultIdleAdvance = 30 * time.Second
)

// payloadSQL builds the delivered JSON from the feed row (b), its tenant
// (t), and the current message (m) and session (ws) rows. The event's own
// state (status, error) comes from the feed row: the message may have moved
// on since. The shape is documented in the README ("Webhooks de saída").
const payloadSQL = `jsonb_strip_nulls(jsonb_build_object(
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

// fanoutSQL is one fan-out step, one statement: lock the cursor (SKIP
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
var fanoutSQL = `
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
         ` + payloadSQL + `
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

// idleAdvanceSQL jumps the cursor to the end of the finished feed while no
// subscription is active (guarded in the same statement, so a subscription
// committed before it starts stops the jump).
const idleAdvanceSQL = `
UPDATE wa.webhook_cursor k SET txid = h.txid, id = h.id, updated_at = now()
  FROM (SELECT c.txid, c.id FROM wa.change_log c
         WHERE c.txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY c.txid DESC, c.id DESC LIMIT 1) h
 WHERE k.name = 'fanout' AND (h.txid, h.id) > (k.txid, k.id)
   AND NOT EXISTS (SELECT 1 FROM wa.webhook_subscriptions s WHERE s.is_active)`

// FanoutConfig configures a Fanout.
type FanoutConfig struct {
	Pool         *pgxpool.Pool
	PollInterval time.Duration // default DefaultPollInterval
	BatchSize    int           // feed rows per step; default DefaultFanoutBatch
	IdleAdvance  time.Duration // default DefaultIdleAdvance
	// OnDeliveriesFunc is called after a step inserted deliveries (the
	// deliverer's Nudge).
	OnDeliveriesFunc func()
	Logger           *slog.Logger
}

// Fanout turns change-feed rows into delivery rows.
type Fanout struct {
	cfg  FanoutConfig
	log  *slog.Logger
	kick chan struct{}
	startstop.BaseStartStop
	lastIdle time.Time
}

// NewFanout validates cfg and returns a Fanout (not started).
func NewFanout(cfg FanoutConfig) (*Fanout, error) {
	if cfg.Pool == nil {
		return nil, errors.New("webhooks: fanout pool is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultFanoutBatch
	}
	if cfg.IdleAdvance <= 0 {
		cfg.IdleAdvance = DefaultIdleAdvance
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Fanout{cfg: cfg, log: cfg.Logger.With("component", "webhooks.fanout"), kick: make(chan struct{}, 1)}, nil
}

// StepResult is what one fan-out step did.
type StepResult struct {
	// Locked is false when no subscription is active or another replica
	// holds the cursor.
	Locked     bool
	Read       int
	Deliveries int
}

// Step runs one fan-out step.
func (f *Fanout) Step(ctx context.Context) (StepResult, error) {
	var r StepResult
	var locked int
	if err := f.cfg.Pool.QueryRow(ctx, fanoutSQL, f.cfg.BatchSize).Scan(&locked, &r.Read, &r.Deliveries); err != nil {
		return r, fmt.Errorf("webhooks fanout: %w", err)
	}
	r.Locked = locked > 0
	return r, nil
}

// Nudge asks for a step now (rows were just written).
func (f *Fanout) Nudge() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Start checks the database answers, then fans out in the background
// (startstop: Stop — or the end of ctx — ends the loop, a step in progress is
// cancelled and rolls back, and waits for it; idempotent, restartable).
func (f *Fanout) Start(ctx context.Context) error {
	return f.StartFunc(ctx, func(ctx context.Context) error {
		if err := f.cfg.Pool.Ping(ctx); err != nil {
			return fmt.Errorf("webhooks fanout start: %w", err)
		}
		return nil
	}, f.loop)
}

func (f *Fanout) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var failures int
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-f.kick:
		}
		wait := f.cfg.PollInterval
		res, err := f.Step(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = backoff(failures, f.cfg.PollInterval, 30*time.Second)
			f.log.Warn("fan-out step failed", "error", err, "attempt", failures, "retry_in", wait.String())
		default:
			failures = 0
			if res.Deliveries > 0 && f.cfg.OnDeliveriesFunc != nil {
				f.cfg.OnDeliveriesFunc()
			}
			if res.Read >= f.cfg.BatchSize {
				wait = 0 // more feed waiting: no pause
			}
			if !res.Locked && time.Since(f.lastIdle) >= f.cfg.IdleAdvance {
				f.lastIdle = time.Now()
				if _, err := f.cfg.Pool.Exec(ctx, idleAdvanceSQL); err != nil && ctx.Err() == nil {
					f.log.Warn("advance idle fan-out cursor", "error", err)
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}
