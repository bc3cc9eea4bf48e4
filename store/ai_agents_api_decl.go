package store

// Temporary declaration (the api helper's branch): the owner of public.ai_agents
// declares AgentQuery in store/ai_agents.go; the merge folds this file into it.

// AgentQuery runs the statements over public.ai_agents.
type AgentQuery struct{ db DB }

// Agents returns the queries over public.ai_agents.
func (s *Store) Agents() AgentQuery { return AgentQuery{s.db} }
