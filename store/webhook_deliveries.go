package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery states of wa.webhook_deliveries (package webhooks re-exports
// them): pending → sending → delivered | dead; sending → pending on a
// failed attempt.
const (
	WebhookDeliveryPending   = "pending"
	WebhookDeliverySending   = "sending"
	WebhookDeliveryDelivered = "delivered"
	WebhookDeliveryDead      = "dead"
)

// WebhookDeliveryQuery runs the statements of wa.webhook_deliveries: the
// delivery log the API reads, replays, and the deliverer's claim and
// outcomes.
type WebhookDeliveryQuery struct{ db DB }

// WebhookDeliveries returns the queries of wa.webhook_deliveries.
func (s *Store) WebhookDeliveries() WebhookDeliveryQuery { return WebhookDeliveryQuery{s.db} }

// WebhookDelivery is one event on its way to one subscription, as the
// delivery log shows it.
type WebhookDelivery struct {
	ID             string
	Seq            int64
	SubscriptionID string
	Event          string
	EventID        string
	State          string
	Attempts       int
	NextAttemptAt  *time.Time // only while pending
	LastAttemptAt  *time.Time
	LastStatus     *int
	LastError      string
	LastResponse   string
	LastDurationMs *int
	DeliveredAt    *time.Time
	DeadAt         *time.Time
	ReplayOf       string
	Payload        json.RawMessage
	CreatedAt      time.Time
}

const webhookDeliveryColumns = `d.id::text, d.seq, d.subscription_id::text, d.event, d.event_id, d.state, d.attempts,
       CASE WHEN d.state = ` + sqlWebhookPending + ` THEN d.next_attempt_at END, d.last_attempt_at, d.last_status,
       coalesce(d.last_error, ''), coalesce(d.last_response, ''), d.last_duration_ms, d.delivered_at, d.dead_at,
       coalesce(d.replay_of::text, ''), d.payload, d.created_at`

func scanWebhookDelivery(row pgx.Row) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := row.Scan(&d.ID, &d.Seq, &d.SubscriptionID, &d.Event, &d.EventID, &d.State, &d.Attempts,
		&d.NextAttemptAt, &d.LastAttemptAt, &d.LastStatus, &d.LastError, &d.LastResponse, &d.LastDurationMs,
		&d.DeliveredAt, &d.DeadAt, &d.ReplayOf, &d.Payload, &d.CreatedAt)
	return d, err
}

// ListWebhookDeliveriesParams select a page of a subscription's delivery
// log, newest first.
type ListWebhookDeliveriesParams struct {
	TenantID       string
	SubscriptionID string
	Before         *int64 // only deliveries with a smaller seq; nil: from the newest
	State          string // "" for every state
	Limit          int
}

const listWebhookDeliveriesSQL = `SELECT ` + webhookDeliveryColumns + ` FROM wa.webhook_deliveries d
 WHERE d.tenant_id = $1 AND d.subscription_id = $2
   AND ($3::bigint IS NULL OR d.seq < $3)
   AND ($4 = '' OR d.state = $4)
 ORDER BY d.seq DESC LIMIT $5`

// List returns up to p.Limit deliveries of a subscription, by seq
// descending.
func (q WebhookDeliveryQuery) List(ctx context.Context, p ListWebhookDeliveriesParams) ([]WebhookDelivery, error) {
	rows, err := q.db.Query(ctx, listWebhookDeliveriesSQL, p.TenantID, p.SubscriptionID, p.Before, p.State, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookDelivery, error) { return scanWebhookDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	return out, nil
}

const lockWebhookDeliveryForReplaySQL = `SELECT state FROM wa.webhook_deliveries WHERE tenant_id = $1 AND id = $2 FOR SHARE`

// LockForReplay returns a delivery's state, holding a share lock on its row
// until the transaction ends (pgx.ErrNoRows when the tenant has no such
// delivery).
func (q WebhookDeliveryQuery) LockForReplay(ctx context.Context, tenantID, id string) (string, error) {
	var state string
	if err := q.db.QueryRow(ctx, lockWebhookDeliveryForReplaySQL, tenantID, id).Scan(&state); err != nil {
		return "", fmt.Errorf("store: lock webhook delivery: %w", err)
	}
	return state, nil
}

const replayWebhookDeliverySQL = `
WITH ins AS (
  INSERT INTO wa.webhook_deliveries (tenant_id, subscription_id, event, event_id, ordering_key, payload, replay_of)
  SELECT tenant_id, subscription_id, event, event_id, ordering_key, payload, id
    FROM wa.webhook_deliveries WHERE tenant_id = $1 AND id = $2
  RETURNING *
)
SELECT ` + webhookDeliveryColumns + ` FROM ins d`

// Replay inserts a copy of a delivery (same payload, event id and ordering
// key; replay_of pointing at it) and returns the copy.
func (q WebhookDeliveryQuery) Replay(ctx context.Context, tenantID, id string) (WebhookDelivery, error) {
	d, err := scanWebhookDelivery(q.db.QueryRow(ctx, replayWebhookDeliverySQL, tenantID, id))
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("store: replay webhook delivery: %w", err)
	}
	return d, nil
}

