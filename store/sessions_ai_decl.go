package store

// Temporary declaration (store-ai): the owner of public.whatsapp_sessions declares the type
// and its accessor in store/sessions.go; the merge folds this file into it.

// SessionQuery runs the statements over public.whatsapp_sessions.
type SessionQuery struct{ db DB }

// Sessions returns the queries over public.whatsapp_sessions.
func (s *Store) Sessions() SessionQuery { return SessionQuery{s.db} }
