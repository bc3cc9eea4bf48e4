package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ConversationQuery runs the statements over public.ai_conversations.
type ConversationQuery struct{ db DB }

// Conversations returns the queries over public.ai_conversations.
func (s *Store) Conversations() ConversationQuery { return ConversationQuery{s.db} }

// Conversation is a conversation as an assignment returns it.
type Conversation struct {
	ID          string
	TenantID    string
	AgentID     *string
	SessionID   *string
	Contact     string
	State       string
	PausedUntil *time.Time
}

// AssignConversationParams name the conversation to assign and its agent.
type AssignConversationParams struct {
	TenantID  string
	SessionID string
	Contact   string
	AgentID   string
}

const conversationAssignSQL = `
INSERT INTO public.ai_conversations (tenant_id, session_id, contact, agent_id, state, assigned_at)
VALUES ($1, $2, $3, $4, ` + sqlConversationActive + `, now())
ON CONFLICT (tenant_id, session_id, contact)
DO UPDATE SET agent_id = excluded.agent_id, state = ` + sqlConversationActive + `, paused_until = NULL, consecutive_replies = 0, assigned_at = now()
RETURNING id, tenant_id, agent_id, session_id, contact, state, paused_until`

// Assign makes the agent answer the conversation (creating it when needed)
// and reactivates it.
func (q ConversationQuery) Assign(ctx context.Context, p AssignConversationParams) (Conversation, error) {
	var c Conversation
	err := q.db.QueryRow(ctx, conversationAssignSQL, p.TenantID, p.SessionID, p.Contact, p.AgentID).
		Scan(&c.ID, &c.TenantID, &c.AgentID, &c.SessionID, &c.Contact, &c.State, &c.PausedUntil)
	if err != nil {
		return Conversation{}, fmt.Errorf("store: assign conversation: %w", err)
	}
	return c, nil
}

// ContactConversation is a conversation as inbound routing finds it.
type ContactConversation struct {
	ID         string
	AssignedAt *time.Time
	// AgentConfig is the configuration of the assigned agent (nil when the
	// conversation has none or its agent is gone).
	AgentConfig json.RawMessage
}

const conversationFindByContactSQL = `
SELECT c.id, c.assigned_at, a.configuration
  FROM public.ai_conversations c
  LEFT JOIN public.ai_agents a ON a.tenant_id = c.tenant_id AND a.id = c.agent_id
 WHERE c.tenant_id = $1 AND c.session_id IS NOT DISTINCT FROM $2 AND c.contact = $3`

// FindByContact returns the conversation of (tenant, session, contact)
// (pgx.ErrNoRows when none).
func (q ConversationQuery) FindByContact(ctx context.Context, tenantID string, sessionID *string, contact string) (ContactConversation, error) {
	var c ContactConversation
	err := q.db.QueryRow(ctx, conversationFindByContactSQL, tenantID, sessionID, contact).Scan(&c.ID, &c.AssignedAt, &c.AgentConfig)
	if err != nil {
		return ContactConversation{}, fmt.Errorf("store: load conversation: %w", err)
	}
	return c, nil
}

// AssignFromSendParams assign a conversation from a send with enableAI.
type AssignFromSendParams struct {
	ID       string
	TenantID string
	// AgentID is the send's agent (nil: the conversation keeps its own).
	AgentID *string
	// At is the send's time, the new assigned_at.
	At *time.Time
}

const conversationAssignFromSendSQL = `
UPDATE public.ai_conversations
   SET agent_id = coalesce($2, agent_id), state = ` + sqlConversationActive + `, paused_until = NULL, consecutive_replies = 0, assigned_at = $3
 WHERE id = $1
RETURNING (SELECT a.configuration FROM public.ai_agents a WHERE a.tenant_id = $4 AND a.id = coalesce($2, ai_conversations.agent_id))`

// AssignFromSend reactivates the conversation for the send's agent (or its
// own) and returns that agent's configuration (nil when it has none).
func (q ConversationQuery) AssignFromSend(ctx context.Context, p AssignFromSendParams) (json.RawMessage, error) {
	var cfg json.RawMessage
	if err := q.db.QueryRow(ctx, conversationAssignFromSendSQL, p.ID, p.AgentID, p.At, p.TenantID).Scan(&cfg); err != nil {
		return nil, fmt.Errorf("store: assign conversation from enableAI send: %w", err)
	}
	return cfg, nil
}

// CreateConversationParams are a new conversation's columns.
type CreateConversationParams struct {
	TenantID  string
	SessionID *string
	Contact   string
	AgentID   *string
	// AssignedAt: nil for now.
	AssignedAt *time.Time
}

const conversationCreateSQL = `
INSERT INTO public.ai_conversations (tenant_id, session_id, contact, agent_id, assigned_at)
VALUES ($1, $2, $3, $4, coalesce($5, now()))
ON CONFLICT (tenant_id, session_id, contact) DO UPDATE SET contact = excluded.contact
RETURNING id`

