package store

// Temporary declaration (store-ai): the owner of public.messages declares the type
// and its accessor in store/messages.go; the merge folds this file into it.

// MessageQuery runs the statements over public.messages.
type MessageQuery struct{ db DB }

// Messages returns the queries over public.messages.
func (s *Store) Messages() MessageQuery { return MessageQuery{s.db} }