// ClaimWebhookDeliveriesParams configure one claim.
type ClaimWebhookDeliveriesParams struct {
	Limit           int           // rows to claim at most
	Owner           string        // the claimer, unique per process life
	Lease           time.Duration // how long the claim holds
	PerSubscription int           // attempts of one subscription in flight at once
}

// ClaimedWebhookDelivery is a claimed delivery with what its attempt needs.
type ClaimedWebhookDelivery struct {
	ID, TenantID, SubscriptionID, Event, EventID string
	Body                                         string // the payload as stored
	Attempt                                      int    // this attempt's number
	CreatedAt                                    time.Time
	URL                                          string
	SecretKeyID                                  string
	SecretCiphertext                             []byte
}

// claimWebhookDeliveriesSQL claims up to $1 deliveries, fairly: for every
// active subscription, the due deliveries that head their conversation — no
// older delivery of the same subscription and conversation is pending or
// being sent (per-conversation order) — at most $4 minus what that
// subscription already has in flight (one slow receiver cannot take every
// worker of every replica); of those, the oldest due first. Due means
// pending with next_attempt_at passed, or sending with an expired lease (a
// claim moves next_attempt_at to the lease deadline, so one index condition
// finds both). Rows other replicas are claiming are skipped; the final lock
// re-checks state and due time, so a row claimed meanwhile is not taken
// twice. $2 owner, $3 lease seconds.
const claimWebhookDeliveriesSQL = `
WITH heads AS (
  SELECT h.id
    FROM wa.webhook_subscriptions s
    CROSS JOIN LATERAL (
      SELECT count(*) AS n FROM wa.webhook_deliveries x
       WHERE x.subscription_id = s.id AND x.state = ` + sqlWebhookSending + ` AND x.next_attempt_at > now()) busy
    CROSS JOIN LATERAL (
      SELECT d.id, row_number() OVER (ORDER BY d.next_attempt_at, d.seq) AS rn
        FROM wa.webhook_deliveries d
       WHERE d.subscription_id = s.id AND d.state IN (` + sqlWebhookPending + `, ` + sqlWebhookSending + `) AND d.next_attempt_at <= now()
         AND NOT EXISTS (
           SELECT 1 FROM wa.webhook_deliveries o
            WHERE o.subscription_id = d.subscription_id AND o.ordering_key = d.ordering_key
              AND o.seq < d.seq AND o.state IN (` + sqlWebhookPending + `, ` + sqlWebhookSending + `))
       ORDER BY d.next_attempt_at, d.seq
       LIMIT $4) h
   WHERE s.is_active AND h.rn + busy.n <= $4
), picked AS (
  SELECT d.id FROM wa.webhook_deliveries d
   WHERE d.id IN (SELECT id FROM heads)
     AND d.state IN (` + sqlWebhookPending + `, ` + sqlWebhookSending + `) AND d.next_attempt_at <= now()
   ORDER BY d.next_attempt_at, d.seq
   LIMIT $1
   FOR UPDATE SKIP LOCKED
)
UPDATE wa.webhook_deliveries d
   SET state = ` + sqlWebhookSending + `, claimed_by = $2, attempts = d.attempts + 1,
       claim_expires_at = now() + make_interval(secs => $3),
       next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
  FROM picked p, wa.webhook_subscriptions s
 WHERE d.id = p.id AND s.id = d.subscription_id
RETURNING d.id::text, d.tenant_id::text, d.subscription_id::text, d.event, d.event_id, d.payload::text,
          d.attempts, d.created_at, s.url, s.secret_key_id, s.secret_ciphertext`

// Claim claims due deliveries for p.Owner (see claimWebhookDeliveriesSQL).
func (q WebhookDeliveryQuery) Claim(ctx context.Context, p ClaimWebhookDeliveriesParams) ([]ClaimedWebhookDelivery, error) {
	rows, err := q.db.Query(ctx, claimWebhookDeliveriesSQL, p.Limit, p.Owner, p.Lease.Seconds(), p.PerSubscription)
	if err != nil {
		return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
	}
	var batch []ClaimedWebhookDelivery
	for rows.Next() {
		var c ClaimedWebhookDelivery
		if err := rows.Scan(&c.ID, &c.TenantID, &c.SubscriptionID, &c.Event, &c.EventID, &c.Body,
			&c.Attempt, &c.CreatedAt, &c.URL, &c.SecretKeyID, &c.SecretCiphertext); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
		}
		batch = append(batch, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
	}
	return batch, nil
}

