package store

// Temporary (providers branch): the tenants query type is declared by the
// api helper's store/tenants.go; the merge folds this file away.

// TenantQuery runs the statements of public.tenants.
type TenantQuery struct{ db DB }

// Tenants returns the tenant queries.
func (s *Store) Tenants() TenantQuery { return TenantQuery{s.db} }
