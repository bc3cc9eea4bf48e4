package store

import (
	"context"
	"fmt"
	"time"
)

// HandoffParams set who answers a conversation.
type HandoffParams struct {
	TenantID  string
	SessionID string
	Contact   string
	State     string
	// PausedUntil is nil when the agent answers.
	PausedUntil *time.Time
}

// HandoffRow is an AI conversation after SetHandoff.
type HandoffRow struct {
	ID          string
	AgentID     *string
	SessionID   *string
	Contact     string
	State       string
	PausedUntil *time.Time
}

const setHandoffSQL = `
INSERT INTO public.ai_conversations (tenant_id, session_id, contact, state, paused_until)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, session_id, contact) DO UPDATE
   SET state = EXCLUDED.state, paused_until = EXCLUDED.paused_until, consecutive_replies = 0, updated_at = now()
RETURNING id, agent_id, session_id, contact, state, paused_until`

// SetHandoff creates or updates the conversation's state (and resets its
// count of consecutive replies).
func (q ConversationQuery) SetHandoff(ctx context.Context, p HandoffParams) (HandoffRow, error) {
	var c HandoffRow
	err := q.db.QueryRow(ctx, setHandoffSQL, p.TenantID, p.SessionID, p.Contact, p.State, p.PausedUntil).Scan(
		&c.ID, &c.AgentID, &c.SessionID, &c.Contact, &c.State, &c.PausedUntil)
	if err != nil {
		return c, fmt.Errorf("store: set conversation handoff: %w", err)
	}
	return c, nil
}
