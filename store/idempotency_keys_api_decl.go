package store

// Temporary declaration (the api helper's branch): the owner of wa.idempotency_keys
// declares IdempotencyKeyQuery in store/idempotency_keys.go; the merge folds this file into it.

// IdempotencyKeyQuery runs the statements over wa.idempotency_keys.
type IdempotencyKeyQuery struct{ db DB }

// IdempotencyKeys returns the queries over wa.idempotency_keys.
func (s *Store) IdempotencyKeys() IdempotencyKeyQuery { return IdempotencyKeyQuery{s.db} }
