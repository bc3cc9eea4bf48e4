package ai

// File size: the runtime's scheduling core (lifecycle, debounce timers,
// per-conversation queue, workers, scans) shares one mutex and its state;
// turns are turn.go.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/store"
)

// RuntimeConfig tunes the agent runtime. Zero values take the defaults below.
type RuntimeConfig struct {
	// DebounceWindow collects a burst of inbound messages into one turn:
	// the turn runs once no new message arrived for this long (negative:
	// no debounce).
	DebounceWindow time.Duration
	// HistoryLimit bounds the messages kept verbatim in the conversation
	// context; older ones are folded into the rolling summary.
	HistoryLimit int
	// SummaryChars bounds the rolling summary.
	SummaryChars int
	// PauseAfterHuman: an operator's message in the conversation pauses the
	// agent this long.
	PauseAfterHuman time.Duration
	// HandoffDuration: after a handoff the agent stays silent this long
	// (or until the conversation is reassigned).
	HandoffDuration time.Duration
	// MaxConsecutiveReplies caps automatic replies in a row without a quiet
	// gap of LoopWindow between inbound messages (loop prevention against
	// other bots); reaching it hands off.
	MaxConsecutiveReplies int
	LoopWindow            time.Duration
	// DailyTokenBudget is the default per-tenant daily token budget
	// (0: unlimited); wa.ai_tenant_settings overrides it per tenant.
	DailyTokenBudget int64
	// MaxMessageAge: older unanswered messages are marked handled without a
	// reply (after a long outage, answering yesterday's message is wrong).
	MaxMessageAge time.Duration
	// ScanInterval is the period of the safety-net scan for unhandled rows.
	ScanInterval time.Duration
	// Workers run turns in parallel (different conversations).
	Workers int
	// ModelTimeout bounds one turn's model calls; ToolTimeout one tool call.
	ModelTimeout time.Duration
	ToolTimeout  time.Duration
	// MaxModelAttempts: transient model failures are retried this many
	// times before the conversation is handed off.
	MaxModelAttempts int
	// AllowInsecureToolEndpoints accepts http:// tool endpoints (tests).
	AllowInsecureToolEndpoints bool
}

// Runtime defaults.
const (
	DefaultDebounceWindow        = 3 * time.Second
	DefaultHistoryLimit          = 20
	DefaultSummaryChars          = 2000
	DefaultPauseAfterHuman       = 30 * time.Minute
	DefaultHandoffDuration       = 24 * time.Hour
	DefaultMaxConsecutiveReplies = 10
	DefaultLoopWindow            = 10 * time.Minute
	DefaultMaxMessageAge         = time.Hour
	DefaultScanInterval          = 30 * time.Second
	DefaultWorkers               = 8
	DefaultModelTimeout          = 90 * time.Second
	DefaultMaxModelAttempts      = 3
	maxPendingPerTurn            = 50
)

func (c RuntimeConfig) withDefaults() RuntimeConfig {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.PauseAfterHuman, DefaultPauseAfterHuman)
	set(&c.HandoffDuration, DefaultHandoffDuration)
	set(&c.LoopWindow, DefaultLoopWindow)
	set(&c.MaxMessageAge, DefaultMaxMessageAge)
	set(&c.ScanInterval, DefaultScanInterval)
	set(&c.ModelTimeout, DefaultModelTimeout)
	set(&c.ToolTimeout, DefaultToolTimeout)
	switch {
	case c.DebounceWindow == 0:
		c.DebounceWindow = DefaultDebounceWindow
	case c.DebounceWindow < 0: // explicitly no debounce
		c.DebounceWindow = 0
	}
	if c.HistoryLimit <= 0 {
		c.HistoryLimit = DefaultHistoryLimit
	}
	if c.SummaryChars <= 0 {
		c.SummaryChars = DefaultSummaryChars
	}
	if c.MaxConsecutiveReplies <= 0 {
		c.MaxConsecutiveReplies = DefaultMaxConsecutiveReplies
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxModelAttempts <= 0 {
		c.MaxModelAttempts = DefaultMaxModelAttempts
	}
	return c
}

