package webhooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
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
	StatePending   = store.WebhookDeliveryPending
	StateSending   = store.WebhookDeliverySending
	StateDelivered = store.WebhookDeliveryDelivered
	StateDead      = store.WebhookDeliveryDead
)

// Reasons a subscription was switched off.
const (
	DisabledGone = store.WebhookDisabledGone // the receiver answered 410 Gone
	DisabledUser = store.WebhookDisabledUser // a user set isActive=false
)

// Subscription is a tenant's outgoing webhook (the data layer's row).
type Subscription = store.WebhookSubscription

// Delivery is one event on its way to one subscription (the data layer's
// row).
type Delivery = store.WebhookDelivery

// Store manages subscriptions and reads deliveries (the API's side).
type Store struct {
	db     *store.Store
	box    *secret.Box
	policy Policy
}

// NewStore returns a Store over the data layer db; policy checks
// subscription URLs.
func NewStore(db *store.Store, box *secret.Box, policy Policy) *Store {
	return &Store{db: db, box: box, policy: policy}
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

func checkSession(ctx context.Context, tx *store.Store, tenantID, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	if uuid.Validate(sessionID) != nil {
		return errSession
	}
	ok, err := tx.Sessions().Exists(ctx, tenantID, sessionID)
	if err != nil {
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
	var sub store.WebhookSubscription
	err = s.db.InTx(ctx, func(tx *store.Store) error {
		// Serialise creations of one tenant so the limit holds.
		if err := tx.WebhookSubscriptions().LockTenant(ctx, tenantID); err != nil {
			return err
		}
		n, err := tx.WebhookSubscriptions().CountByTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if n >= MaxSubscriptionsPerTenant {
			return zapbase.Errorf(zapbase.CodeConflict, "Limite de %d assinaturas de webhook por tenant atingido.", MaxSubscriptionsPerTenant)
		}
		if err := checkSession(ctx, tx, tenantID, p.SessionID); err != nil {
			return err
		}
		sub, err = tx.WebhookSubscriptions().Insert(ctx, store.InsertWebhookSubscriptionParams{
			ID: id, TenantID: tenantID, URL: p.URL, Events: dedupe(p.Events), SessionID: p.SessionID,
			Description: p.Description, SecretKeyID: keyID, SecretCiphertext: sealed,
		})
		return err
	})
	if err != nil {
		return Subscription{}, "", wrapErr("create subscription", err)
	}
	return sub, plain, nil
}

// List returns the tenant's subscriptions, oldest first.
func (s *Store) List(ctx context.Context, tenantID string) ([]Subscription, error) {
	subs, err := s.db.WebhookSubscriptions().ListByTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	if subs == nil {
		subs = []Subscription{} // an empty list, never null
	}
	return subs, nil
}

// Get returns one subscription of the tenant.
func (s *Store) Get(ctx context.Context, tenantID, id string) (Subscription, error) {
	if uuid.Validate(id) != nil {
		return Subscription{}, errNotFound
	}
	sub, err := s.db.WebhookSubscriptions().Get(ctx, tenantID, id)
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
	var sub store.WebhookSubscription
	err := s.db.InTx(ctx, func(tx *store.Store) error {
		if p.SessionID != nil {
			if err := checkSession(ctx, tx, tenantID, *p.SessionID); err != nil {
				return err
			}
		}
		var err error
		sub, err = tx.WebhookSubscriptions().Update(ctx, store.UpdateWebhookSubscriptionParams{
			TenantID: tenantID, ID: id, URL: p.URL, Events: p.Events, SessionID: p.SessionID,
			Description: p.Description, IsActive: p.IsActive, SecretKeyID: nullIfEmpty(keyID), SecretCiphertext: sealed,
		})
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
	deleted, err := s.db.WebhookSubscriptions().Delete(ctx, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	if !deleted {
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
	rows, err := s.db.WebhookDeliveries().List(ctx, store.ListWebhookDeliveriesParams{
		TenantID: tenantID, SubscriptionID: subscriptionID, Before: before, State: p.State, Limit: p.Limit + 1,
	})
	if err != nil {
		return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
	}
	list := rows
	if list == nil {
		list = []Delivery{} // an empty page, never null
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
	var d store.WebhookDelivery
	err := s.db.InTx(ctx, func(tx *store.Store) error {
		state, err := tx.WebhookDeliveries().LockForReplay(ctx, tenantID, deliveryID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		if state != StateDelivered && state != StateDead {
			return zapbase.Errorf(zapbase.CodeConflict, "A entrega ainda está em andamento (%s); só entregas concluídas ou mortas podem ser reenviadas.", state)
		}
		d, err = tx.WebhookDeliveries().Replay(ctx, tenantID, deliveryID)
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
