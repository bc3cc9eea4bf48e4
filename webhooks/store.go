package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/secret"
)

// Limits of subscriptions.
const (
	// MaxSubscriptionsPerTenant bounds the fan-out one event can cause.
	MaxSubscriptionsPerTenant = 20
	// MaxDeliveriesPage is the largest page of the delivery log.
	MaxDeliveriesPage = 200
	// DefaultDeliveriesPage is the delivery log's default page size.
	DefaultDeliveriesPage = 50
)

// Delivery states.
const (
	StatePending   = "pending"
	StateSending   = "sending"
	StateDelivered = "delivered"
	StateDead      = "dead"
)

// Reasons a subscription was switched off.
const (
	DisabledGone = "gone"     // the receiver answered 410 Gone
	DisabledUser = "disabled" // a user set isActive=false
)

// Subscription is a tenant's outgoing webhook.
type Subscription struct {
	ID             string
	TenantID       string
	URL            string
	Events         []string
	SessionID      string
	Description    string
	IsActive       bool
	DisabledReason string
	DisabledAt     *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Delivery is one event on its way to one subscription.
type Delivery struct {
	ID             string
	Seq            int64
	SubscriptionID string
	Event          string
	EventID        string
	State          string
	Attempts       int
	NextAttemptAt  *time.Time
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

// Store manages subscriptions and reads deliveries (the API's side).
type Store struct {
	pool   *pgxpool.Pool
	box    *secret.Box
	policy Policy
}

// NewStore returns a Store; policy checks subscription URLs.
func NewStore(pool *pgxpool.Pool, box *secret.Box, policy Policy) *Store {
	return &Store{pool: pool, box: box, policy: policy}
}

// CreateParams describe a new subscription.
type CreateParams struct {
	URL         string
	Events      []string
	SessionID   string
	Description string
}

// UpdateParams change a subscription; nil fields are kept.
type UpdateParams struct {
	URL         *string
	Events      []string
	SessionID   *string // "" removes the filter
	Description *string
	IsActive    *bool
	// RotateSecret replaces the signing secret (returned once).
	RotateSecret bool
}

var (
	errNotFound = zapbase.Errorf(zapbase.CodeNotFound, "Assinatura de webhook não encontrada.")
	errSession  = zapbase.Errorf(zapbase.CodeInvalidInput, "sessionId: sessão não encontrada neste tenant.")
)

func (s *Store) checkURL(raw string) error {
	if _, err := s.policy.CheckURL(raw); err != nil {
		var be *BlockedError
		if errors.As(err, &be) {
			return &zapbase.Error{Code: zapbase.CodeWebhookTargetBlocked, Cause: err,
				Message: fmt.Sprintf("url: o destino %s é um endereço %s; webhooks só vão para endereços públicos (o operador pode liberar redes em ZAPBASE_WEBHOOK_ALLOW_PRIVATE).", be.Host, be.Reason)}
		}
		return &zapbase.Error{Code: zapbase.CodeInvalidInput, Cause: err,
			Message: "url: informe uma URL absoluta http:// ou https://, sem usuário e senha."}
	}
	return nil
}

func checkEvents(events []string) error {
	if len(events) == 0 {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "events: informe ao menos um evento.")
	}
	for _, e := range events {
		if !ValidEvent(e) {
			return zapbase.Errorf(zapbase.CodeInvalidInput, "events: evento desconhecido %q.", e)
		}
	}
	return nil
}

func dedupe(events []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(events))
	for _, e := range events {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

func (s *Store) seal(id, plain string) (string, []byte, error) {
	return s.box.Seal([]byte(plain), []byte("webhook_subscription:"+id))
}

const subscriptionColumns = `id::text, tenant_id::text, url, events, coalesce(session_id::text, ''), coalesce(description, ''),
       is_active, coalesce(disabled_reason, ''), disabled_at, created_at, updated_at`

func scanSubscription(row pgx.Row) (Subscription, error) {
	var sub Subscription
	err := row.Scan(&sub.ID, &sub.TenantID, &sub.URL, &sub.Events, &sub.SessionID, &sub.Description,
		&sub.IsActive, &sub.DisabledReason, &sub.DisabledAt, &sub.CreatedAt, &sub.UpdatedAt)
	return sub, err
}

func (s *Store) checkSession(ctx context.Context, tx pgx.Tx, tenantID, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	if uuid.Validate(sessionID) != nil {
		return errSession
	}
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM public.whatsapp_sessions WHERE tenant_id = $1 AND id = $2)`,
		tenantID, sessionID).Scan(&ok); err != nil {
		return fmt.Errorf("check session: %w", err)
	}
	if !ok {
		return errSession
	}
	return nil
}

// Create stores a subscription and returns it with its signing secret,
// which is shown only here (it is stored sealed).
func (s *Store) Create(ctx context.Context, tenantID string, p CreateParams) (Subscription, string, error) {
	if err := s.checkURL(p.URL); err != nil {
		return Subscription{}, "", err
	}
	if err := checkEvents(p.Events); err != nil {
		return Subscription{}, "", err
	}
	plain, err := NewSecret()
	if err != nil {
		return Subscription{}, "", fmt.Errorf("create subscription: %w", err)
	}
	id := uuid.NewString()
	keyID, sealed, err := s.seal(id, plain)
	if err != nil {
		return Subscription{}, "", fmt.Errorf("create subscription: %w", err)
	}
	var sub Subscription
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialise creations of one tenant so the limit holds.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('zapbase.webhooks:' || $1, 0))`, tenantID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM wa.webhook_subscriptions WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxSubscriptionsPerTenant {
			return zapbase.Errorf(zapbase.CodeConflict, "Limite de %d assinaturas de webhook por tenant atingido.", MaxSubscriptionsPerTenant)
		}
		if err := s.checkSession(ctx, tx, tenantID, p.SessionID); err != nil {
			return err
		}
		sub, err = scanSubscription(tx.QueryRow(ctx, `
INSERT INTO wa.webhook_subscriptions (id, tenant_id, url, events, session_id, description, secret_key_id, secret_ciphertext)
VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, nullif($6, ''), $7, $8)
RETURNING `+subscriptionColumns, id, tenantID, p.URL, dedupe(p.Events), p.SessionID, p.Description, keyID, sealed))
		return err
	})
	if err != nil {
		return Subscription{}, "", wrapErr("create subscription", err)
	}
	return sub, plain, nil
}

