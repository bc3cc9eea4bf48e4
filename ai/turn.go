package ai

// File size: one agent turn from claim to commit (decide, generate, reply,
// record) in a single transaction's order; the model loop is generate.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/text/unicode/norm"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/tracing"
)

// convRow is a conversation as a turn reads it.
type convRow struct {
	ID             string
	TenantID       string
	AgentID        *string
	SessionID      *string
	Contact        string
	State          string
	PausedUntil    *time.Time
	Context        ConversationContext
	Consecutive    int
	LastInboundAt  *time.Time
	ResolvedAgent  string
	ResolvedConfig AgentConfig
}

// pendingRow is an inbound message waiting for the agent.
type pendingRow struct {
	ID        string
	Type      string
	Content   providers.Content
	CreatedAt time.Time
	Provider  string
	To        *string
	// Traceparent is the trace context the inbound row arrived with.
	Traceparent string
}

// ConversationContext is ai_conversations.context: a bounded verbatim
// history plus a rolling summary of what fell out of it.
type ConversationContext struct {
	Summary string         `json:"summary,omitempty"`
	History []HistoryEntry `json:"history,omitempty"`
	// Handoff explains the last handoff (reason, at).
	Handoff map[string]any `json:"handoff,omitempty"`
	// Requests records tool requests a human must follow up (visits asked
	// for when no tool endpoint is configured).
	Requests []map[string]any `json:"requests,omitempty"`
}

