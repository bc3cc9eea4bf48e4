package store

import (
	"context"
	"fmt"
	"time"

	"github.com/zapbase/zapbase"
)

// CreateAPIKeyParams are a new key's fields (only its hash is stored).
type CreateAPIKeyParams struct {
	TenantID string
	Name     string
	Prefix   string
	Hash     []byte
}

const createAPIKeySQL = `INSERT INTO wa.api_keys (tenant_id, name, prefix, key_hash, created_by)
VALUES ($1, $2, $3, $4, 'admin') RETURNING id, created_at`

// Create stores a key created by the administration; it answers its id
// and creation time.
func (q APIKeyQuery) Create(ctx context.Context, p CreateAPIKeyParams) (id string, createdAt time.Time, err error) {
	if err := q.db.QueryRow(ctx, createAPIKeySQL, p.TenantID, p.Name, p.Prefix, p.Hash).Scan(&id, &createdAt); err != nil {
		return "", time.Time{}, fmt.Errorf("store: create API key: %w", err)
	}
	return id, createdAt, nil
}

const revokeAPIKeySQL = `UPDATE wa.api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`

// Revoke revokes the tenant's key id; false when there is no such
// unrevoked key.
func (q APIKeyQuery) Revoke(ctx context.Context, tenantID, id string) (bool, error) {
	tag, err := q.db.Exec(ctx, revokeAPIKeySQL, tenantID, id)
	if err != nil {
		return false, fmt.Errorf("store: revoke API key: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// KeyTenant is the tenant of an API key.
type KeyTenant struct {
	KeyID              string
	ID                 string
	ClientID           string
	Name               string
	DefaultProvider    zapbase.ProviderType
	RateLimitPerMinute int
	IsActive           bool
}

const useAPIKeySQL = `
UPDATE wa.api_keys k SET last_used_at = now()
  FROM public.tenants t
 WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND t.id = k.tenant_id
RETURNING k.id, t.id, t.client_id, t.name, t.default_provider, t.rate_limit_per_minute, t.is_active`

// Use finds the unrevoked key with hash, records its use and answers its
// tenant. pgx.ErrNoRows when there is no such key.
func (q APIKeyQuery) Use(ctx context.Context, hash []byte) (KeyTenant, error) {
	var t KeyTenant
	err := q.db.QueryRow(ctx, useAPIKeySQL, hash).Scan(&t.KeyID, &t.ID, &t.ClientID, &t.Name, &t.DefaultProvider,
		&t.RateLimitPerMinute, &t.IsActive)
	if err != nil {
		return t, fmt.Errorf("store: use API key: %w", err)
	}
	return t, nil
}
