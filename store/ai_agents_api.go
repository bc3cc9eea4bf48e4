package store

import "context"

// ResolveID answers the id of the tenant's agent whose id (byID) or slug
// is ref. pgx.ErrNoRows when there is none.
func (q AgentQuery) ResolveID(ctx context.Context, tenantID, ref string, byID bool) (string, error) {
	if byID {
		return q.IDByUUID(ctx, tenantID, ref)
	}
	return q.IDBySlug(ctx, tenantID, ref)
}
