package store

import (
	"context"
	"fmt"
)

// SealedSecret is a tenant secret sealed by a secret.Box.
type SealedSecret struct {
	TenantID   string
	Name       string
	KeyID      string
	Ciphertext []byte
}

const upsertTenantSecretSQL = `INSERT INTO wa.tenant_secrets (tenant_id, name, key_id, ciphertext) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = EXCLUDED.key_id, ciphertext = EXCLUDED.ciphertext, updated_at = now()`

// Upsert stores (or replaces) a tenant secret.
func (q TenantSecretQuery) Upsert(ctx context.Context, p SealedSecret) error {
	if _, err := q.db.Exec(ctx, upsertTenantSecretSQL, p.TenantID, p.Name, p.KeyID, p.Ciphertext); err != nil {
		return fmt.Errorf("store: store tenant secret: %w", err)
	}
	return nil
}
