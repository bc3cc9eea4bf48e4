package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reasons a subscription was switched off (wa.webhook_subscriptions.
// disabled_reason; package webhooks re-exports them).
const (
	WebhookDisabledGone = "gone"     // the receiver answered 410 Gone
	WebhookDisabledUser = "disabled" // a user set isActive=false
)

// WebhookSubscription is a tenant's outgoing webhook (without its secret).
type WebhookSubscription struct {
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

const webhookSubscriptionColumns = `id::text, tenant_id::text, url, events, coalesce(session_id::text, ''), coalesce(description, ''),
       is_active, coalesce(disabled_reason, ''), disabled_at, created_at, updated_at`

func scanWebhookSubscription(row pgx.Row) (WebhookSubscription, error) {
	var sub WebhookSubscription
	err := row.Scan(&sub.ID, &sub.TenantID, &sub.URL, &sub.Events, &sub.SessionID, &sub.Description,
		&sub.IsActive, &sub.DisabledReason, &sub.DisabledAt, &sub.CreatedAt, &sub.UpdatedAt)
	return sub, err
}

const lockTenantWebhooksSQL = `SELECT pg_advisory_xact_lock(hashtextextended('zapbase.webhooks:' || $1, 0))`

// LockTenant serialises the subscription changes of one tenant until the
// transaction ends (so the per-tenant limit holds).
func (q WebhookSubscriptionQuery) LockTenant(ctx context.Context, tenantID string) error {
	if _, err := q.db.Exec(ctx, lockTenantWebhooksSQL, tenantID); err != nil {
		return fmt.Errorf("store: lock tenant webhooks: %w", err)
	}
	return nil
}

const countTenantWebhooksSQL = `SELECT count(*) FROM wa.webhook_subscriptions WHERE tenant_id = $1`

// CountByTenant counts the tenant's subscriptions.
func (q WebhookSubscriptionQuery) CountByTenant(ctx context.Context, tenantID string) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, countTenantWebhooksSQL, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count webhook subscriptions: %w", err)
	}
	return n, nil
}

// InsertWebhookSubscriptionParams describe a new subscription; the secret comes sealed.
type InsertWebhookSubscriptionParams struct {
	ID               string
	TenantID         string
	URL              string
	Events           []string
	SessionID        string // "" for every session
	Description      string
	SecretKeyID      string
	SecretCiphertext []byte
}

const insertWebhookSQL = `
INSERT INTO wa.webhook_subscriptions (id, tenant_id, url, events, session_id, description, secret_key_id, secret_ciphertext)
VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, nullif($6, ''), $7, $8)
RETURNING ` + webhookSubscriptionColumns

// Insert stores a subscription and returns it.
func (q WebhookSubscriptionQuery) Insert(ctx context.Context, p InsertWebhookSubscriptionParams) (WebhookSubscription, error) {
	sub, err := scanWebhookSubscription(q.db.QueryRow(ctx, insertWebhookSQL, p.ID, p.TenantID, p.URL, p.Events,
		p.SessionID, p.Description, p.SecretKeyID, p.SecretCiphertext))
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("store: insert webhook subscription: %w", err)
	}
	return sub, nil
}

const listTenantWebhooksSQL = `SELECT ` + webhookSubscriptionColumns + ` FROM wa.webhook_subscriptions
 WHERE tenant_id = $1 ORDER BY created_at, id`

// ListByTenant returns the tenant's subscriptions, oldest first.
func (q WebhookSubscriptionQuery) ListByTenant(ctx context.Context, tenantID string) ([]WebhookSubscription, error) {
	rows, err := q.db.Query(ctx, listTenantWebhooksSQL, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list webhook subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookSubscription, error) { return scanWebhookSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list webhook subscriptions: %w", err)
	}
	return out, nil
}

const getWebhookSQL = `SELECT ` + webhookSubscriptionColumns + ` FROM wa.webhook_subscriptions
 WHERE tenant_id = $1 AND id = $2`

// Get returns one subscription of the tenant (pgx.ErrNoRows when absent).
func (q WebhookSubscriptionQuery) Get(ctx context.Context, tenantID, id string) (WebhookSubscription, error) {
	sub, err := scanWebhookSubscription(q.db.QueryRow(ctx, getWebhookSQL, tenantID, id))
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("store: get webhook subscription: %w", err)
	}
	return sub, nil
}

// UpdateWebhookSubscriptionParams change a subscription; nil fields are kept.
type UpdateWebhookSubscriptionParams struct {
	TenantID    string
	ID          string
	URL         *string
	Events      []string
	SessionID   *string // "" removes the filter
	Description *string // "" removes it
	// IsActive true re-enables (and restarts active_since), false
	// disables by the user.
	IsActive         *bool
	SecretKeyID      *string
	SecretCiphertext []byte
}

const updateWebhookSQL = `
UPDATE wa.webhook_subscriptions SET
       url = coalesce($3, url),
       events = coalesce($4, events),
       session_id = CASE WHEN $5::text IS NULL THEN session_id ELSE nullif($5, '')::uuid END,
       description = CASE WHEN $6::text IS NULL THEN description ELSE nullif($6, '') END,
       active_since = CASE WHEN $7 AND NOT is_active THEN now() ELSE active_since END,
       is_active = coalesce($7, is_active),
       disabled_reason = CASE WHEN $7 IS NULL THEN disabled_reason WHEN $7 THEN NULL ELSE ` + sqlWebhookDisabledUser + ` END,
       disabled_at = CASE WHEN $7 IS NULL THEN disabled_at WHEN $7 THEN NULL ELSE now() END,
       secret_key_id = coalesce($8, secret_key_id),
       secret_ciphertext = coalesce($9, secret_ciphertext),
       updated_at = now()
 WHERE tenant_id = $1 AND id = $2
RETURNING ` + webhookSubscriptionColumns

// Update changes a subscription and returns it (pgx.ErrNoRows when the
// tenant has no such subscription).
func (q WebhookSubscriptionQuery) Update(ctx context.Context, p UpdateWebhookSubscriptionParams) (WebhookSubscription, error) {
	sub, err := scanWebhookSubscription(q.db.QueryRow(ctx, updateWebhookSQL, p.TenantID, p.ID, p.URL, p.Events,
		p.SessionID, p.Description, p.IsActive, p.SecretKeyID, p.SecretCiphertext))
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("store: update webhook subscription: %w", err)
	}
	return sub, nil
}

const deleteWebhookSQL = `DELETE FROM wa.webhook_subscriptions WHERE tenant_id = $1 AND id = $2`

// Delete removes a subscription (and, by cascade, its deliveries); false
// when the tenant had no such subscription.
func (q WebhookSubscriptionQuery) Delete(ctx context.Context, tenantID, id string) (bool, error) {
	tag, err := q.db.Exec(ctx, deleteWebhookSQL, tenantID, id)
	if err != nil {
		return false, fmt.Errorf("store: delete webhook subscription: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}
