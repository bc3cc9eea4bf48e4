package store

// Temporary declaration (the api helper's branch): the owner of wa.audit_log
// declares AuditLogQuery in store/audit_log.go; the merge folds this file into it.

// AuditLogQuery runs the statements over wa.audit_log.
type AuditLogQuery struct{ db DB }

// AuditLog returns the queries over wa.audit_log.
func (s *Store) AuditLog() AuditLogQuery { return AuditLogQuery{s.db} }