// RuntimeParams build a Runtime.
type RuntimeParams struct {
	Store  *store.Store
	Box    *secret.Box
	Logger *slog.Logger
	Config RuntimeConfig
	// Backends builds models per backend name (see ai/backends).
	Backends map[string]ModelFactoryFunc
	// GlobalModels are the deployment's own credentials, in preference
	// order; tenants' sealed credentials take precedence. Without any, the
	// local retrieval backend answers.
	GlobalModels []ModelSpec
	// Providers are asked for typing indicators (providers.TypingIndicator).
	Providers []providers.Provider
	// Metrics receives the runtime's measurements (*metrics.Metrics; nil:
	// none).
	Metrics Observer
	Clock   Clock
	// HTTPClient calls tenants' tool endpoints.
	HTTPClient *http.Client
	// OnTurnFunc observes every finished turn (tests, tracing).
	OnTurnFunc func(TurnResult)
	// Tools answers the models' tool calls (nil: DefaultTools).
	Tools *ToolRegistry
}

// TurnResult tells what a turn did.
type TurnResult struct {
	ConversationID string
	TenantID       string
	AgentID        string
	// Outcome: replied, handoff, paused, no_agent, stale, empty, duplicate,
	// retry, aborted, error.
	Outcome string
	// Reason says why a turn was skipped or handed off (operator, paused,
	// handoff, token_budget, keyword, loop_guard, model_error...).
	Reason   string
	ReplyID  string
	Handled  int
	Usage    Usage
	Duration time.Duration
	Err      error
}

// Turn outcomes.
const (
	OutcomeReplied   = "replied"
	OutcomeHandoff   = "handoff"
	OutcomePaused    = "paused"
	OutcomeNoAgent   = "no_agent"
	OutcomeStale     = "stale"
	OutcomeEmpty     = "empty"
	OutcomeDuplicate = "duplicate"
	OutcomeRetry     = "retry"
	OutcomeAborted   = "aborted"
	OutcomeError     = "error"
)

// Runtime answers inbound messages of AI-enabled conversations. It is
// restart-safe: Postgres holds every pending turn (inbound rows with
// ai_processed = false), so Start picks up whatever a crash left.
type Runtime struct {
	startstop.BaseStartStop

	p       RuntimeParams
	cfg     RuntimeConfig
	log     *slog.Logger
	clock   Clock
	metrics Observer
	http    *http.Client
	tracer  trace.Tracer

	mu       sync.Mutex
	timers   map[string]Timer
	running  map[string]bool
	again    map[string]bool
	attempts map[string]int
	scanT    Timer
	// Of the current run (set by Start, under mu): accepting is false
	// before Start and once stopping; rows then stay pending.
	ctx       context.Context
	queue     chan string
	accepting bool
	wg        sync.WaitGroup

	models sync.Map // spec key → Model

	// beforeCommit, a test hook (testhooks.go, export_test.go), runs after
	// the model answered and before the reply transaction; an error aborts
	// the turn as a crash there would. Never set in a production binary.
	beforeCommit func(ctx context.Context, conversationID string) error
}

// NewRuntime returns a Runtime; call Start to run it.
func NewRuntime(p RuntimeParams) *Runtime {
	r := &Runtime{
		p:        p,
		cfg:      p.Config.withDefaults(),
		log:      p.Logger,
		clock:    p.Clock,
		metrics:  observerOrNop(p.Metrics),
		tracer:   otel.Tracer("github.com/zapbase/zapbase/ai"),
		http:     p.HTTPClient,
		timers:   map[string]Timer{},
		running:  map[string]bool{},
		again:    map[string]bool{},
		attempts: map[string]int{},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "ai")
	if r.clock == nil {
		r.clock = systemClock{}
	}
	if r.http == nil {
		r.http = &http.Client{}
	}
	return r
}

