package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The AI runtime's statements over public.messages: inbound rows waiting
// for an agent (ai_processed = false), their routing to a conversation,
// the operator's sends that pause the agent, and the agent's replies.

// messagesAIUnhandledSQL finds recent inbound rows no agent has handled
// yet, of tenants that have an active agent.
const messagesAIUnhandledSQL = `
SELECT m.id FROM public.messages m
 WHERE m.direction = ` + sqlInbound + ` AND NOT m.ai_processed
   AND m.created_at > $1
   AND m.tenant_id IN (SELECT a.tenant_id FROM public.ai_agents a WHERE a.is_active)
 ORDER BY m.created_at
 LIMIT 1000`

// ListAIUnhandled returns the ids of inbound rows created after since that
// no agent handled yet, of tenants with an active agent, oldest first (at
// most 1000).
func (q MessageQuery) ListAIUnhandled(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := q.db.Query(ctx, messagesAIUnhandledSQL, since)
	if err != nil {
		return nil, fmt.Errorf("store: scan unhandled inbound rows: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: scan unhandled inbound rows: %w", err)
	}
	return ids, nil
}

// AIInbound is what routing an inbound row to a conversation needs.
type AIInbound struct {
	ID        string
	TenantID  string
	SessionID *string
	From      *string
	Meta      map[string]any
	ConvID    *string
}

const messagesAIInboundSQL = `
SELECT id, tenant_id, session_id, from_number, metadata, conversation_id
  FROM public.messages
 WHERE id = ANY($1) AND direction = ` + sqlInbound + ` AND NOT ai_processed`

// ListAIInbound loads those of ids that are inbound rows no agent handled
// yet.
func (q MessageQuery) ListAIInbound(ctx context.Context, ids []string) ([]AIInbound, error) {
	rows, err := q.db.Query(ctx, messagesAIInboundSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("store: load inbound rows: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AIInbound, error) {
		var m AIInbound
		err := row.Scan(&m.ID, &m.TenantID, &m.SessionID, &m.From, &m.Meta, &m.ConvID)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: load inbound rows: %w", err)
	}
	return msgs, nil
}

const messagesMarkAIProcessedSQL = `UPDATE public.messages SET ai_processed = true WHERE id = ANY($1) AND NOT ai_processed`

// MarkAIProcessed marks rows handled by the AI runtime and returns how many
// were not already (a turn that finds fewer lost a race to another).
func (q MessageQuery) MarkAIProcessed(ctx context.Context, ids []string) (int64, error) {
	tag, err := q.db.Exec(ctx, messagesMarkAIProcessedSQL, ids)
	if err != nil {
		return 0, fmt.Errorf("store: mark rows ai-processed: %w", err)
	}
	return tag.RowsAffected(), nil
}

const messagesLinkConversationSQL = `UPDATE public.messages SET conversation_id = $2 WHERE id = ANY($1) AND conversation_id IS DISTINCT FROM $2`

// LinkConversation sets the rows' AI conversation.
func (q MessageQuery) LinkConversation(ctx context.Context, ids []string, conversationID string) error {
	if _, err := q.db.Exec(ctx, messagesLinkConversationSQL, ids, conversationID); err != nil {
		return fmt.Errorf("store: link rows to conversation: %w", err)
	}
	return nil
}

// EnableAISend is the latest send with enableAI to a contact.
type EnableAISend struct {
	// AgentID is the send's agent when it names an active one.
	AgentID   *string
	CreatedAt time.Time
}

const messagesLatestEnableAISendSQL = `
SELECT a.id, m.created_at FROM public.messages m
  LEFT JOIN public.ai_agents a ON a.tenant_id = m.tenant_id AND a.id = m.agent_id AND a.is_active
 WHERE m.tenant_id = $1 AND m.to_number = $3 AND m.direction = ` + sqlOutbound + ` AND m.enable_ai
   AND (m.session_id IS NOT DISTINCT FROM $2 OR m.session_id IS NULL)
 ORDER BY m.created_at DESC LIMIT 1`

// LatestEnableAISend returns the latest send with enableAI to contact on
// the session (or on no session) (pgx.ErrNoRows when none).
func (q MessageQuery) LatestEnableAISend(ctx context.Context, tenantID string, sessionID *string, contact string) (EnableAISend, error) {
	var s EnableAISend
	if err := q.db.QueryRow(ctx, messagesLatestEnableAISendSQL, tenantID, sessionID, contact).Scan(&s.AgentID, &s.CreatedAt); err != nil {
		return EnableAISend{}, fmt.Errorf("store: load enableAI send: %w", err)
	}
	return s, nil
}

// AIPending is an inbound row waiting for the agent's turn.
type AIPending struct {
	ID        string
	Type      string
	Content   json.RawMessage
	CreatedAt time.Time
	Provider  string
	To        *string
	// Traceparent is the trace context the row arrived with ("" when none).
	Traceparent string
}

const messagesAIPendingSQL = `
SELECT id, message_type, content, created_at, provider, to_number, coalesce(traceparent, '')
  FROM public.messages
 WHERE tenant_id = $1 AND conversation_id = $2 AND direction = ` + sqlInbound + ` AND NOT ai_processed
 ORDER BY created_at, id
 LIMIT $3`

// ListAIPending returns the conversation's inbound rows no agent handled
// yet, oldest first, at most limit.
func (q MessageQuery) ListAIPending(ctx context.Context, tenantID, conversationID string, limit int) ([]AIPending, error) {
	rows, err := q.db.Query(ctx, messagesAIPendingSQL, tenantID, conversationID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: load pending messages: %w", err)
	}
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AIPending, error) {
		var p AIPending
		err := row.Scan(&p.ID, &p.Type, &p.Content, &p.CreatedAt, &p.Provider, &p.To, &p.Traceparent)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: load pending messages: %w", err)
	}
	return pending, nil
}

