package store

import (
	"context"
	"fmt"
)

const sessionExistsBoolSQL = `SELECT EXISTS (SELECT 1 FROM public.whatsapp_sessions WHERE tenant_id = $1 AND id = $2)`

// Exists reports whether the tenant has the session id.
func (q SessionQuery) Exists(ctx context.Context, tenantID, id string) (bool, error) {
	var ok bool
	if err := q.db.QueryRow(ctx, sessionExistsBoolSQL, tenantID, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: session exists: %w", err)
	}
	return ok, nil
}