// Start runs the workers, recovers pending turns left by a previous process
// and starts the periodic safety-net scan. It fails fast when the database
// cannot be read. Cancelling ctx stops the runtime as Stop does; Start on a
// running runtime is a no-op.
func (r *Runtime) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := r.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	queue := make(chan string, 4096)
	r.mu.Lock()
	r.ctx, r.queue, r.accepting = ctx, queue, true
	r.mu.Unlock()
	for range r.cfg.Workers {
		r.wg.Add(1)
		go r.worker(ctx, queue)
	}
	if err := r.scan(ctx); err != nil {
		interrupted := startstop.Interrupted(ctx)
		cancel()
		r.shutdown()
		stopped()
		if interrupted {
			return nil // a concurrent Stop cut Start short
		}
		return fmt.Errorf("ai runtime recovery scan: %w", err)
	}
	r.scheduleScan(ctx)
	r.log.Info("ai runtime started", "workers", r.cfg.Workers, "debounce", r.cfg.DebounceWindow.String())
	go func() {
		started()
		defer stopped()
		defer cancel()
		<-ctx.Done()
		r.shutdown()
	}()
	return nil
}

// Stop cancels in-flight turns (their rows stay pending and are redone on
// the next start), stops timers and waits for the workers. Idempotent.
func (r *Runtime) Stop() { r.BaseStartStop.Stop() }

// shutdown stops accepting work and timers, then waits for the workers
// (whose context is done).
func (r *Runtime) shutdown() {
	r.mu.Lock()
	r.accepting = false
	for id, t := range r.timers {
		t.Stop()
		delete(r.timers, id)
	}
	if r.scanT != nil {
		r.scanT.Stop()
		r.scanT = nil
	}
	clear(r.running)
	clear(r.again)
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Runtime) scheduleScan(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.accepting || ctx.Err() != nil {
		return
	}
	r.scanT = r.clock.AfterFunc(r.cfg.ScanInterval, func() {
		r.mu.Lock()
		if !r.accepting || ctx.Err() != nil {
			r.mu.Unlock()
			return
		}
		r.wg.Add(1) // shutdown waits for a scan in flight
		r.mu.Unlock()
		defer r.wg.Done()
		if err := r.scan(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("ai scan failed", "error", err)
		}
		r.scheduleScan(ctx)
	})
}

// scan hands recent inbound rows no agent has handled yet, of tenants that
// have an active agent, to HandleInbound.
func (r *Runtime) scan(ctx context.Context) error {
	ids, err := r.p.Store.Messages().ListAIUnhandled(ctx, r.clock.Now().Add(-r.cfg.MaxMessageAge))
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	return r.HandleInbound(ctx, ids)
}

// inboundRow is what routing needs of an inbound message.
type inboundRow = store.AIInbound

