package store

// Temporary declaration (the api helper's branch): the owner of public.ai_conversations
// declares ConversationQuery in store/ai_conversations.go; the merge folds this file into it.

// ConversationQuery runs the statements over public.ai_conversations.
type ConversationQuery struct{ db DB }

// Conversations returns the queries over public.ai_conversations.
func (s *Store) Conversations() ConversationQuery { return ConversationQuery{s.db} }