// Create creates the conversation of (tenant, session, contact), or returns
// the existing one's id.
func (q ConversationQuery) Create(ctx context.Context, p CreateConversationParams) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, conversationCreateSQL, p.TenantID, p.SessionID, p.Contact, p.AgentID, p.AssignedAt).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("store: create conversation: %w", err)
	}
	return id, nil
}

// TurnConversation is a conversation as a turn reads it.
type TurnConversation struct {
	TenantID      string
	AgentID       *string
	SessionID     *string
	Contact       string
	State         string
	PausedUntil   *time.Time
	Context       json.RawMessage
	Consecutive   int
	LastInboundAt *time.Time
}

const conversationGetForTurnSQL = `
SELECT tenant_id, agent_id, session_id, contact, state, paused_until, context, consecutive_replies, last_inbound_at
  FROM public.ai_conversations WHERE id = $1`

// GetForTurn loads a conversation for a turn (pgx.ErrNoRows when gone).
func (q ConversationQuery) GetForTurn(ctx context.Context, id string) (TurnConversation, error) {
	var c TurnConversation
	err := q.db.QueryRow(ctx, conversationGetForTurnSQL, id).Scan(&c.TenantID, &c.AgentID, &c.SessionID, &c.Contact, &c.State,
		&c.PausedUntil, &c.Context, &c.Consecutive, &c.LastInboundAt)
	if err != nil {
		return TurnConversation{}, fmt.Errorf("store: load conversation: %w", err)
	}
	return c, nil
}

const conversationLockSQL = `SELECT 1 FROM public.ai_conversations WHERE id = $1 FOR UPDATE`

// Lock locks the conversation's row until the transaction ends (no error
// when it is gone).
func (q ConversationQuery) Lock(ctx context.Context, id string) error {
	if _, err := q.db.Exec(ctx, conversationLockSQL, id); err != nil {
		return fmt.Errorf("store: lock conversation: %w", err)
	}
	return nil
}

const conversationLockConsecutiveSQL = `SELECT consecutive_replies FROM public.ai_conversations WHERE id = $1 FOR UPDATE`

// LockConsecutive locks the conversation's row until the transaction ends
// and returns its consecutive reply count (pgx.ErrNoRows when gone).
func (q ConversationQuery) LockConsecutive(ctx context.Context, id string) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, conversationLockConsecutiveSQL, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: lock conversation: %w", err)
	}
	return n, nil
}

// SetConversationStateParams set a conversation's state after a silent
// turn.
type SetConversationStateParams struct {
	ID          string
	State       string
	PausedUntil *time.Time
	// ResetCount zeroes consecutive_replies.
	ResetCount bool
}

const conversationSetStateSQL = `
UPDATE public.ai_conversations
   SET state = $2, paused_until = $3,
       consecutive_replies = CASE WHEN $4 THEN 0 ELSE consecutive_replies END
 WHERE id = $1`

// SetState sets the conversation's state and pause.
func (q ConversationQuery) SetState(ctx context.Context, p SetConversationStateParams) error {
	if _, err := q.db.Exec(ctx, conversationSetStateSQL, p.ID, p.State, p.PausedUntil, p.ResetCount); err != nil {
		return fmt.Errorf("store: set conversation state: %w", err)
	}
	return nil
}

const conversationPauseSQL = `UPDATE public.ai_conversations SET state = ` + sqlConversationPaused + `, paused_until = $2, consecutive_replies = 0 WHERE id = $1`

// Pause pauses the conversation until until and zeroes its reply count (an
// operator wrote).
func (q ConversationQuery) Pause(ctx context.Context, id string, until time.Time) error {
	if _, err := q.db.Exec(ctx, conversationPauseSQL, id, until); err != nil {
		return fmt.Errorf("store: pause conversation: %w", err)
	}
	return nil
}

// RecordReplyParams are a conversation's columns after a reply.
type RecordReplyParams struct {
	ID          string
	State       string
	PausedUntil *time.Time
	Context     []byte // context (JSON)
	Consecutive int
	// LastInboundAt is the time of the latest message answered.
	LastInboundAt time.Time
	// AgentID is the agent that answered (kept when one is assigned).
	AgentID string
}

const conversationRecordReplySQL = `
UPDATE public.ai_conversations
   SET state = $2, paused_until = $3, context = $4, consecutive_replies = $5,
       last_inbound_at = $6, agent_id = coalesce(agent_id, $7)
 WHERE id = $1`

// RecordReply updates the conversation's state and memory after a reply.
func (q ConversationQuery) RecordReply(ctx context.Context, p RecordReplyParams) error {
	_, err := q.db.Exec(ctx, conversationRecordReplySQL, p.ID, p.State, p.PausedUntil, p.Context, p.Consecutive, p.LastInboundAt, p.AgentID)
	if err != nil {
		return fmt.Errorf("store: update conversation: %w", err)
	}
	return nil
}
