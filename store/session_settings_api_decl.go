package store

// Temporary declaration (the api helper's branch): the owner of wa.session_settings
// declares SessionSettingsQuery in store/session_settings.go; the merge folds this file into it.

// SessionSettingsQuery runs the statements over wa.session_settings.
type SessionSettingsQuery struct{ db DB }

// SessionSettings returns the queries over wa.session_settings.
func (s *Store) SessionSettings() SessionSettingsQuery { return SessionSettingsQuery{s.db} }
