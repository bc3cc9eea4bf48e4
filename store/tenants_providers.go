package store

import (
	"context"
	"fmt"
)

// ClientID answers a tenant's client_id (the public tenant name used in
// Storage paths).
func (q TenantQuery) ClientID(ctx context.Context, tenantID string) (string, error) {
	var cid string
	if err := q.db.QueryRow(ctx, `SELECT client_id FROM public.tenants WHERE id = $1`, tenantID).Scan(&cid); err != nil {
		return "", fmt.Errorf("store: look up tenant %s: %w", tenantID, err)
	}
	return cid, nil
}
