package store

// TenantQuery runs the statements over public.tenants.
type TenantQuery struct{ db DB }

// Tenants returns the queries over public.tenants.
func (s *Store) Tenants() TenantQuery { return TenantQuery{s.db} }