// List returns the tenant's subscriptions, oldest first.
func (s *Store) List(ctx context.Context, tenantID string) ([]Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM wa.webhook_subscriptions
 WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// Get returns one subscription of the tenant.
func (s *Store) Get(ctx context.Context, tenantID, id string) (Subscription, error) {
	if uuid.Validate(id) != nil {
		return Subscription{}, errNotFound
	}
	sub, err := scanSubscription(s.pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM wa.webhook_subscriptions
 WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if err != nil {
		return Subscription{}, wrapErr("get subscription", err)
	}
	return sub, nil
}

// Update changes a subscription. With RotateSecret it returns the new
// secret (shown once), else "".
func (s *Store) Update(ctx context.Context, tenantID, id string, p UpdateParams) (Subscription, string, error) {
	if uuid.Validate(id) != nil {
		return Subscription{}, "", errNotFound
	}
	if p.URL != nil {
		if err := s.checkURL(*p.URL); err != nil {
			return Subscription{}, "", err
		}
	}
	if p.Events != nil {
		if err := checkEvents(p.Events); err != nil {
			return Subscription{}, "", err
		}
		p.Events = dedupe(p.Events)
	}
	var plain, keyID string
	var sealed []byte
	if p.RotateSecret {
		var err error
		if plain, err = NewSecret(); err != nil {
			return Subscription{}, "", fmt.Errorf("update subscription: %w", err)
		}
		if keyID, sealed, err = s.seal(id, plain); err != nil {
			return Subscription{}, "", fmt.Errorf("update subscription: %w", err)
		}
	}
	var sub Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if p.SessionID != nil {
			if err := s.checkSession(ctx, tx, tenantID, *p.SessionID); err != nil {
				return err
			}
		}
		var err error
		sub, err = scanSubscription(tx.QueryRow(ctx, `
UPDATE wa.webhook_subscriptions SET
       url = coalesce($3, url),
       events = coalesce($4, events),
       session_id = CASE WHEN $5::text IS NULL THEN session_id ELSE nullif($5, '')::uuid END,
       description = CASE WHEN $6::text IS NULL THEN description ELSE nullif($6, '') END,
       active_since = CASE WHEN $7 AND NOT is_active THEN now() ELSE active_since END,
       is_active = coalesce($7, is_active),
       disabled_reason = CASE WHEN $7 IS NULL THEN disabled_reason WHEN $7 THEN NULL ELSE 'disabled' END,
       disabled_at = CASE WHEN $7 IS NULL THEN disabled_at WHEN $7 THEN NULL ELSE now() END,
       secret_key_id = coalesce($8, secret_key_id),
       secret_ciphertext = coalesce($9, secret_ciphertext),
       updated_at = now()
 WHERE tenant_id = $1 AND id = $2
RETURNING `+subscriptionColumns, tenantID, id, p.URL, p.Events, p.SessionID, p.Description, p.IsActive,
			nullIfEmpty(keyID), sealed))
		return err
	})
	if err != nil {
		return Subscription{}, "", wrapErr("update subscription", err)
	}
	return sub, plain, nil
}

