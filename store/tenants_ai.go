package store

import (
	"context"
	"fmt"
)

const tenantLockSQL = `SELECT 1 FROM public.tenants WHERE id = $1 FOR UPDATE`

// LockForUpdate locks the tenant's row until the transaction ends, so
// agent writes that keep "one default agent" and tenants.settings in step
// serialize per tenant (no error when the tenant is gone).
func (q TenantQuery) LockForUpdate(ctx context.Context, tenantID string) error {
	if _, err := q.db.Exec(ctx, tenantLockSQL, tenantID); err != nil {
		return fmt.Errorf("store: lock tenant: %w", err)
	}
	return nil
}