// HistoryEntry is one message of the history.
type HistoryEntry struct {
	Role string    `json:"role"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// decision is what a turn does after its guardrails.
type decision struct {
	kind   string // "model", "silent", "handoff"
	reason string
	// state/pausedUntil to persist.
	state       string
	pausedUntil *time.Time
	resetCount  bool
}

// runTurn runs one turn for a conversation: guardrails, model and tools,
// then one transaction that marks the handled inbound rows and inserts the
// reply. It never returns a reply without that transaction committing, and
// the transaction refuses to commit if another turn handled the rows first:
// exactly one reply per turn across crashes and replicas.
func (r *Runtime) runTurn(ctx context.Context, convID string) (res TurnResult) {
	start := r.clock.Now()
	res.ConversationID = convID
	defer func() { res.Duration = r.clock.Now().Sub(start) }()
	fail := func(err error) TurnResult {
		res.Outcome, res.Err = OutcomeError, err
		return res
	}

	var c convRow
	c.ID = convID
	err := r.p.Pool.QueryRow(ctx, `
SELECT tenant_id, agent_id, session_id, contact, state, paused_until, context, consecutive_replies, last_inbound_at
  FROM public.ai_conversations WHERE id = $1`, convID).Scan(&c.TenantID, &c.AgentID, &c.SessionID, &c.Contact, &c.State,
		&c.PausedUntil, &c.Context, &c.Consecutive, &c.LastInboundAt)
	if errors.Is(err, pgx.ErrNoRows) {
		res.Outcome = OutcomeEmpty
		return res
	}
	if err != nil {
		return fail(fmt.Errorf("load conversation: %w", err))
	}
	res.TenantID = c.TenantID

	rows, err := r.p.Pool.Query(ctx, `
SELECT id, message_type, content, created_at, provider, to_number, coalesce(traceparent, '')
  FROM public.messages
 WHERE tenant_id = $1 AND conversation_id = $2 AND direction = 'inbound' AND NOT ai_processed
 ORDER BY created_at, id
 LIMIT $3`, c.TenantID, convID, maxPendingPerTurn)
	if err != nil {
		return fail(fmt.Errorf("load pending messages: %w", err))
	}
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pendingRow, error) {
		var p pendingRow
		err := row.Scan(&p.ID, &p.Type, &p.Content, &p.CreatedAt, &p.Provider, &p.To, &p.Traceparent)
		return p, err
	})
	if err != nil {
		return fail(fmt.Errorf("load pending messages: %w", err))
	}
	if len(pending) == 0 {
		res.Outcome = OutcomeEmpty
		return res
	}
	ids := make([]string, len(pending))
	for i, p := range pending {
		ids[i] = p.ID
	}
	res.Handled = len(ids)
	now := r.clock.Now()

	// The turn continues the trace of the latest inbound message (the
	// webhook or event that brought it), linked to the others'; the reply
	// row carries the turn's context on to its send.
	ctx, span := r.startTurnSpan(ctx, c, pending)
	defer func() { endTurnSpan(span, res) }()

	// The agent: the assigned one if active, else the tenant's default.
	err = r.p.Pool.QueryRow(ctx, `
SELECT id, configuration FROM public.ai_agents
 WHERE tenant_id = $1 AND is_active AND (id = $2 OR is_default)
 ORDER BY (id = $2) DESC NULLS LAST LIMIT 1`, c.TenantID, c.AgentID).Scan(&c.ResolvedAgent, &c.ResolvedConfig)
	if errors.Is(err, pgx.ErrNoRows) {
		return r.commitSilent(ctx, c, ids, OutcomeNoAgent, decision{state: c.State, pausedUntil: c.PausedUntil}, res)
	}
	if err != nil {
		return fail(fmt.Errorf("load agent: %w", err))
	}
	res.AgentID = c.ResolvedAgent
	cfg := c.ResolvedConfig.withDefaults()

	// Messages older than MaxMessageAge are handled without a reply.
	fresh := pending[:0:0]
	for _, p := range pending {
		if now.Sub(p.CreatedAt) <= r.cfg.MaxMessageAge {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return r.commitSilent(ctx, c, ids, OutcomeStale, decision{state: c.State, pausedUntil: c.PausedUntil}, res)
	}

	d, err := r.decide(ctx, c, cfg, fresh, now)
	if err != nil {
		return fail(err)
	}
	userText := joinTexts(fresh)
	switch d.kind {
	case "silent":
		return r.commitSilent(ctx, c, ids, OutcomePaused, d, res)
	case "handoff":
		return r.commitReply(ctx, c, cfg, fresh, ids, userText, handoffText(cfg), d, Usage{}, nil, res)
	}

	// Model turn.
	last := fresh[len(fresh)-1]
	sessionID := ""
	if c.SessionID != nil {
		sessionID = *c.SessionID
	}
	r.typing(ctx, zapbase.ProviderType(last.Provider), sessionID, c.Contact, true)
	reply, usage, effects, err := r.generate(ctx, c, cfg, userText, now)
	r.typing(context.WithoutCancel(ctx), zapbase.ProviderType(last.Provider), sessionID, c.Contact, false)
	res.Usage = usage
	if usage.Total() > 0 {
		r.recordUsage(ctx, c.TenantID, usage, now)
	}
	if err != nil {
		if ctx.Err() != nil {
			res.Outcome, res.Err = OutcomeAborted, err
			return res
		}
		var me *ModelError
		if errors.As(err, &me) && me.Retryable() && r.bumpAttempts(convID) < r.cfg.MaxModelAttempts {
			after := me.RetryAfter
			if after <= 0 {
				after = 5 * time.Second
			}
			r.scheduleAfter(convID, after)
			res.Outcome, res.Err = OutcomeRetry, err
			return res
		}
		// Permanent failure or retries exhausted: a human takes over, the
		// contact is told so (never silence).
		r.resetAttempts(convID)
		until := now.Add(r.cfg.HandoffDuration)
		d = decision{kind: "handoff", reason: "model_error", state: StateHandoff, pausedUntil: &until}
		res.Err = err
		return r.commitReply(ctx, c, cfg, fresh, ids, userText, handoffText(cfg), d, usage, nil, res)
	}
	r.resetAttempts(convID)
	if effects.handoff != "" {
		until := now.Add(r.cfg.HandoffDuration)
		d = decision{kind: "handoff", reason: effects.handoff, state: StateHandoff, pausedUntil: &until}
		if strings.TrimSpace(reply) == "" {
			reply = handoffText(cfg)
		}
	}
	if strings.TrimSpace(reply) == "" {
		until := now.Add(r.cfg.HandoffDuration)
		d = decision{kind: "handoff", reason: "empty_answer", state: StateHandoff, pausedUntil: &until}
		reply = handoffText(cfg)
	}
	if r.beforeCommit != nil {
		if err := r.beforeCommit(ctx, convID); err != nil {
			res.Outcome, res.Err = OutcomeAborted, err
			return res
		}
	}
	return r.commitReply(ctx, c, cfg, fresh, ids, userText, reply, d, usage, effects.requests, res)
}

func handoffText(cfg AgentConfig) string {
	if cfg.HandoffMessage != "" {
		return cfg.HandoffMessage
	}
	return DefaultHandoffMessage
}

func (r *Runtime) bumpAttempts(convID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[convID]++
	return r.attempts[convID]
}

func (r *Runtime) resetAttempts(convID string) {
	r.mu.Lock()
	delete(r.attempts, convID)
	r.mu.Unlock()
}

// lastHumanSQL finds the latest operator message (outbound, no agent, not
// sent with enableAI) to the contact on the conversation's session, unless
// a later send with enableAI handed the conversation back to the agent.
const lastHumanSQL = `
SELECT CASE WHEN h.ai_at IS NULL OR h.at > h.ai_at THEN h.at END FROM (
  SELECT max(created_at) FILTER (WHERE agent_id IS NULL AND NOT enable_ai) AS at,
         max(created_at) FILTER (WHERE enable_ai) AS ai_at
    FROM public.messages
   WHERE tenant_id = $1 AND to_number = $2 AND session_id IS NOT DISTINCT FROM $3
     AND direction = 'outbound' AND message_type <> 'read_mark') h`

// decide applies the guardrails: operator takeover, pause/handoff windows,
// the handoff keyword, the consecutive-reply cap and the token budget.
func (r *Runtime) decide(ctx context.Context, c convRow, cfg AgentConfig, fresh []pendingRow, now time.Time) (decision, error) {
	var humanAt *time.Time
	if err := r.p.Pool.QueryRow(ctx, lastHumanSQL, c.TenantID, c.Contact, c.SessionID).Scan(&humanAt); err != nil {
		return decision{}, fmt.Errorf("check operator messages: %w", err)
	}
	if humanAt != nil && now.Before(humanAt.Add(r.cfg.PauseAfterHuman)) {
		until := humanAt.Add(r.cfg.PauseAfterHuman)
		return decision{kind: "silent", reason: "operator", state: StatePaused, pausedUntil: &until, resetCount: true}, nil
	}
	if (c.State == StatePaused || c.State == StateHandoff) && c.PausedUntil != nil && now.Before(*c.PausedUntil) {
		return decision{kind: "silent", reason: c.State, state: c.State, pausedUntil: c.PausedUntil}, nil
	}
	d := decision{kind: "model", state: StateActive}
	if c.State != StateActive {
		d.resetCount = true // resumed after a pause or handoff
		c.Consecutive = 0
	}
	if c.LastInboundAt != nil && now.Sub(*c.LastInboundAt) > r.cfg.LoopWindow {
		d.resetCount = true
		c.Consecutive = 0
	}
	until := now.Add(r.cfg.HandoffDuration)
	handoff := func(reason string) decision {
		return decision{kind: "handoff", reason: reason, state: StateHandoff, pausedUntil: &until}
	}
	keywords := cfg.HandoffKeywords
	if len(keywords) == 0 {
		keywords = DefaultHandoffKeywords
	}
	for _, p := range fresh {
		if containsKeyword(messageText(p), keywords) {
			return handoff("keyword"), nil
		}
	}
	if c.Consecutive >= r.cfg.MaxConsecutiveReplies {
		return handoff("loop_guard"), nil
	}
	var used int64
	var budget *int64
	err := r.p.Pool.QueryRow(ctx, `
SELECT coalesce((SELECT tokens_in + tokens_out FROM wa.ai_usage_daily WHERE tenant_id = $1 AND day = $2::date), 0),
       (SELECT daily_token_budget FROM wa.ai_tenant_settings WHERE tenant_id = $1)`, c.TenantID, utcDay(now)).Scan(&used, &budget)
	if err != nil {
		return decision{}, fmt.Errorf("check token budget: %w", err)
	}
	limit := r.cfg.DailyTokenBudget
	if budget != nil {
		limit = *budget
	}
	if (budget != nil || limit > 0) && used >= limit {
		return handoff("token_budget"), nil
	}
	return d, nil
}

func utcDay(t time.Time) string { return t.UTC().Format("2006-01-02") }

func (r *Runtime) recordUsage(ctx context.Context, tenantID string, u Usage, now time.Time) {
	_, err := r.p.Pool.Exec(context.WithoutCancel(ctx), `
INSERT INTO wa.ai_usage_daily (tenant_id, day, tokens_in, tokens_out, turns) VALUES ($1, $2::date, $3, $4, 1)
ON CONFLICT (tenant_id, day) DO UPDATE SET tokens_in = wa.ai_usage_daily.tokens_in + excluded.tokens_in,
  tokens_out = wa.ai_usage_daily.tokens_out + excluded.tokens_out, turns = wa.ai_usage_daily.turns + 1`,
		tenantID, utcDay(now), u.InputTokens, u.OutputTokens)
	if err != nil {
		r.log.Warn("record token usage failed", "tenant_id", tenantID, "error", err)
	}
}

// commitSilent marks rows handled without a reply.
func (r *Runtime) commitSilent(ctx context.Context, c convRow, ids []string, outcome string, d decision, res TurnResult) TurnResult {
	err := pgx.BeginFunc(ctx, r.p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM public.ai_conversations WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE public.messages SET ai_processed = true WHERE id = ANY($1) AND NOT ai_processed`, ids); err != nil {
			return err
		}
		state := d.state
		if state == "" {
			state = c.State
		}
		_, err := tx.Exec(ctx, `
UPDATE public.ai_conversations
   SET state = $2, paused_until = $3,
       consecutive_replies = CASE WHEN $4 THEN 0 ELSE consecutive_replies END
 WHERE id = $1`, c.ID, state, d.pausedUntil, d.resetCount)
		return err
	})
	if err != nil {
		res.Outcome, res.Err = OutcomeError, fmt.Errorf("commit silent turn: %w", err)
		return res
	}
	res.Outcome, res.Reason = outcome, d.reason
	return res
}

