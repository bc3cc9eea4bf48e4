package store

// MessageQuery runs the statements over public.messages: outbound rows the
// API inserts, the rows it reads back (status, console, Annex B views) and
// the edits and deletions it records.
type MessageQuery struct{ db DB }

// Messages returns the queries over public.messages.
func (s *Store) Messages() MessageQuery { return MessageQuery{s.db} }
