package store

// Temporary (providers branch): the messages query type is declared by the
// api helper's store/messages.go; the merge folds this file away.

// MessageQuery runs the statements of public.messages.
type MessageQuery struct{ db DB }

// Messages returns the message queries.
func (s *Store) Messages() MessageQuery { return MessageQuery{s.db} }
