package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MemberQuery runs the statements over public.tenant_members.
type MemberQuery struct{ db DB }

// Members returns the queries over public.tenant_members.
func (s *Store) Members() MemberQuery { return MemberQuery{s.db} }

const upsertMemberSQL = `INSERT INTO public.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role`

// Upsert adds userID to the tenant with role, or changes its role (a
// foreign key violation when the user does not exist).
func (q MemberQuery) Upsert(ctx context.Context, tenantID, userID, role string) error {
	if _, err := q.db.Exec(ctx, upsertMemberSQL, tenantID, userID, role); err != nil {
		return fmt.Errorf("store: add tenant member: %w", err)
	}
	return nil
}

const removeMemberSQL = `DELETE FROM public.tenant_members WHERE tenant_id = $1 AND user_id = $2`

// Remove removes userID from the tenant; false when it was not a member.
func (q MemberQuery) Remove(ctx context.Context, tenantID, userID string) (bool, error) {
	tag, err := q.db.Exec(ctx, removeMemberSQL, tenantID, userID)
	if err != nil {
		return false, fmt.Errorf("store: remove tenant member: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// UserTenant is one active tenant a user belongs to.
type UserTenant struct {
	ClientID string
	Name     string
	Role     string
}

const tenantsOfUserSQL = `SELECT t.client_id, t.name, m.role FROM public.tenant_members m
  JOIN public.tenants t ON t.id = m.tenant_id
 WHERE m.user_id = $1 AND t.is_active ORDER BY t.name, t.client_id`

// TenantsOf answers the active tenants userID is a member of, by name.
func (q MemberQuery) TenantsOf(ctx context.Context, userID string) ([]UserTenant, error) {
	rows, err := q.db.Query(ctx, tenantsOfUserSQL, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list tenants of user: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UserTenant])
	if err != nil {
		return nil, fmt.Errorf("store: list tenants of user: %w", err)
	}
	return list, nil
}
