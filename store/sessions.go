package store

// SessionQuery runs the statements over public.whatsapp_sessions.
type SessionQuery struct{ db DB }

// Sessions returns the queries over public.whatsapp_sessions.
func (s *Store) Sessions() SessionQuery { return SessionQuery{s.db} }
