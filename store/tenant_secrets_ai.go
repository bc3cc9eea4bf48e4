package store

import (
	"context"
	"fmt"
)

// TenantSecret is a sealed tenant secret (secret.Box opens it).
type TenantSecret struct {
	KeyID      string
	Ciphertext []byte
}

const tenantSecretGetSQL = `SELECT key_id, ciphertext FROM wa.tenant_secrets WHERE tenant_id = $1 AND name = $2`

// Get returns the tenant's sealed secret name (pgx.ErrNoRows when absent).
func (q TenantSecretQuery) Get(ctx context.Context, tenantID, name string) (TenantSecret, error) {
	var s TenantSecret
	if err := q.db.QueryRow(ctx, tenantSecretGetSQL, tenantID, name).Scan(&s.KeyID, &s.Ciphertext); err != nil {
		return TenantSecret{}, fmt.Errorf("store: read secret %s: %w", name, err)
	}
	return s, nil
}

// PutTenantSecretParams are a sealed secret to store.
type PutTenantSecretParams struct {
	TenantID   string
	Name       string
	KeyID      string
	Ciphertext []byte
}

const tenantSecretPutSQL = `
INSERT INTO wa.tenant_secrets (tenant_id, name, key_id, ciphertext) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = now()`

// Put stores (or replaces) a sealed secret.
func (q TenantSecretQuery) Put(ctx context.Context, p PutTenantSecretParams) error {
	if _, err := q.db.Exec(ctx, tenantSecretPutSQL, p.TenantID, p.Name, p.KeyID, p.Ciphertext); err != nil {
		return fmt.Errorf("store: store secret %s: %w", p.Name, err)
	}
	return nil
}

const tenantSecretDeleteSQL = `DELETE FROM wa.tenant_secrets WHERE tenant_id = $1 AND name = $2`

// Delete deletes the tenant's secret name (no error when absent).
func (q TenantSecretQuery) Delete(ctx context.Context, tenantID, name string) error {
	if _, err := q.db.Exec(ctx, tenantSecretDeleteSQL, tenantID, name); err != nil {
		return fmt.Errorf("store: delete secret %s: %w", name, err)
	}
	return nil
}