// Delete removes a subscription and its deliveries.
func (s *Store) Delete(ctx context.Context, tenantID, id string) error {
	if uuid.Validate(id) != nil {
		return errNotFound
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM wa.webhook_subscriptions WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errNotFound
	}
	return nil
}

// ListDeliveriesParams page through a subscription's delivery log.
type ListDeliveriesParams struct {
	State  string // optional filter
	Cursor string // NextCursor of the previous page
	Limit  int
}

// DeliveryPage is one page of the delivery log, newest first.
type DeliveryPage struct {
	Deliveries []Delivery
	NextCursor string
}

const deliveryColumns = `d.id::text, d.seq, d.subscription_id::text, d.event, d.event_id, d.state, d.attempts,
       CASE WHEN d.state = 'pending' THEN d.next_attempt_at END, d.last_attempt_at, d.last_status,
       coalesce(d.last_error, ''), coalesce(d.last_response, ''), d.last_duration_ms, d.delivered_at, d.dead_at,
       coalesce(d.replay_of::text, ''), d.payload, d.created_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.Seq, &d.SubscriptionID, &d.Event, &d.EventID, &d.State, &d.Attempts,
		&d.NextAttemptAt, &d.LastAttemptAt, &d.LastStatus, &d.LastError, &d.LastResponse, &d.LastDurationMs,
		&d.DeliveredAt, &d.DeadAt, &d.ReplayOf, &d.Payload, &d.CreatedAt)
	return d, err
}

// ListDeliveries returns a page of a subscription's deliveries.
func (s *Store) ListDeliveries(ctx context.Context, tenantID, subscriptionID string, p ListDeliveriesParams) (DeliveryPage, error) {
	if _, err := s.Get(ctx, tenantID, subscriptionID); err != nil {
		return DeliveryPage{}, err
	}
	if p.Limit <= 0 {
		p.Limit = DefaultDeliveriesPage
	}
	p.Limit = min(p.Limit, MaxDeliveriesPage)
	var before *int64
	if p.Cursor != "" {
		n, err := strconv.ParseInt(p.Cursor, 10, 64)
		if err != nil || n <= 0 {
			return DeliveryPage{}, zapbase.Errorf(zapbase.CodeInvalidInput, "cursor: valor inválido (use o nextCursor da página anterior).")
		}
		before = &n
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM wa.webhook_deliveries d
 WHERE d.tenant_id = $1 AND d.subscription_id = $2
   AND ($3::bigint IS NULL OR d.seq < $3)
   AND ($4 = '' OR d.state = $4)
 ORDER BY d.seq DESC LIMIT $5`, tenantID, subscriptionID, before, p.State, p.Limit+1)
	if err != nil {
		return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
	}
	page := DeliveryPage{Deliveries: list}
	if len(list) > p.Limit {
		page.Deliveries = list[:p.Limit]
		page.NextCursor = strconv.FormatInt(list[p.Limit-1].Seq, 10)
	}
	return page, nil
}

// Replay queues a finished delivery (delivered or dead) again, as a new
// delivery with the same payload and event id: it keeps the order of its
// conversation (it goes after the ones still open) and is attempted once
// its subscription is active.
func (s *Store) Replay(ctx context.Context, tenantID, deliveryID string) (Delivery, error) {
	notFound := zapbase.Errorf(zapbase.CodeNotFound, "Entrega de webhook não encontrada.")
	if uuid.Validate(deliveryID) != nil {
		return Delivery{}, notFound
	}
	var d Delivery
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM wa.webhook_deliveries WHERE tenant_id = $1 AND id = $2 FOR SHARE`,
			tenantID, deliveryID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		if state != StateDelivered && state != StateDead {
			return zapbase.Errorf(zapbase.CodeConflict, "A entrega ainda está em andamento (%s); só entregas concluídas ou mortas podem ser reenviadas.", state)
		}
		d, err = scanDelivery(tx.QueryRow(ctx, `
WITH ins AS (
  INSERT INTO wa.webhook_deliveries (tenant_id, subscription_id, event, event_id, ordering_key, payload, replay_of)
  SELECT tenant_id, subscription_id, event, event_id, ordering_key, payload, id
    FROM wa.webhook_deliveries WHERE tenant_id = $1 AND id = $2
  RETURNING *
)
SELECT `+deliveryColumns+` FROM ins d`, tenantID, deliveryID))
		return err
	})
	if err != nil {
		return Delivery{}, wrapErr("replay delivery", err)
	}
	return d, nil
}

// wrapErr passes user errors through, maps "no row" to not found and
// foreign-key violations (a session removed meanwhile) to bad input.
func wrapErr(op string, err error) error {
	var ze *zapbase.Error
	if errors.As(err, &ze) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return errSession
	}
	return fmt.Errorf("%s: %w", op, err)
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
