package store

// Temporary declaration (store-rest branch): the api helper owns
// store/messages.go; the merge keeps theirs and drops this file.

type MessageQuery struct{ db DB }

func (s *Store) Messages() MessageQuery { return MessageQuery{s.db} }
