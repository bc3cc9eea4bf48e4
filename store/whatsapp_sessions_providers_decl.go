package store

// Temporary (providers branch): the sessions query type is declared by the
// api helper's store file of public.whatsapp_sessions; the merge folds this
// file away.

// SessionQuery runs the statements of public.whatsapp_sessions.
type SessionQuery struct{ db DB }

// Sessions returns the session queries.
func (s *Store) Sessions() SessionQuery { return SessionQuery{s.db} }
