package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
)

// MessageQuery runs the statements over public.messages: outbound rows the
// API inserts, the rows it reads back (status, console, Annex B views) and
// the edits and deletions it records.
type MessageQuery struct{ db DB }

// Messages returns the queries over public.messages.
func (s *Store) Messages() MessageQuery { return MessageQuery{s.db} }

// OutboundRow is one outbound row to insert (InsertOutbound). Its JSON form
// is the record jsonb_to_recordset reads.
type OutboundRow struct {
	ID        string          `json:"id"`
	SessionID *string         `json:"session_id"`
	To        string          `json:"to_number"`
	Type      string          `json:"message_type"`
	Content   json.RawMessage `json:"content"`
	Provider  string          `json:"provider"`
	EnableAI  bool            `json:"enable_ai"`
	AgentID   *string         `json:"agent_id"`
	Metadata  map[string]any  `json:"metadata"`
}

// InsertedMessage is what InsertOutbound answers for each row.
type InsertedMessage struct {
	ID        string
	Status    string
	Provider  string
	UpdatedAt time.Time
	To        string
}

// InsertOutboundParams are the rows of one send (single or bulk).
type InsertOutboundParams struct {
	TenantID string
	Rows     []OutboundRow
	// Traceparent is the request's trace context (nil: none).
	Traceparent *string
}

const insertOutboundSQL = `
INSERT INTO public.messages (id, tenant_id, session_id, direction, to_number, message_type, content, provider,
  enable_ai, agent_id, metadata, traceparent)
SELECT x.id, $1, x.session_id, ` + sqlOutbound + `, x.to_number, x.message_type, x.content, x.provider,
       x.enable_ai, x.agent_id, x.metadata, $3
  FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, session_id uuid, to_number text, message_type text,
       content jsonb, provider text, enable_ai boolean, agent_id uuid, metadata jsonb)
RETURNING id, status, provider, updated_at, to_number`