// HandleInbound routes inbound rows to their conversations and schedules a
// debounced turn for each AI-enabled conversation. Dispatch calls it with
// the ids of newly inserted inbound rows; it returns quickly (the model is
// called later, by a worker). Rows that an agent must never answer (own
// messages, status broadcasts, groups unless enabled) are marked handled.
func (r *Runtime) HandleInbound(ctx context.Context, rowIDs []string) error {
	if len(rowIDs) == 0 {
		return nil
	}
	msgs, err := r.p.Store.Messages().ListAIInbound(ctx, rowIDs)
	if err != nil {
		return err
	}
	var ignore []string
	link := map[string][]string{} // conversation → rows
	for _, m := range msgs {
		if isTrue(m.Meta["fromMe"]) || isBroadcast(m) {
			ignore = append(ignore, m.ID)
			continue
		}
		if m.ConvID != nil {
			link[*m.ConvID] = append(link[*m.ConvID], m.ID)
			continue
		}
		contact := ""
		if m.From != nil {
			contact = *m.From
		}
		if isTrue(m.Meta["isGroup"]) {
			if chat, _ := m.Meta["chat"].(string); chat != "" {
				contact = chat
			}
		}
		if contact == "" {
			ignore = append(ignore, m.ID)
			continue
		}
		convID, allowGroups, ok, err := r.conversationFor(ctx, m.TenantID, m.SessionID, contact)
		if err != nil {
			return err
		}
		if !ok {
			// Not AI-enabled. Worth an INFO line only when the tenant does
			// have agents (otherwise every inbound message would log).
			if hasAgents, err := r.p.Store.Agents().TenantHasAgents(ctx, m.TenantID); err == nil && hasAgents {
				r.log.Info("ai skipped an inbound message: no active agent is assigned to the conversation and the tenant has no active default agent",
					"tenant_id", m.TenantID, "message_id", m.ID)
			}
			continue
		}
		if isTrue(m.Meta["isGroup"]) && !allowGroups {
			r.log.Info("ai skipped a group message: the agent's allowGroups is false", "tenant_id", m.TenantID, "conversation_id", convID)
			ignore = append(ignore, m.ID)
			continue
		}
		link[convID] = append(link[convID], m.ID)
	}
	if len(ignore) > 0 {
		if _, err := r.p.Store.Messages().MarkAIProcessed(ctx, ignore); err != nil {
			return fmt.Errorf("mark ignored inbound rows: %w", err)
		}
	}
	for convID, ids := range link {
		if err := r.p.Store.Messages().LinkConversation(ctx, ids, convID); err != nil {
			return fmt.Errorf("link inbound rows to conversation: %w", err)
		}
		r.schedule(convID)
	}
	return nil
}

// conversationFor finds or creates the conversation of (tenant, session,
// contact). A new conversation is created only when an agent would answer
// it: the one named by the latest enableAI send to the contact, else the
// tenant's active default agent; ok is false when no agent would answer.
//
// A send with enableAI (messages.enable_ai, optionally with agent_id) newer
// than the conversation's last assignment assigns the conversation to that
// agent (or keeps its agent) and reactivates it: that is how
// POST /messages/text {"enableAI": true, "agentId": ...} hands the contact's
// next message to the agent.
func (r *Runtime) conversationFor(ctx context.Context, tenantID string, sessionID *string, contact string) (id string, allowGroups, ok bool, err error) {
	var sendAgent *string
	var sendAt *time.Time
	send, err := r.p.Store.Messages().LatestEnableAISend(ctx, tenantID, sessionID, contact)
	switch {
	case err == nil:
		sendAgent, sendAt = send.AgentID, &send.CreatedAt
	case !errors.Is(err, pgx.ErrNoRows):
		return "", false, false, err
	}
	conv, err := r.p.Store.Conversations().FindByContact(ctx, tenantID, sessionID, contact)
	if err == nil {
		id = conv.ID
		cfg, err := decodeAgentConfig(conv.AgentConfig)
		if err != nil {
			return "", false, false, err
		}
		if sendAt != nil && (conv.AssignedAt == nil || sendAt.After(*conv.AssignedAt)) {
			raw, err := r.p.Store.Conversations().AssignFromSend(ctx, store.AssignFromSendParams{
				ID: id, TenantID: tenantID, AgentID: sendAgent, At: sendAt})
			if err != nil {
				return "", false, false, err
			}
			if cfg, err = decodeAgentConfig(raw); err != nil {
				return "", false, false, err
			}
			r.log.Info("conversation assigned by an enableAI send", "tenant_id", tenantID, "conversation_id", id, "agent_id", deref(sendAgent))
		}
		if cfg == nil { // unassigned: the default agent decides
			raw, err := r.p.Store.Agents().DefaultActiveConfig(ctx, tenantID)
			if errors.Is(err, pgx.ErrNoRows) {
				return id, false, false, nil
			}
			if err != nil {
				return "", false, false, err
			}
			if cfg, err = decodeAgentConfig(raw); err != nil {
				return "", false, false, err
			}
		}
		return id, cfg.AllowGroups, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", false, false, err
	}
	agent, err := r.p.Store.Agents().ResolveActive(ctx, tenantID, sendAgent)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, fmt.Errorf("load default agent: %w", err)
	}
	var acfg AgentConfig
	if err := json.Unmarshal(agent.Config, &acfg); err != nil {
		return "", false, false, fmt.Errorf("decode agent %s configuration: %w", agent.ID, err)
	}
	id, err = r.p.Store.Conversations().Create(ctx, store.CreateConversationParams{
		TenantID: tenantID, SessionID: sessionID, Contact: contact, AgentID: &agent.ID, AssignedAt: sendAt})
	if err != nil {
		return "", false, false, err
	}
	return id, acfg.AllowGroups, true, nil
}

