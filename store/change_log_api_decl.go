package store

// Temporary declaration (the api helper's branch): the owner of wa.change_log
// declares ChangeLogQuery in store/change_log.go; the merge folds this file into it.

// ChangeLogQuery runs the statements over wa.change_log.
type ChangeLogQuery struct{ db DB }

// ChangeLog returns the queries over wa.change_log.
func (s *Store) ChangeLog() ChangeLogQuery { return ChangeLogQuery{s.db} }