// commitReply is the exactly-once step: in one transaction, lock the
// conversation, mark the turn's inbound rows handled (all of them, or the
// turn was already committed by someone else and nothing happens), re-check
// that no operator took over meanwhile, insert the reply row and update the
// conversation's memory.
func (r *Runtime) commitReply(ctx context.Context, c convRow, cfg AgentConfig, fresh []pendingRow, ids []string, userText, reply string,
	d decision, usage Usage, requests []map[string]any, res TurnResult) TurnResult {
	now := r.clock.Now()
	last := fresh[len(fresh)-1]
	outcome := OutcomeReplied
	if d.kind == "handoff" {
		outcome = OutcomeHandoff
	}
	var replyID string
	err := pgx.BeginFunc(ctx, r.p.Pool, func(tx pgx.Tx) error {
		var consecutive int
		if err := tx.QueryRow(ctx, `SELECT consecutive_replies FROM public.ai_conversations WHERE id = $1 FOR UPDATE`, c.ID).Scan(&consecutive); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE public.messages SET ai_processed = true WHERE id = ANY($1) AND NOT ai_processed`, ids)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) != len(ids) {
			outcome = OutcomeDuplicate
			return errRollback
		}
		var humanAt *time.Time
		if err := tx.QueryRow(ctx, lastHumanSQL, c.TenantID, c.Contact, c.SessionID).Scan(&humanAt); err != nil {
			return err
		}
		if humanAt != nil && now.Before(humanAt.Add(r.cfg.PauseAfterHuman)) {
			// An operator answered while the model was thinking: stay quiet.
			until := humanAt.Add(r.cfg.PauseAfterHuman)
			outcome = OutcomePaused
			_, err := tx.Exec(ctx, `UPDATE public.ai_conversations SET state = 'paused', paused_until = $2, consecutive_replies = 0 WHERE id = $1`, c.ID, until)
			return err
		}
		content, _ := json.Marshal(providers.Content{Text: reply})
		meta, _ := json.Marshal(map[string]any{"ai": map[string]any{"outcome": outcome, "reason": d.reason,
			"tokensIn": usage.InputTokens, "tokensOut": usage.OutputTokens}})
		err = tx.QueryRow(ctx, `
INSERT INTO public.messages (tenant_id, session_id, direction, from_number, to_number, message_type, content,
  status, provider, agent_id, conversation_id, metadata, traceparent)
VALUES ($1, $2, 'outbound', $3, $4, 'text', $5, 'pending', $6, $7, $8, $9, $10)
RETURNING id`, c.TenantID, c.SessionID, last.To, c.Contact, content, last.Provider, c.ResolvedAgent, c.ID, meta,
			tracing.TraceparentOrNil(ctx)).Scan(&replyID)
		if err != nil {
			return fmt.Errorf("insert reply: %w", err)
		}
		if d.resetCount {
			consecutive = 0
		}
		ctxv := c.Context
		ctxv.append(HistoryEntry{Role: "user", Text: userText, At: last.CreatedAt}, r.cfg.HistoryLimit, r.cfg.SummaryChars)
		ctxv.append(HistoryEntry{Role: "assistant", Text: reply, At: now}, r.cfg.HistoryLimit, r.cfg.SummaryChars)
		if d.kind == "handoff" {
			ctxv.Handoff = map[string]any{"reason": d.reason, "at": now}
		}
		ctxv.Requests = append(ctxv.Requests, requests...)
		if len(ctxv.Requests) > 20 {
			ctxv.Requests = ctxv.Requests[len(ctxv.Requests)-20:]
		}
		ctxJSON, _ := json.Marshal(ctxv)
		_, err = tx.Exec(ctx, `
UPDATE public.ai_conversations
   SET state = $2, paused_until = $3, context = $4, consecutive_replies = $5,
       last_inbound_at = $6, agent_id = coalesce(agent_id, $7)
 WHERE id = $1`, c.ID, d.state, d.pausedUntil, ctxJSON, consecutive+1, last.CreatedAt, c.ResolvedAgent)
		return err
	})
	if errors.Is(err, errRollback) {
		res.Outcome = outcome
		return res
	}
	if err != nil {
		res.Outcome, res.Err = OutcomeError, fmt.Errorf("commit reply: %w", err)
		return res
	}
	res.Outcome, res.ReplyID, res.Reason = outcome, replyID, d.reason
	return res
}

var errRollback = errors.New("rollback")

// append adds an entry, folding the oldest entries into the summary when
// the history exceeds limit. The summary is extractive (the dropped lines,
// trimmed from the front to maxChars) so it costs no extra model call.
func (cc *ConversationContext) append(e HistoryEntry, limit, maxChars int) {
	cc.History = append(cc.History, e)
	for len(cc.History) > limit {
		old := cc.History[0]
		cc.History = cc.History[1:]
		who := "Cliente"
		if old.Role == "assistant" {
			who = "Agente"
		}
		line := who + ": " + truncate(old.Text, 300)
		if cc.Summary != "" {
			cc.Summary += "\n"
		}
		cc.Summary += line
	}
	if r := []rune(cc.Summary); len(r) > maxChars {
		s := string(r[len(r)-maxChars:])
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		cc.Summary = s
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// messageText is what the model reads of an inbound message.
func messageText(p pendingRow) string {
	switch {
	case p.Content.Text != "":
		return p.Content.Text
	case p.Content.Caption != "":
		return fmt.Sprintf("[%s] %s", typeLabel(p.Type), p.Content.Caption)
	default:
		return fmt.Sprintf("[%s recebido]", typeLabel(p.Type))
	}
}

func typeLabel(t string) string {
	switch zapbase.MessageType(t) {
	case zapbase.MessageImage:
		return "imagem"
	case zapbase.MessageVideo:
		return "vídeo"
	case zapbase.MessageAudio, zapbase.MessageVoice:
		return "áudio"
	case zapbase.MessageDocument:
		return "documento"
	case zapbase.MessageLocation:
		return "localização"
	case zapbase.MessageSticker:
		return "figurinha"
	case zapbase.MessageContacts:
		return "contato"
	}
	return "mensagem"
}

func joinTexts(ps []pendingRow) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, messageText(p))
	}
	return strings.Join(parts, "\n")
}

// normalizeWords lower-cases, strips accents and punctuation.
func normalizeWords(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	return " " + strings.Join(strings.Fields(b.String()), " ") + " "
}

// containsKeyword reports whether text contains one of keywords as whole
// words, ignoring case and accents.
func containsKeyword(text string, keywords []string) bool {
	t := normalizeWords(text)
	for _, k := range keywords {
		if k = strings.TrimSpace(normalizeWords(k)); k != "" && strings.Contains(t, " "+k+" ") {
			return true
		}
	}
	return false
}

func (r *Runtime) startTurnSpan(ctx context.Context, c convRow, pending []pendingRow) (context.Context, trace.Span) {
	last := pending[len(pending)-1]
	ctx = tracing.ContextWithTraceparent(ctx, last.Traceparent)
	var links []trace.Link
	for _, p := range pending[:len(pending)-1] {
		links = append(links, tracing.LinkTo(ctx, tracing.SpanContext(p.Traceparent))...)
	}
	return r.tracer.Start(ctx, "zapbase.ai.turn", trace.WithLinks(links...), trace.WithAttributes(
		attribute.String("zapbase.tenant_id", c.TenantID),
		attribute.String("zapbase.conversation_id", c.ID),
		attribute.Int("zapbase.messages", len(pending))))
}

func endTurnSpan(span trace.Span, res TurnResult) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("zapbase.ai.outcome", string(res.Outcome)),
			attribute.String("zapbase.agent_id", res.AgentID),
			attribute.Int("zapbase.ai.tokens", res.Usage.Total()))
		if res.Err != nil {
			span.RecordError(res.Err)
			span.SetStatus(codes.Error, string(res.Outcome))
		}
	}
	span.End()
}
