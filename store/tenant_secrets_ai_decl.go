package store

// Temporary declaration (store-ai): the owner of wa.tenant_secrets declares
// the type and its accessor in store/tenant_secrets.go; the merge folds
// this file into it.

// TenantSecretQuery runs the statements over wa.tenant_secrets.
type TenantSecretQuery struct{ db DB }

// TenantSecrets returns the queries over wa.tenant_secrets.
func (s *Store) TenantSecrets() TenantSecretQuery { return TenantSecretQuery{s.db} }
