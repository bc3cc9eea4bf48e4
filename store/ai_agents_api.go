package store

import (
	"context"
	"fmt"
)

const (
	agentIDByIDSQL   = `SELECT id::text FROM public.ai_agents WHERE tenant_id = $1 AND id = $2`
	agentIDBySlugSQL = `SELECT id::text FROM public.ai_agents WHERE tenant_id = $1 AND slug = $2`
)

// ResolveID answers the id of the tenant's agent whose id (byID) or slug
// is ref. pgx.ErrNoRows when there is none.
func (q AgentQuery) ResolveID(ctx context.Context, tenantID, ref string, byID bool) (string, error) {
	sql := agentIDBySlugSQL
	if byID {
		sql = agentIDByIDSQL
	}
	var id string
	if err := q.db.QueryRow(ctx, sql, tenantID, ref).Scan(&id); err != nil {
		return "", fmt.Errorf("store: resolve agent: %w", err)
	}
	return id, nil
}
