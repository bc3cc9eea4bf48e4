package store

import (
	"context"
	"fmt"
)

const sessionExistsSQL = `SELECT 1 FROM public.whatsapp_sessions WHERE tenant_id = $1 AND id = $2`

// EnsureExists returns pgx.ErrNoRows (wrapped) unless the session is the
// tenant's.
func (q SessionQuery) EnsureExists(ctx context.Context, tenantID, sessionID string) error {
	var one int
	if err := q.db.QueryRow(ctx, sessionExistsSQL, tenantID, sessionID).Scan(&one); err != nil {
		return fmt.Errorf("store: find session: %w", err)
	}
	return nil
}
