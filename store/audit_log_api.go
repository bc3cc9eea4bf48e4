package store

import (
	"context"
	"fmt"
)

// AuditParams are one entry of the audit log. Nil pointers are NULL.
type AuditParams struct {
	TenantID  *string
	Actor     string
	Action    string
	Target    *string
	RequestID *string
	Result    string
	// Details is a JSON object (never secrets).
	Details []byte
}

const insertAuditSQL = `INSERT INTO wa.audit_log (tenant_id, actor, action, target, request_id, result, details)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

// Insert writes an audit entry.
func (q AuditLogQuery) Insert(ctx context.Context, p AuditParams) error {
	if _, err := q.db.Exec(ctx, insertAuditSQL, p.TenantID, p.Actor, p.Action, p.Target, p.RequestID, p.Result, p.Details); err != nil {
		return fmt.Errorf("store: write audit log: %w", err)
	}
	return nil
}
