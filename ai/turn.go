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
	"github.com/zapbase/zapbase/store"
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

	row, err := r.p.Store.Conversations().GetForTurn(ctx, convID)
	if errors.Is(err, pgx.ErrNoRows) {
		res.Outcome = OutcomeEmpty
		return res
	}
	if err != nil {
		return fail(err)
	}
	c := convRow{ID: convID, TenantID: row.TenantID, AgentID: row.AgentID, SessionID: row.SessionID, Contact: row.Contact,
		State: row.State, PausedUntil: row.PausedUntil, Consecutive: row.Consecutive, LastInboundAt: row.LastInboundAt}
	if err := json.Unmarshal(row.Context, &c.Context); err != nil {
		return fail(fmt.Errorf("load conversation: decode context: %w", err))
	}
	res.TenantID = c.TenantID

	pending, err := r.loadPending(ctx, c.TenantID, convID)
	if err != nil {
		return fail(err)
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
	agent, err := r.p.Store.Agents().ResolveActive(ctx, c.TenantID, c.AgentID)
	if errors.Is(err, pgx.ErrNoRows) {
		return r.commitSilent(ctx, c, ids, OutcomeNoAgent, decision{state: c.State, pausedUntil: c.PausedUntil}, res)
	}
	if err != nil {
		return fail(fmt.Errorf("load agent: %w", err))
	}
	c.ResolvedAgent = agent.ID
	if err := json.Unmarshal(agent.Config, &c.ResolvedConfig); err != nil {
		return fail(fmt.Errorf("load agent: decode configuration: %w", err))
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

// loadPending loads the conversation's inbound rows no agent handled yet,
// oldest first, at most maxPendingPerTurn.
func (r *Runtime) loadPending(ctx context.Context, tenantID, convID string) ([]pendingRow, error) {
	rows, err := r.p.Store.Messages().ListAIPending(ctx, tenantID, convID, maxPendingPerTurn)
	if err != nil {
		return nil, err
	}
	pending := make([]pendingRow, len(rows))
	for i, row := range rows {
		p := pendingRow{ID: row.ID, Type: row.Type, CreatedAt: row.CreatedAt, Provider: row.Provider, To: row.To, Traceparent: row.Traceparent}
		if err := json.Unmarshal(row.Content, &p.Content); err != nil {
			return nil, fmt.Errorf("load pending messages: decode content of %s: %w", row.ID, err)
		}
		pending[i] = p
	}
	return pending, nil
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

// decide applies the guardrails: operator takeover, pause/handoff windows,
// the handoff keyword, the consecutive-reply cap and the token budget.
func (r *Runtime) decide(ctx context.Context, c convRow, cfg AgentConfig, fresh []pendingRow, now time.Time) (decision, error) {
	// The latest operator message (outbound, no agent, not sent with
	// enableAI) to the contact, unless a later send with enableAI handed
	// the conversation back to the agent.
	humanAt, err := r.p.Store.Messages().LastOperatorSendAt(ctx, c.TenantID, c.Contact, c.SessionID)
	if err != nil {
		return decision{}, err
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
	tb, err := r.p.Store.AIUsage().Budget(ctx, c.TenantID, utcDay(now))
	if err != nil {
		return decision{}, err
	}
	used, budget := tb.Used, tb.Budget
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
	err := r.p.Store.AIUsage().Record(context.WithoutCancel(ctx), store.RecordUsageParams{
		TenantID: tenantID, Day: utcDay(now), InputTokens: u.InputTokens, OutputTokens: u.OutputTokens})
	if err != nil {
		r.log.Warn("record token usage failed", "tenant_id", tenantID, "error", err)
	}
}

// commitSilent marks rows handled without a reply.
func (r *Runtime) commitSilent(ctx context.Context, c convRow, ids []string, outcome string, d decision, res TurnResult) TurnResult {
	err := r.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.Conversations().Lock(ctx, c.ID); err != nil {
			return err
		}
		if _, err := tx.Messages().MarkAIProcessed(ctx, ids); err != nil {
			return err
		}
		state := d.state
		if state == "" {
			state = c.State
		}
		return tx.Conversations().SetState(ctx, store.SetConversationStateParams{
			ID: c.ID, State: state, PausedUntil: d.pausedUntil, ResetCount: d.resetCount})
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
	err := r.p.Store.InTx(ctx, func(tx *store.Store) error {
		consecutive, err := tx.Conversations().LockConsecutive(ctx, c.ID)
		if err != nil {
			return err
		}
		handled, err := tx.Messages().MarkAIProcessed(ctx, ids)
		if err != nil {
			return err
		}
		if int(handled) != len(ids) {
			outcome = OutcomeDuplicate
			return errRollback
		}
		humanAt, err := tx.Messages().LastOperatorSendAt(ctx, c.TenantID, c.Contact, c.SessionID)
		if err != nil {
			return err
		}
		if humanAt != nil && now.Before(humanAt.Add(r.cfg.PauseAfterHuman)) {
			// An operator answered while the model was thinking: stay quiet.
			until := humanAt.Add(r.cfg.PauseAfterHuman)
			outcome = OutcomePaused
			return tx.Conversations().Pause(ctx, c.ID, until)
		}
		content, _ := json.Marshal(providers.Content{Text: reply})
		meta, _ := json.Marshal(map[string]any{"ai": map[string]any{"outcome": outcome, "reason": d.reason,
			"tokensIn": usage.InputTokens, "tokensOut": usage.OutputTokens}})
		replyID, err = tx.Messages().InsertAIReply(ctx, store.InsertAIReplyParams{TenantID: c.TenantID, SessionID: c.SessionID,
			From: last.To, To: c.Contact, Content: content, Provider: last.Provider, AgentID: c.ResolvedAgent, ConversationID: c.ID,
			Metadata: meta, Traceparent: tracing.TraceparentOrNil(ctx)})
		if err != nil {
			return err
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
		return tx.Conversations().RecordReply(ctx, store.RecordReplyParams{ID: c.ID, State: d.state, PausedUntil: d.pausedUntil,
			Context: ctxJSON, Consecutive: consecutive + 1, LastInboundAt: last.CreatedAt, AgentID: c.ResolvedAgent})
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
