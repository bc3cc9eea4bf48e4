package store

// MemberQuery runs the statements over public.tenant_members.
type MemberQuery struct{ db DB }

// Members returns the queries over public.tenant_members.
func (s *Store) Members() MemberQuery { return MemberQuery{s.db} }
