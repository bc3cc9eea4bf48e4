package store

// Temporary declaration (store-rest branch): the api helper owns the
// whatsapp_sessions file; the merge keeps theirs and drops this file.

type SessionQuery struct{ db DB }

func (s *Store) Sessions() SessionQuery { return SessionQuery{s.db} }
