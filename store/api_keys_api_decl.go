package store

// Temporary declaration (the api helper's branch): the owner of wa.api_keys
// declares APIKeyQuery in store/api_keys.go; the merge folds this file into it.

// APIKeyQuery runs the statements over wa.api_keys.
type APIKeyQuery struct{ db DB }

// APIKeys returns the queries over wa.api_keys.
func (s *Store) APIKeys() APIKeyQuery { return APIKeyQuery{s.db} }
