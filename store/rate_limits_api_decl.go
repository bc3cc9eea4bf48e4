package store

// Temporary declaration (the api helper's branch): the owner of wa.rate_limits
// declares RateLimitQuery in store/rate_limits.go; the merge folds this file into it.

// RateLimitQuery runs the statements over wa.rate_limits.
type RateLimitQuery struct{ db DB }

// RateLimits returns the queries over wa.rate_limits.
func (s *Store) RateLimits() RateLimitQuery { return RateLimitQuery{s.db} }
