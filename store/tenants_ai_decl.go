package store

// Temporary declaration (store-ai): the owner of public.tenants declares the type
// and its accessor in store/tenants.go; the merge folds this file into it.

// TenantQuery runs the statements over public.tenants.
type TenantQuery struct{ db DB }

// Tenants returns the queries over public.tenants.
func (s *Store) Tenants() TenantQuery { return TenantQuery{s.db} }
