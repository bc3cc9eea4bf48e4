package store

import (
	"context"
	"fmt"
)

// DevSeedQuery runs the statements that seed `zapbase dev`'s demo data: a
// tenant with its owner, a connected sandbox session, and Supabase auth
// users (auth.users, which devdb's compatibility layer provides on plain
// Postgres). Nothing in production runs them.
type DevSeedQuery struct{ db DB }

// DevSeed returns the demo seed's queries.
func (s *Store) DevSeed() DevSeedQuery { return DevSeedQuery{s.db} }

// SeedDemoTenantParams describe the demo tenant.
type SeedDemoTenantParams struct {
	ClientID     string
	OwnerID      string // auth user id of the tenant's owner
	OwnerEmail   string
	SessionPhone string // the sandbox session's phone number
}

const seedDemoTenantSQL = `
WITH t AS (
  INSERT INTO public.tenants (client_id, name, default_provider)
  VALUES ($1, 'Empresa Demo', ` + sqlAuto + `)
  ON CONFLICT (client_id) DO UPDATE SET client_id = EXCLUDED.client_id
  RETURNING id
), u AS (
  INSERT INTO auth.users (id, email) VALUES ($2, $3)
  ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email
  RETURNING id
), m AS (
  INSERT INTO public.tenant_members (tenant_id, user_id, role)
  SELECT t.id, u.id, ` + sqlRoleOwner + ` FROM t, u
  ON CONFLICT DO NOTHING
)
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state, connected_at)
SELECT t.id, $4, ` + sqlSandbox + `, ` + sqlSessionConnected + `, now() FROM t
ON CONFLICT (tenant_id, phone_number) DO NOTHING`

// SeedDemoTenant creates the demo tenant, its owner (user and membership)
// and a connected sandbox session; what exists already is kept.
func (q DevSeedQuery) SeedDemoTenant(ctx context.Context, p SeedDemoTenantParams) error {
	if _, err := q.db.Exec(ctx, seedDemoTenantSQL, p.ClientID, p.OwnerID, p.OwnerEmail, p.SessionPhone); err != nil {
		return fmt.Errorf("store: seed demo tenant: %w", err)
	}
	return nil
}

const seedAuthUserSQL = `INSERT INTO auth.users (id, email) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`

// SeedAuthUser creates an auth user unless its id exists.
func (q DevSeedQuery) SeedAuthUser(ctx context.Context, id, email string) error {
	if _, err := q.db.Exec(ctx, seedAuthUserSQL, id, email); err != nil {
		return fmt.Errorf("store: seed auth user: %w", err)
	}
	return nil
}