// messagesLastOperatorSendSQL finds the latest operator message (outbound,
// no agent, not sent with enableAI) to the contact on the conversation's
// session, unless a later send with enableAI handed the conversation back
// to the agent.
const messagesLastOperatorSendSQL = `
SELECT CASE WHEN h.ai_at IS NULL OR h.at > h.ai_at THEN h.at END FROM (
  SELECT max(created_at) FILTER (WHERE agent_id IS NULL AND NOT enable_ai) AS at,
         max(created_at) FILTER (WHERE enable_ai) AS ai_at
    FROM public.messages
   WHERE tenant_id = $1 AND to_number = $2 AND session_id IS NOT DISTINCT FROM $3
     AND direction = ` + sqlOutbound + ` AND message_type <> ` + sqlMessageReadMark + `) h`

// LastOperatorSendAt returns when an operator last wrote to the contact on
// the session, nil when never or when a later send with enableAI handed the
// conversation back to the agent.
func (q MessageQuery) LastOperatorSendAt(ctx context.Context, tenantID, contact string, sessionID *string) (*time.Time, error) {
	var at *time.Time
	if err := q.db.QueryRow(ctx, messagesLastOperatorSendSQL, tenantID, contact, sessionID).Scan(&at); err != nil {
		return nil, fmt.Errorf("store: check operator messages: %w", err)
	}
	return at, nil
}

// InsertAIReplyParams are an agent's reply: a pending outbound text row.
type InsertAIReplyParams struct {
	TenantID  string
	SessionID *string
	From      *string
	To        string
	Content   []byte // content (JSON)
	Provider  string
	AgentID   string
	// ConversationID is the AI conversation the reply answers.
	ConversationID string
	Metadata       []byte // metadata (JSON)
	Traceparent    *string
}

const messagesInsertAIReplySQL = `
INSERT INTO public.messages (tenant_id, session_id, direction, from_number, to_number, message_type, content,
  status, provider, agent_id, conversation_id, metadata, traceparent)
VALUES ($1, $2, ` + sqlOutbound + `, $3, $4, ` + sqlMessageText + `, $5, ` + sqlPending + `, $6, $7, $8, $9, $10)
RETURNING id`

// InsertAIReply inserts an agent's reply for the dispatcher to send and
// returns its id.
func (q MessageQuery) InsertAIReply(ctx context.Context, p InsertAIReplyParams) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, messagesInsertAIReplySQL, p.TenantID, p.SessionID, p.From, p.To, p.Content, p.Provider,
		p.AgentID, p.ConversationID, p.Metadata, p.Traceparent).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("store: insert reply: %w", err)
	}
	return id, nil
}
