package zapbase

// ConversationState is the state of an AI conversation
// (ai_conversations.state): an agent answers an active one; a paused one
// waits for paused_until (an operator wrote); a handed-off one belongs to a
// human until paused_until or a reassignment.
type ConversationState string

// Conversation states.
const (
	ConversationActive  ConversationState = "active"
	ConversationPaused  ConversationState = "paused"
	ConversationHandoff ConversationState = "handoff"
)