// decodeAgentConfig decodes a stored configuration; nil when there is none
// (no agent, or JSON null).
func decodeAgentConfig(raw json.RawMessage) (*AgentConfig, error) {
	if raw == nil {
		return nil, nil
	}
	var cfg *AgentConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("decode agent configuration: %w", err)
	}
	return cfg, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isTrue(v any) bool { b, _ := v.(bool); return b }

func isBroadcast(m inboundRow) bool {
	chat, _ := m.Meta["chat"].(string)
	from := ""
	if m.From != nil {
		from = *m.From
	}
	return strings.HasSuffix(chat, "@broadcast") || strings.HasSuffix(from, "@broadcast") || from == "status"
}

// schedule (re)arms the conversation's debounce timer.
func (r *Runtime) schedule(convID string) {
	r.scheduleAfter(convID, r.cfg.DebounceWindow)
}

func (r *Runtime) scheduleAfter(convID string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.accepting {
		return // rows stay pending; Start's recovery scan picks them up
	}
	if t, ok := r.timers[convID]; ok {
		t.Stop()
		delete(r.timers, convID)
	}
	if d <= 0 {
		r.enqueueLocked(convID)
		return
	}
	var t Timer
	t = r.clock.AfterFunc(d, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.timers[convID] != t || !r.accepting {
			return
		}
		delete(r.timers, convID)
		r.enqueueLocked(convID)
	})
	r.timers[convID] = t
}

// enqueueLocked hands a conversation to the workers, at most one turn per
// conversation at a time (a request during a turn reruns it afterwards).
func (r *Runtime) enqueueLocked(convID string) {
	if r.running[convID] {
		r.again[convID] = true
		return
	}
	r.running[convID] = true
	queue, ctx := r.queue, r.ctx
	select {
	case queue <- convID:
	default:
		go func() {
			select {
			case queue <- convID:
			case <-ctx.Done():
			}
		}()
	}
}

func (r *Runtime) worker(ctx context.Context, queue <-chan string) {
	defer r.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case convID := <-queue:
			for {
				res := r.runTurn(ctx, convID)
				r.finishTurn(ctx, res)
				r.mu.Lock()
				if r.again[convID] && r.accepting {
					delete(r.again, convID)
					r.mu.Unlock()
					continue
				}
				delete(r.running, convID)
				r.mu.Unlock()
				break
			}
		}
	}
}

func (r *Runtime) finishTurn(ctx context.Context, res TurnResult) {
	agent := res.AgentID
	r.metrics.AITurn(res.TenantID, agent, res.Outcome)
	if res.Outcome == OutcomeReplied || res.Outcome == OutcomeHandoff {
		r.metrics.AIResponse(res.TenantID, res.Duration)
	}
	if res.Err != nil && ctx.Err() == nil {
		r.log.Warn("ai turn failed", "tenant_id", res.TenantID, "conversation_id", res.ConversationID,
			"outcome", res.Outcome, "error", res.Err)
	} else if msg := skipMessages[res.Outcome+":"+res.Reason]; msg != "" || skipMessages[res.Outcome] != "" {
		// A turn that did not answer the contact is worth an INFO line: the
		// operator otherwise sees an agent that "stays silent".
		if msg == "" {
			msg = skipMessages[res.Outcome]
		}
		r.log.Info("ai turn skipped: "+msg, "tenant_id", res.TenantID, "conversation_id", res.ConversationID,
			"agent_id", agent, "outcome", res.Outcome, "reason", res.Reason, "handled", res.Handled)
	} else if res.Outcome == OutcomeHandoff {
		r.log.Info("ai turn handed off to a human", "tenant_id", res.TenantID, "conversation_id", res.ConversationID,
			"agent_id", agent, "reason", res.Reason, "handled", res.Handled)
	} else if res.Outcome != OutcomeEmpty {
		r.log.Debug("ai turn", "tenant_id", res.TenantID, "conversation_id", res.ConversationID,
			"agent_id", agent, "outcome", res.Outcome, "handled", res.Handled, "duration_ms", res.Duration.Milliseconds())
	}
	if r.p.OnTurnFunc != nil {
		r.p.OnTurnFunc(res)
	}
}