// WebhookAttemptParams record one attempt's outcome. Every outcome only
// applies while the claim is still Owner's, so a row taken over after an
// expired lease is not touched.
type WebhookAttemptParams struct {
	ID         string
	Owner      string
	Status     *int    // the HTTP status; nil: no answer
	Response   *string // the answer's stored prefix; nil: none
	DurationMs int
	// Error is last_error (Retry and Gone).
	Error string
	// RetryIn is the pause before the next attempt; RetryFor how long
	// after its creation the delivery is retried at all (Retry only).
	RetryIn  time.Duration
	RetryFor time.Duration
}

const markWebhookDeliveredSQL = `
UPDATE wa.webhook_deliveries SET state = ` + sqlWebhookDelivered + `, delivered_at = now(), last_attempt_at = now(),
       last_status = $3, last_error = NULL, last_response = $4, last_duration_ms = $5,
       claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
 WHERE id = $1 AND claimed_by = $2 AND state = ` + sqlWebhookSending

// MarkDelivered records a successful attempt.
func (q WebhookDeliveryQuery) MarkDelivered(ctx context.Context, p WebhookAttemptParams) error {
	if _, err := q.db.Exec(ctx, markWebhookDeliveredSQL, p.ID, p.Owner, p.Status, p.Response, p.DurationMs); err != nil {
		return fmt.Errorf("store: mark webhook delivered: %w", err)
	}
	return nil
}

// retryWebhookDeliverySQL puts the row back to pending after $6 seconds, or
// dead-letters it when that is past its retry window ($7 seconds after it
// was created).
const retryWebhookDeliverySQL = `
UPDATE wa.webhook_deliveries SET
       state = CASE WHEN now() + make_interval(secs => $6) > created_at + make_interval(secs => $7) THEN ` + sqlWebhookDead + ` ELSE ` + sqlWebhookPending + ` END,
       dead_at = CASE WHEN now() + make_interval(secs => $6) > created_at + make_interval(secs => $7) THEN now() END,
       next_attempt_at = now() + make_interval(secs => $6), last_attempt_at = now(),
       last_status = $3, last_error = $8, last_response = $4, last_duration_ms = $5,
       claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
 WHERE id = $1 AND claimed_by = $2 AND state = ` + sqlWebhookSending + `
RETURNING state`

// Retry records a failed attempt and returns the new state (pending, or
// dead past the retry window); pgx.ErrNoRows when the claim is no longer
// Owner's.
func (q WebhookDeliveryQuery) Retry(ctx context.Context, p WebhookAttemptParams) (string, error) {
	var state string
	err := q.db.QueryRow(ctx, retryWebhookDeliverySQL, p.ID, p.Owner, p.Status, p.Response, p.DurationMs,
		p.RetryIn.Seconds(), p.RetryFor.Seconds(), p.Error).Scan(&state)
	if err != nil {
		return "", fmt.Errorf("store: retry webhook delivery: %w", err)
	}
	return state, nil
}

// markWebhookGoneSQL dead-letters the row and switches its subscription
// off.
const markWebhookGoneSQL = `
WITH d AS (
  UPDATE wa.webhook_deliveries SET state = ` + sqlWebhookDead + `, dead_at = now(), last_attempt_at = now(),
         last_status = $3, last_error = $6, last_response = $4, last_duration_ms = $5,
         claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
   WHERE id = $1 AND claimed_by = $2 AND state = ` + sqlWebhookSending + `
  RETURNING subscription_id
)
UPDATE wa.webhook_subscriptions s SET is_active = false, disabled_reason = ` + sqlWebhookDisabledGone + `, disabled_at = now(), updated_at = now()
  FROM d WHERE s.id = d.subscription_id`

// MarkGone records an attempt the receiver answered 410 Gone: the delivery
// is dead and its subscription switched off.
func (q WebhookDeliveryQuery) MarkGone(ctx context.Context, p WebhookAttemptParams) error {
	if _, err := q.db.Exec(ctx, markWebhookGoneSQL, p.ID, p.Owner, p.Status, p.Response, p.DurationMs, p.Error); err != nil {
		return fmt.Errorf("store: mark webhook gone: %w", err)
	}
	return nil
}
