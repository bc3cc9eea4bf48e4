package store

import (
	"context"
	"fmt"
	"time"

	"github.com/zapbase/zapbase"
)

// TenantQuery runs the statements over public.tenants.
type TenantQuery struct{ db DB }

// Tenants returns the queries over public.tenants.
func (s *Store) Tenants() TenantQuery { return TenantQuery{s.db} }

// TenantRow is a tenant as the administration shows it.
type TenantRow struct {
	ID                 string
	ClientID           string
	Name               string
	DefaultProvider    string
	RateLimitPerMinute int
	MaxSessions        int
	IsActive           bool
	CreatedAt          time.Time
}

// CreateTenantParams are a new tenant's fields.
type CreateTenantParams struct {
	ClientID           string
	Name               string
	DefaultProvider    string
	RateLimitPerMinute int
	MaxSessions        int
}

const createTenantSQL = `INSERT INTO public.tenants (client_id, name, default_provider, rate_limit_per_minute, max_sessions)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, client_id, name, default_provider, rate_limit_per_minute, max_sessions, is_active, created_at`

// Create inserts a tenant (a unique violation when client_id exists).
func (q TenantQuery) Create(ctx context.Context, p CreateTenantParams) (TenantRow, error) {
	var t TenantRow
	err := q.db.QueryRow(ctx, createTenantSQL, p.ClientID, p.Name, p.DefaultProvider, p.RateLimitPerMinute, p.MaxSessions).Scan(
		&t.ID, &t.ClientID, &t.Name, &t.DefaultProvider, &t.RateLimitPerMinute, &t.MaxSessions, &t.IsActive, &t.CreatedAt)
	if err != nil {
		return t, fmt.Errorf("store: create tenant: %w", err)
	}
	return t, nil
}

const tenantIDSQL = `SELECT id FROM public.tenants WHERE client_id = $1`

// IDByClientID resolves a client_id. pgx.ErrNoRows when there is none.
func (q TenantQuery) IDByClientID(ctx context.Context, clientID string) (string, error) {
	var id string
	if err := q.db.QueryRow(ctx, tenantIDSQL, clientID).Scan(&id); err != nil {
		return "", fmt.Errorf("store: resolve tenant: %w", err)
	}
	return id, nil
}

// MemberAuth is a tenant with the role of one user in it (AuthForUser).
type MemberAuth struct {
	ID                 string
	ClientID           string
	Name               string
	DefaultProvider    zapbase.ProviderType
	RateLimitPerMinute int
	IsActive           bool
	// Role is nil when the user is not a member.
	Role *string
}

const authForUserSQL = `
SELECT t.id, t.client_id, t.name, t.default_provider, t.rate_limit_per_minute, t.is_active, m.role
  FROM public.tenants t
  LEFT JOIN public.tenant_members m ON m.tenant_id = t.id AND m.user_id = $2
 WHERE t.client_id = $1`

// AuthForUser reads the tenant of clientID with userID's membership.
// pgx.ErrNoRows when there is no such tenant.
func (q TenantQuery) AuthForUser(ctx context.Context, clientID, userID string) (MemberAuth, error) {
	var t MemberAuth
	err := q.db.QueryRow(ctx, authForUserSQL, clientID, userID).Scan(&t.ID, &t.ClientID, &t.Name, &t.DefaultProvider,
		&t.RateLimitPerMinute, &t.IsActive, &t.Role)
	if err != nil {
		return t, fmt.Errorf("store: authenticate tenant member: %w", err)
	}
	return t, nil
}

// TenantSettingsRow is what the tenant's settings endpoints show.
type TenantSettingsRow struct {
	ClientID           string
	Name               string
	DefaultProvider    string
	RateLimitPerMinute int
	MaxSessions        int
	// Settings is tenants.settings (JSON).
	Settings []byte
}

const tenantSettingsSQL = `SELECT client_id, name, default_provider, rate_limit_per_minute, max_sessions, settings
  FROM public.tenants WHERE id = $1`

// Settings reads tenant id's settings.
func (q TenantQuery) Settings(ctx context.Context, id string) (TenantSettingsRow, error) {
	var st TenantSettingsRow
	err := q.db.QueryRow(ctx, tenantSettingsSQL, id).Scan(&st.ClientID, &st.Name, &st.DefaultProvider, &st.RateLimitPerMinute,
		&st.MaxSessions, &st.Settings)
	if err != nil {
		return st, fmt.Errorf("store: read tenant settings: %w", err)
	}
	return st, nil
}

// UpdateSettingsParams are the tenant's editable settings.
type UpdateSettingsParams struct {
	ID                 string
	Name               string
	DefaultProvider    string
	RateLimitPerMinute int
	// Settings is merged into tenants.settings (JSON object) after its
	// fallbackProvider is dropped.
	Settings []byte
}

const updateSettingsSQL = `UPDATE public.tenants
   SET name = $2, default_provider = $3, rate_limit_per_minute = $4, settings = (settings - 'fallbackProvider') || $5::jsonb
 WHERE id = $1`

// UpdateSettings writes a tenant's settings. settings.ai.defaultAgentId
// and ai_agents.is_default are kept equal by triggers (migration 000081).
func (q TenantQuery) UpdateSettings(ctx context.Context, p UpdateSettingsParams) error {
	if _, err := q.db.Exec(ctx, updateSettingsSQL, p.ID, p.Name, p.DefaultProvider, p.RateLimitPerMinute, p.Settings); err != nil {
		return fmt.Errorf("store: update tenant settings: %w", err)
	}
	return nil
}

const switchProviderSQL = `UPDATE public.tenants SET default_provider = $2, settings = settings || $3::jsonb WHERE id = $1`

// SwitchProvider sets tenant id's preferred provider and merges patch (a
// JSON object) into its settings.
func (q TenantQuery) SwitchProvider(ctx context.Context, id string, provider zapbase.ProviderType, patch []byte) error {
	if _, err := q.db.Exec(ctx, switchProviderSQL, id, string(provider), patch); err != nil {
		return fmt.Errorf("store: switch tenant provider: %w", err)
	}
	return nil
}

// SignedTenant is an active tenant with one of its sealed secrets.
type SignedTenant struct {
	ID         string
	ClientID   string
	KeyID      string
	Ciphertext []byte
}

const withSecretSQL = `SELECT t.id, t.client_id, s.key_id, s.ciphertext
  FROM public.tenants t JOIN wa.tenant_secrets s ON s.tenant_id = t.id AND s.name = $2
 WHERE t.client_id = $1 AND t.is_active`

// ActiveWithSecret reads the active tenant of clientID with its sealed
// secret name. pgx.ErrNoRows when there is no such tenant or secret.
func (q TenantQuery) ActiveWithSecret(ctx context.Context, clientID, name string) (SignedTenant, error) {
	var t SignedTenant
	if err := q.db.QueryRow(ctx, withSecretSQL, clientID, name).Scan(&t.ID, &t.ClientID, &t.KeyID, &t.Ciphertext); err != nil {
		return t, fmt.Errorf("store: read tenant secret: %w", err)
	}
	return t, nil
}

const clientIDSQL = `SELECT client_id FROM public.tenants WHERE id = $1`

// ClientID answers the client_id of tenant id. pgx.ErrNoRows when there
// is none.
func (q TenantQuery) ClientID(ctx context.Context, id string) (string, error) {
	var cid string
	if err := q.db.QueryRow(ctx, clientIDSQL, id).Scan(&cid); err != nil {
		return "", fmt.Errorf("store: read tenant client_id: %w", err)
	}
	return cid, nil
}