// InsertOutbound inserts outbound rows (status pending) in one statement.
// The result is in RETURNING order, which callers should not rely on.
func (q MessageQuery) InsertOutbound(ctx context.Context, p InsertOutboundParams) ([]InsertedMessage, error) {
	payload, err := json.Marshal(p.Rows)
	if err != nil {
		return nil, fmt.Errorf("store: insert outbound messages: %w", err)
	}
	rows, err := q.db.Query(ctx, insertOutboundSQL, p.TenantID, payload, p.Traceparent)
	if err != nil {
		return nil, fmt.Errorf("store: insert outbound messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (InsertedMessage, error) {
		var m InsertedMessage
		err := row.Scan(&m.ID, &m.Status, &m.Provider, &m.UpdatedAt, &m.To)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: insert outbound messages: %w", err)
	}
	return out, nil
}

// MessageStatusRow is a message's send state (GET /messages/{id}/status).
type MessageStatusRow struct {
	ID                string
	Status            string
	Provider          string
	UpdatedAt         time.Time
	To                *string
	ProviderMessageID *string
	ErrorCode         *string
	ErrorReason       *string
	Direction         string
	Type              string
	Attempts          int
	CreatedAt         time.Time
	SentAt            *time.Time
	DeliveredAt       *time.Time
	ReadAt            *time.Time
	FailedAt          *time.Time
}

const statusColumnsSQL = `
SELECT id, status, provider, updated_at, to_number, message_id, error_code, error_reason, direction, message_type,
       attempts, created_at, sent_at, delivered_at, read_at, failed_at
  FROM public.messages WHERE tenant_id = $1 AND `

const (
	statusByIDSQL = statusColumnsSQL + `id::text = $2
 ORDER BY created_at DESC LIMIT 1`
	statusByProviderIDSQL = statusColumnsSQL + `message_id = $2
 ORDER BY created_at DESC LIMIT 1`
)

// StatusOf reads the newest message of the tenant whose id (byID) or
// provider message id is ref. pgx.ErrNoRows when there is none.
func (q MessageQuery) StatusOf(ctx context.Context, tenantID, ref string, byID bool) (MessageStatusRow, error) {
	sql := statusByProviderIDSQL
	if byID {
		sql = statusByIDSQL
	}
	var m MessageStatusRow
	err := q.db.QueryRow(ctx, sql, tenantID, ref).Scan(&m.ID, &m.Status, &m.Provider, &m.UpdatedAt,
		&m.To, &m.ProviderMessageID, &m.ErrorCode, &m.ErrorReason, &m.Direction, &m.Type, &m.Attempts, &m.CreatedAt, &m.SentAt,
		&m.DeliveredAt, &m.ReadAt, &m.FailedAt)
	if err != nil {
		return m, fmt.Errorf("store: message status: %w", err)
	}
	return m, nil
}

// MessageOutcome is a row's state after a send was waited for.
type MessageOutcome struct {
	Status            string
	Provider          string
	UpdatedAt         time.Time
	ProviderMessageID *string
	ErrorCode         *string
	ErrorReason       *string
}

const outcomeSQL = `SELECT status, provider, updated_at, message_id, error_code, error_reason
  FROM public.messages WHERE tenant_id = $1 AND id = $2`

// Outcome reads the send state of the tenant's row id.
func (q MessageQuery) Outcome(ctx context.Context, tenantID, id string) (MessageOutcome, error) {
	var o MessageOutcome
	err := q.db.QueryRow(ctx, outcomeSQL, tenantID, id).Scan(&o.Status, &o.Provider, &o.UpdatedAt,
		&o.ProviderMessageID, &o.ErrorCode, &o.ErrorReason)
	if err != nil {
		return o, fmt.Errorf("store: message outcome: %w", err)
	}
	return o, nil
}

const statusSQL = `SELECT status FROM public.messages WHERE tenant_id = $1 AND id = $2`

// Status reads the status of the tenant's row id.
func (q MessageQuery) Status(ctx context.Context, tenantID, id string) (zapbase.Status, error) {
	var st zapbase.Status
	if err := q.db.QueryRow(ctx, statusSQL, tenantID, id).Scan(&st); err != nil {
		return st, fmt.Errorf("store: message status: %w", err)
	}
	return st, nil
}

const movePendingSQL = `UPDATE public.messages SET provider = $2, session_id = NULL
 WHERE tenant_id = $1 AND direction = ` + sqlOutbound + ` AND status = ` + sqlPending + ` AND provider <> $2`

// MovePending moves the tenant's pending outbound rows to provider (and
// lets the dispatcher pick their session again); it answers how many moved.
func (q MessageQuery) MovePending(ctx context.Context, tenantID string, provider zapbase.ProviderType) (int64, error) {
	tag, err := q.db.Exec(ctx, movePendingSQL, tenantID, string(provider))
	if err != nil {
		return 0, fmt.Errorf("store: move pending messages: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ConsoleMessage is a message row as the console shows it. Contact is the
// other party (from_number of inbound rows, to_number of outbound ones).
type ConsoleMessage struct {
	ID          string
	Direction   string
	Type        string
	Content     json.RawMessage
	Status      string
	Provider    string
	SessionID   *string
	Contact     string
	ErrorCode   string
	ErrorReason string
	AgentID     *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const consoleColumns = `id, direction, message_type, content, status, provider, session_id,
       coalesce(CASE WHEN direction = ` + sqlInbound + ` THEN from_number ELSE to_number END, ''),
       coalesce(error_code, ''), coalesce(error_reason, ''), agent_id, created_at, updated_at`

func (m *ConsoleMessage) dest() []any {
	return []any{&m.ID, &m.Direction, &m.Type, &m.Content, &m.Status, &m.Provider, &m.SessionID, &m.Contact,
		&m.ErrorCode, &m.ErrorReason, &m.AgentID, &m.CreatedAt, &m.UpdatedAt}
}

func scanConsoleMessage(row pgx.CollectableRow) (ConsoleMessage, error) {
	var m ConsoleMessage
	err := row.Scan(m.dest()...)
	return m, err
}

const (
	consoleByIDSQL         = `SELECT ` + consoleColumns + ` FROM public.messages WHERE tenant_id = $1 AND id = $2`
	consoleByProviderIDSQL = `SELECT ` + consoleColumns + ` FROM public.messages WHERE tenant_id = $1 AND message_id = $2`
)

// ConsoleByID reads the tenant's row id. pgx.ErrNoRows when there is none.
func (q MessageQuery) ConsoleByID(ctx context.Context, tenantID, id string) (ConsoleMessage, error) {
	return q.consoleOne(ctx, consoleByIDSQL, tenantID, id)
}

// ConsoleByProviderID reads the tenant's one row with provider message id
// id. pgx.ErrNoRows when there is none, pgx.ErrTooManyRows when several.
func (q MessageQuery) ConsoleByProviderID(ctx context.Context, tenantID, id string) (ConsoleMessage, error) {
	return q.consoleOne(ctx, consoleByProviderIDSQL, tenantID, id)
}

func (q MessageQuery) consoleOne(ctx context.Context, sql, tenantID, id string) (ConsoleMessage, error) {
	rows, err := q.db.Query(ctx, sql, tenantID, id)
	if err != nil {
		return ConsoleMessage{}, fmt.Errorf("store: read message: %w", err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanConsoleMessage)
	if err != nil {
		return m, fmt.Errorf("store: read message: %w", err)
	}
	return m, nil
}

// ConversationSummary is one contact with its last message (the console's
// conversation list).
type ConversationSummary struct {
	Last       ConsoleMessage // SessionID: the conversation's session
	PushName   string
	Unanswered int
	AIState    string
	AgentID    *string
}

const listConversationsSQL = `
WITH last AS (
  SELECT DISTINCT ON (m.contact) m.*
    FROM (SELECT *, CASE WHEN direction = ` + sqlInbound + ` THEN from_number ELSE to_number END AS contact
            FROM public.messages
           WHERE tenant_id = $1 AND message_type <> ` + sqlReadMark + `) m
   WHERE coalesce(m.contact, '') <> ''
   ORDER BY m.contact, m.created_at DESC, m.seq DESC
), conv AS (
  -- The session of the conversation: the last one a message of it used
  -- (a row not dispatched yet has none).
  SELECT l.*, coalesce(l.session_id, (SELECT ms.session_id FROM public.messages ms
           WHERE ms.tenant_id = $1 AND ms.session_id IS NOT NULL
             AND ((ms.direction = ` + sqlInbound + ` AND ms.from_number = l.contact) OR (ms.direction = ` + sqlOutbound + ` AND ms.to_number = l.contact))
           ORDER BY ms.created_at DESC LIMIT 1)) AS conv_session
    FROM last l
)
SELECT l.id, l.direction, l.message_type, l.content, l.status, l.provider, l.conv_session, l.contact,
       coalesce(l.error_code, ''), coalesce(l.error_reason, ''), l.agent_id, l.created_at, l.updated_at,
       coalesce((SELECT mm.metadata->>'pushName' FROM public.messages mm
                  WHERE mm.tenant_id = $1 AND mm.direction = ` + sqlInbound + ` AND mm.from_number = l.contact
                    AND mm.metadata ? 'pushName' ORDER BY mm.created_at DESC LIMIT 1), ''),
       (SELECT count(*) FROM public.messages mi
         WHERE mi.tenant_id = $1 AND mi.direction = ` + sqlInbound + ` AND mi.from_number = l.contact
           AND mi.created_at > coalesce((SELECT max(mo.created_at) FROM public.messages mo
                 WHERE mo.tenant_id = $1 AND mo.direction = ` + sqlOutbound + ` AND mo.to_number = l.contact), '-infinity'))::int,
       coalesce(c.state, ''), c.agent_id
  FROM conv l
  LEFT JOIN public.ai_conversations c ON c.tenant_id = $1 AND c.session_id IS NOT DISTINCT FROM l.conv_session AND c.contact = l.contact
 ORDER BY l.created_at DESC
 LIMIT $2`

// ListConversations answers one row per contact of the tenant, newest
// first, with the AI conversation's state.
func (q MessageQuery) ListConversations(ctx context.Context, tenantID string, limit int) ([]ConversationSummary, error) {
	rows, err := q.db.Query(ctx, listConversationsSQL, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list conversations: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ConversationSummary, error) {
		var c ConversationSummary
		err := row.Scan(append(c.Last.dest(), &c.PushName, &c.Unanswered, &c.AIState, &c.AgentID)...)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list conversations: %w", err)
	}
	return list, nil
}

// TimelineParams select a conversation's messages.
type TimelineParams struct {
	TenantID string
	Contact  string
	// SessionID restricts to one session (nil: all).
	SessionID *string
	Limit     int
}

const timelineSQL = `SELECT * FROM (
SELECT ` + consoleColumns + `, seq FROM public.messages
 WHERE tenant_id = $1 AND message_type <> ` + sqlReadMark + `
   AND ((direction = ` + sqlInbound + ` AND from_number = $2) OR (direction = ` + sqlOutbound + ` AND to_number = $2))
   AND ($3::uuid IS NULL OR session_id = $3::uuid)
 ORDER BY created_at DESC, seq DESC LIMIT $4) x ORDER BY created_at, seq`

// Timeline answers the last Limit messages with a contact, oldest first.
func (q MessageQuery) Timeline(ctx context.Context, p TimelineParams) ([]ConsoleMessage, error) {
	rows, err := q.db.Query(ctx, timelineSQL, p.TenantID, p.Contact, p.SessionID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: conversation timeline: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ConsoleMessage, error) {
		var m ConsoleMessage
		var seq int64
		err := row.Scan(append(m.dest(), &seq)...)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: conversation timeline: %w", err)
	}
	return list, nil
}

const mediaRefSQL = `SELECT coalesce(content->>'mediaPath', ''), coalesce(content->>'mimeType', '')
  FROM public.messages WHERE tenant_id = $1 AND id = $2`

// MediaRef answers the stored media path and MIME type of the tenant's row
// id ("" when it has none). pgx.ErrNoRows when there is no such row.
func (q MessageQuery) MediaRef(ctx context.Context, tenantID, id string) (path, mimeType string, err error) {
	if err := q.db.QueryRow(ctx, mediaRefSQL, tenantID, id).Scan(&path, &mimeType); err != nil {
		return "", "", fmt.Errorf("store: message media: %w", err)
	}
	return path, mimeType, nil
}

// SentMessage is an outbound row that may be edited or revoked.
type SentMessage struct {
	ID                string
	SessionID         *string
	To                *string
	ProviderMessageID *string
	Provider          string
	Type              zapbase.MessageType
}

const sentColumnsSQL = `
SELECT id::text, session_id::text, to_number, message_id, provider, message_type FROM public.messages
 WHERE tenant_id = $1 AND direction = ` + sqlOutbound + ` AND `

const (
	sentByIDSQL = sentColumnsSQL + `id::text = $2
 ORDER BY created_at DESC LIMIT 1`
	sentByProviderIDSQL = sentColumnsSQL + `message_id = $2
 ORDER BY created_at DESC LIMIT 1`
)

// Sent reads the tenant's newest outbound row whose id (byID) or provider
// message id is ref. pgx.ErrNoRows when there is none.
func (q MessageQuery) Sent(ctx context.Context, tenantID, ref string, byID bool) (SentMessage, error) {
	sql := sentByProviderIDSQL
	if byID {
		sql = sentByIDSQL
	}
	var m SentMessage
	err := q.db.QueryRow(ctx, sql, tenantID, ref).Scan(&m.ID, &m.SessionID, &m.To, &m.ProviderMessageID, &m.Provider, &m.Type)
	if err != nil {
		return m, fmt.Errorf("store: read sent message: %w", err)
	}
	return m, nil
}

const recordEditSQL = `
UPDATE public.messages
   SET edit_history = edit_history || jsonb_build_array(jsonb_build_object('content', content, 'until', now())),
       content = content || jsonb_build_object('text', $3::text), edited_at = now()
 WHERE tenant_id = $1 AND id = $2 RETURNING edited_at`

// RecordEdit replaces the text of the tenant's row id, keeping the previous
// content in edit_history; it answers edited_at.
func (q MessageQuery) RecordEdit(ctx context.Context, tenantID, id, text string) (time.Time, error) {
	var at time.Time
	if err := q.db.QueryRow(ctx, recordEditSQL, tenantID, id, text).Scan(&at); err != nil {
		return at, fmt.Errorf("store: record message edit: %w", err)
	}
	return at, nil
}

const markRevokedSQL = `
UPDATE public.messages SET revoked_at = coalesce(revoked_at, now())
 WHERE tenant_id = $1 AND id = $2 RETURNING revoked_at`

// MarkRevoked records that the tenant's row id was deleted for everyone;
// it answers revoked_at (the first one when it already was).
func (q MessageQuery) MarkRevoked(ctx context.Context, tenantID, id string) (time.Time, error) {
	var at time.Time
	if err := q.db.QueryRow(ctx, markRevokedSQL, tenantID, id).Scan(&at); err != nil {
		return at, fmt.Errorf("store: mark message revoked: %w", err)
	}
	return at, nil
}

const pollContentSQL = `SELECT content -> 'poll' FROM public.messages
 WHERE tenant_id = $1 AND id = $2 AND message_type = ` + sqlPoll

// PollContent answers the poll (content.poll, JSON) of the tenant's poll
// row id. pgx.ErrNoRows when there is no such poll.
func (q MessageQuery) PollContent(ctx context.Context, tenantID, id string) ([]byte, error) {
	var raw []byte
	if err := q.db.QueryRow(ctx, pollContentSQL, tenantID, id).Scan(&raw); err != nil {
		return nil, fmt.Errorf("store: read poll: %w", err)
	}
	return raw, nil
}

const pollForVoteSQL = `SELECT coalesce(message_id, ''), content -> 'poll' FROM public.messages
 WHERE tenant_id = $1 AND id = $2 AND message_type = ` + sqlPoll

// PollForVote answers the provider message id ("" when not sent yet) and
// the poll (JSON) of the tenant's poll row id. pgx.ErrNoRows when there is
// no such poll.
func (q MessageQuery) PollForVote(ctx context.Context, tenantID, id string) (providerID string, poll []byte, err error) {
	if err := q.db.QueryRow(ctx, pollForVoteSQL, tenantID, id).Scan(&providerID, &poll); err != nil {
		return "", nil, fmt.Errorf("store: read poll: %w", err)
	}
	return providerID, poll, nil
}

// PollVote is a contact's current vote on a poll.
type PollVote struct {
	Contact string
	// SelectedOptions is content.pollVote.selectedOptions (JSON; empty:
	// withdrawn).
	SelectedOptions []byte
	VotedAt         time.Time
}

const pollVotesSQL = `
SELECT DISTINCT ON (from_number) coalesce(from_number, ''), content -> 'pollVote' -> 'selectedOptions', created_at
  FROM public.messages
 WHERE tenant_id = $1 AND message_type = ` + sqlPollVote + ` AND (content -> 'pollVote' ->> 'pollRowId') = $2
 ORDER BY from_number, created_at DESC, seq DESC`

// PollVotes answers each contact's latest vote on the tenant's poll row
// pollRowID.
func (q MessageQuery) PollVotes(ctx context.Context, tenantID, pollRowID string) ([]PollVote, error) {
	rows, err := q.db.Query(ctx, pollVotesSQL, tenantID, pollRowID)
	if err != nil {
		return nil, fmt.Errorf("store: read poll votes: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PollVote, error) {
		var v PollVote
		err := r.Scan(&v.Contact, &v.SelectedOptions, &v.VotedAt)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: read poll votes: %w", err)
	}
	return list, nil
}

// UnreadParams select the received, unread messages of a chat.
type UnreadParams struct {
	TenantID  string
	SessionID string
	// Chat is the contact's number or JID, or a group JID (…@g.us).
	Chat string
	// ProviderMessageIDs restricts to these messages (nil: all).
	ProviderMessageIDs []string
}

// UnreadMessage is a received message not marked read yet.
type UnreadMessage struct {
	ProviderMessageID string
	Sender            string
}

const listUnreadSQL = `
SELECT message_id, coalesce(from_number, '') FROM public.messages
 WHERE tenant_id = $1 AND session_id = $2 AND direction = ` + sqlInbound + ` AND status = ` + sqlReceived + ` AND message_id IS NOT NULL
   AND CASE WHEN $3 LIKE '%@g.us' THEN metadata ->> 'chat' = $3
            ELSE (from_number = $3 OR metadata ->> 'chat' = $3) AND NOT coalesce((metadata ->> 'isGroup')::boolean, false) END
   AND ($4::text[] IS NULL OR message_id = ANY($4))
 ORDER BY created_at DESC LIMIT 100`

// ListUnread answers up to 100 received, unread messages of a chat, newest
// first.
func (q MessageQuery) ListUnread(ctx context.Context, p UnreadParams) ([]UnreadMessage, error) {
	rows, err := q.db.Query(ctx, listUnreadSQL, p.TenantID, p.SessionID, p.Chat, p.ProviderMessageIDs)
	if err != nil {
		return nil, fmt.Errorf("store: list unread messages: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnreadMessage, error) {
		var m UnreadMessage
		err := r.Scan(&m.ProviderMessageID, &m.Sender)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list unread messages: %w", err)
	}
	return list, nil
}

const markInboundReadSQL = `
UPDATE public.messages SET status = ` + sqlRead + `, read_at = now()
 WHERE tenant_id = $1 AND session_id = $2 AND direction = ` + sqlInbound + ` AND status = ` + sqlReceived + ` AND message_id = ANY($3)`

// MarkInboundRead marks received messages of a session read.
func (q MessageQuery) MarkInboundRead(ctx context.Context, tenantID, sessionID string, providerMessageIDs []string) error {
	if _, err := q.db.Exec(ctx, markInboundReadSQL, tenantID, sessionID, providerMessageIDs); err != nil {
		return fmt.Errorf("store: mark messages read: %w", err)
	}
	return nil
}

// MessageRecord is a message in the shape of the specification's annex B:
// the row with its session's number and its agent's reference.
type MessageRecord struct {
	ID                string
	TenantID          string
	SessionID         *string
	ProviderMessageID *string
	From              *string
	To                *string
	Type              string
	Content           json.RawMessage
	Provider          string
	AIProcessed       bool
	// AgentWrote: an agent wrote the message (agent_id set, metadata.ai).
	AgentWrote  bool
	AgentRef    *string // the agent's slug, or its id
	CreatedAt   time.Time
	Status      string
	Direction   string
	UpdatedAt   time.Time
	ErrorCode   *string
	ErrorReason *string
}

const recordColumnsSQL = `
SELECT m.id, m.tenant_id, m.session_id, m.message_id,
       coalesce(m.from_number, CASE WHEN m.direction = ` + sqlOutbound + ` THEN s.phone_number END),
       coalesce(m.to_number, CASE WHEN m.direction = ` + sqlInbound + ` THEN s.phone_number END),
       m.message_type, m.content, m.provider, m.ai_processed, m.agent_id IS NOT NULL AND m.metadata ? 'ai',
       coalesce(a.slug, a.id::text), m.created_at, m.status, m.direction, m.updated_at, m.error_code, m.error_reason
  FROM public.messages m
  LEFT JOIN public.whatsapp_sessions s ON s.tenant_id = m.tenant_id AND s.id = m.session_id
  LEFT JOIN public.ai_agents a ON a.tenant_id = m.tenant_id AND a.id = m.agent_id
 WHERE m.tenant_id = $1 AND `

const (
	recordByIDSQL = recordColumnsSQL + `m.id::text = $2
 ORDER BY m.created_at DESC LIMIT 1`
	recordByProviderIDSQL = recordColumnsSQL + `m.message_id = $2
 ORDER BY m.created_at DESC LIMIT 1`
)

// Record reads the tenant's newest message whose id (byID) or provider
// message id is ref. pgx.ErrNoRows when there is none.
func (q MessageQuery) Record(ctx context.Context, tenantID, ref string, byID bool) (MessageRecord, error) {
	sql := recordByProviderIDSQL
	if byID {
		sql = recordByIDSQL
	}
	var m MessageRecord
	err := q.db.QueryRow(ctx, sql, tenantID, ref).Scan(&m.ID, &m.TenantID, &m.SessionID, &m.ProviderMessageID, &m.From, &m.To,
		&m.Type, &m.Content, &m.Provider, &m.AIProcessed, &m.AgentWrote, &m.AgentRef, &m.CreatedAt, &m.Status,
		&m.Direction, &m.UpdatedAt, &m.ErrorCode, &m.ErrorReason)
	if err != nil {
		return m, fmt.Errorf("store: read message record: %w", err)
	}
	return m, nil
}

// DashboardTotals are the tenant's send figures of the last hours.
type DashboardTotals struct {
	Sent         int64
	Failed       int64
	InFlight     int64
	Received     int64
	LatencyP50Ms *float64
	LatencyP95Ms *float64
	AIReplies    int64
}

const dashboardTotalsSQL = `
WITH w AS (SELECT now() - make_interval(hours => $2) AS since),
out AS (
  SELECT m.* FROM public.messages m, w WHERE m.tenant_id = $1 AND m.direction = ` + sqlOutbound + ` AND m.created_at >= w.since
     AND m.message_type <> ` + sqlReadMark + `
)
SELECT count(*) FILTER (WHERE status IN (` + sqlSent + `, ` + sqlDelivered + `, ` + sqlRead + `, ` + sqlPlayed + `)),
       count(*) FILTER (WHERE status = ` + sqlFailed + `),
       count(*) FILTER (WHERE status IN (` + sqlPending + `, ` + sqlSending + `)),
       (SELECT count(*) FROM public.messages m, w WHERE m.tenant_id = $1 AND m.direction = ` + sqlInbound + ` AND m.created_at >= w.since),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at) * 1000) FILTER (WHERE sent_at IS NOT NULL),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at) * 1000) FILTER (WHERE sent_at IS NOT NULL),
       count(*) FILTER (WHERE agent_id IS NOT NULL)
  FROM out`

// DashboardTotals counts the tenant's messages of the last hours.
func (q MessageQuery) DashboardTotals(ctx context.Context, tenantID string, hours int) (DashboardTotals, error) {
	var d DashboardTotals
	err := q.db.QueryRow(ctx, dashboardTotalsSQL, tenantID, hours).Scan(&d.Sent, &d.Failed, &d.InFlight, &d.Received,
		&d.LatencyP50Ms, &d.LatencyP95Ms, &d.AIReplies)
	if err != nil {
		return d, fmt.Errorf("store: dashboard totals: %w", err)
	}
	return d, nil
}

const aiResponseTimesSQL = `
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)
  FROM (SELECT extract(epoch FROM r.created_at - i.created_at) * 1000 AS ms
          FROM public.messages r
          CROSS JOIN LATERAL (SELECT created_at FROM public.messages i
                 WHERE i.tenant_id = r.tenant_id AND i.direction = ` + sqlInbound + ` AND i.from_number = r.to_number
                   AND i.session_id IS NOT DISTINCT FROM r.session_id AND i.created_at <= r.created_at
                 ORDER BY i.created_at DESC LIMIT 1) i
         WHERE r.tenant_id = $1 AND r.direction = ` + sqlOutbound + ` AND r.agent_id IS NOT NULL
           AND r.created_at >= now() - make_interval(hours => $2)) x`

// AIResponseTimes answers the median and 95th percentile (ms) of the time
// from the latest inbound message of a conversation to each AI reply of
// the last hours (nil without replies).
func (q MessageQuery) AIResponseTimes(ctx context.Context, tenantID string, hours int) (p50, p95 *float64, err error) {
	if err := q.db.QueryRow(ctx, aiResponseTimesSQL, tenantID, hours).Scan(&p50, &p95); err != nil {
		return nil, nil, fmt.Errorf("store: AI response times: %w", err)
	}
	return p50, p95, nil
}

const providerMixSQL = `SELECT provider, count(*) FROM public.messages
 WHERE tenant_id = $1 AND direction = ` + sqlOutbound + ` AND created_at >= now() - make_interval(hours => $2) AND provider <> ` + sqlAuto + `
 GROUP BY provider`

// ProviderMix counts the tenant's outbound messages of the last hours by
// provider.
func (q MessageQuery) ProviderMix(ctx context.Context, tenantID string, hours int) (map[string]int64, error) {
	m, err := countsByKey(q.db.Query(ctx, providerMixSQL, tenantID, hours))
	if err != nil {
		return nil, fmt.Errorf("store: provider mix: %w", err)
	}
	return m, nil
}

// HourlyPoint is one hour of the dashboard's series.
type HourlyPoint struct {
	Hour         time.Time
	Sent         int64
	Failed       int64
	Received     int64
	LatencyP50Ms *float64
}

const hourlySeriesSQL = `
WITH hours AS (
  SELECT generate_series(date_trunc('hour', now()) - make_interval(hours => $2 - 1), date_trunc('hour', now()), interval '1 hour') AS hour
)
SELECT h.hour,
       count(m.id) FILTER (WHERE m.direction = ` + sqlOutbound + ` AND m.status IN (` + sqlSent + `, ` + sqlDelivered + `, ` + sqlRead + `, ` + sqlPlayed + `)),
       count(m.id) FILTER (WHERE m.direction = ` + sqlOutbound + ` AND m.status = ` + sqlFailed + `),
       count(m.id) FILTER (WHERE m.direction = ` + sqlInbound + `),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM m.sent_at - m.created_at) * 1000)
         FILTER (WHERE m.direction = ` + sqlOutbound + ` AND m.sent_at IS NOT NULL)
  FROM hours h
  LEFT JOIN public.messages m ON m.tenant_id = $1 AND m.created_at >= h.hour AND m.created_at < h.hour + interval '1 hour'
       AND m.message_type <> ` + sqlReadMark + `
 GROUP BY h.hour ORDER BY h.hour`

// HourlySeries answers one point per hour of the last hours, oldest first.
func (q MessageQuery) HourlySeries(ctx context.Context, tenantID string, hours int) ([]HourlyPoint, error) {
	rows, err := q.db.Query(ctx, hourlySeriesSQL, tenantID, hours)
	if err != nil {
		return nil, fmt.Errorf("store: hourly series: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HourlyPoint, error) {
		var p HourlyPoint
		err := row.Scan(&p.Hour, &p.Sent, &p.Failed, &p.Received, &p.LatencyP50Ms)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: hourly series: %w", err)
	}
	return list, nil
}

// countsByKey reads (key, count) rows into a map.
func countsByKey(rows pgx.Rows, err error) (map[string]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	into := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		into[k] = n
	}
	return into, rows.Err()
}