// skipMessages explain turns that did not answer, by outcome[:reason].
var skipMessages = map[string]string{
	OutcomePaused + ":operator": "a human operator wrote to the contact recently (sends without enableAI pause the agent; send with enableAI or assign the conversation to resume it)",
	OutcomePaused + ":paused":   "the conversation is paused until paused_until",
	OutcomePaused + ":handoff":  "the conversation was handed off to a human until paused_until (assign it to an agent to resume)",
	OutcomePaused:               "an operator answered while the model was thinking",
	OutcomeNoAgent:              "no active agent is assigned and the tenant has no active default agent",
	OutcomeStale:                "the messages are older than the maximum message age",
	OutcomeDuplicate:            "another turn already handled these messages",
}

// modelFor resolves the model of a turn: the tenant's sealed credentials,
// else the deployment's global ones (the agent's preferred backend first),
// else the local retrieval backend.
func (r *Runtime) modelFor(ctx context.Context, tenantID string, cfg AgentConfig) (Model, error) {
	var spec *ModelSpec
	if cfg.Model != nil && cfg.Model.Backend == BackendLocal {
		spec = &ModelSpec{Backend: BackendLocal}
	}
	if spec == nil {
		plain, err := openSecret(ctx, r.p.Store, r.p.Box, tenantID, modelCredentialsName)
		if err != nil {
			return nil, err
		}
		if plain != nil {
			var s ModelSpec
			if err := json.Unmarshal(plain, &s); err != nil {
				return nil, fmt.Errorf("decode tenant model credentials: %w", err)
			}
			spec = &s
		}
	}
	if spec == nil && len(r.p.GlobalModels) > 0 {
		s := r.p.GlobalModels[0]
		if cfg.Model != nil {
			for _, g := range r.p.GlobalModels {
				if g.Backend == cfg.Model.Backend {
					s = g
					break
				}
			}
		}
		spec = &s
	}
	if spec == nil {
		spec = &ModelSpec{Backend: BackendLocal}
	}
	if cfg.Model != nil && cfg.Model.Name != "" && cfg.Model.Backend == spec.Backend {
		spec.Model = cfg.Model.Name
	}
	sum := sha256.Sum256([]byte(spec.Backend + "\x00" + spec.BaseURL + "\x00" + spec.Model + "\x00" + spec.APIKey))
	key := hex.EncodeToString(sum[:])
	if m, ok := r.models.Load(key); ok {
		return m.(Model), nil
	}
	factory := r.p.Backends[spec.Backend]
	if factory == nil {
		return nil, fmt.Errorf("backend %q: %w", spec.Backend, errNoModel)
	}
	m, err := factory(*spec)
	if err != nil {
		return nil, fmt.Errorf("build %s model: %w", spec.Backend, err)
	}
	actual, _ := r.models.LoadOrStore(key, m)
	return actual.(Model), nil
}

// typing shows or clears the typing indicator, best effort.
func (r *Runtime) typing(ctx context.Context, provider zapbase.ProviderType, sessionID, to string, on bool) {
	for _, p := range r.p.Providers {
		if p.Type() != provider {
			continue
		}
		if ti, ok := p.(providers.TypingIndicator); ok {
			if err := ti.SetTyping(ctx, sessionID, to, on); err != nil {
				r.log.Debug("typing indicator failed", "provider", string(provider), "error", err)
			}
		}
		return
	}
}
