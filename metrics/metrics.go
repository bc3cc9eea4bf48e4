package metrics

// File size: the metric catalogue: every metric's declaration, labels and
// recorder method side by side, so names and cardinality are reviewed in
// one place.

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zapbase/zapbase/providers"
)

// DefaultMaxTenants bounds the tenant label: past this many distinct tenants
// in one process, further tenants are reported as OverflowTenant.
const DefaultMaxTenants = 1000

// OverflowTenant is the tenant label value once MaxTenants is reached.
const OverflowTenant = "_other"

// Other is the label value for anything outside a label's allowed set.
const Other = "other"

// Send results (label result of zapbase_sends_total).
const (
	ResultSent      = "sent"
	ResultFailed    = "failed"
	ResultRetry     = "retry"
	ResultAmbiguous = "ambiguous"
)

// Error classes (label class of zapbase_send_retries_total); ClassOf maps a
// provider error to one.
const (
	ClassRetryable          = string(providers.ClassRetryable)
	ClassRateLimited        = string(providers.ClassRateLimited)
	ClassSessionUnavailable = string(providers.ClassSessionUnavailable)
	ClassAuthLost           = string(providers.ClassAuthLost)
	ClassAmbiguous          = string(providers.ClassAmbiguous)
	ClassPermanent          = string(providers.ClassPermanent)
	ClassUnknown            = string(providers.ClassUnknown)
)

// Wake-up sources (label source of zapbase_dispatch_wakeups_total).
const (
	WakeListener  = "listener"
	WakeWebhook   = "webhook"
	WakeReconcile = "reconcile"
	// WakeListenerRetry: rows the change stream announced before their
	// transaction was visible, claimed on a short retry.
	WakeListenerRetry = "listener_retry"
)

// Reconciliation kinds (label kind of zapbase_reconcile_found_total).
const (
	ReconcilePending = "pending"
	ReconcileSending = "sending"
	ReconcileInbox   = "inbox"
)

// Listener states (label state of zapbase_listener_state); the same strings
// as listener.Role, so string(status.Role) can be passed as is.
const (
	ListenerLeader     = "leader"
	ListenerStandby    = "standby"
	ListenerConnecting = "connecting"
	ListenerStopped    = "stopped"
)

// Webhook sources and results (zapbase_webhooks_received_total).
const (
	WebhookMeta      = "meta"
	WebhookSupabase  = "supabase"
	WebhookAccepted  = "accepted"
	WebhookDuplicate = "duplicate"
	WebhookRejected  = "rejected"
)

// Retention tables (label table of zapbase_retention_pruned_rows_total), the
// same strings as retention.Table*.
const (
	RetentionIdempotencyKeys = "idempotency_keys"
	RetentionWebhookInbox    = "webhook_inbox"
	RetentionAuditLog        = "audit_log"
	RetentionLeaseHolders    = "lease_holders"
	// Outgoing webhooks (issue 21).
	RetentionChangeLog         = "change_log"
	RetentionWebhookDeliveries = "webhook_deliveries"
)

// AI results (label result of zapbase_ai_requests_total and
// zapbase_ai_tool_calls_total; a failed model call reports its error kind,
// the same strings as ai.ErrKind*) and token kinds.
const (
	AIResultOK          = "ok"
	AIResultError       = "error"
	AIResultTimeout     = "timeout"
	AIResultRateLimited = "rate_limited"
	AIResultUnavailable = "unavailable"
	AIResultAuth        = "auth"
	AIResultInvalid     = "invalid"
	AIResultBlocked     = "blocked"
	TokensInput         = "input"
	TokensOutput        = "output"
)

// DefaultMaxAgents bounds the agent label like DefaultMaxTenants.
const DefaultMaxAgents = 1000

// Allowed label values; anything else becomes Other.
var (
	allowedProviders = []string{"baileys", "meta_api", "sandbox", "auto"}
	allowedResults   = []string{ResultSent, ResultFailed, ResultRetry, ResultAmbiguous}
	allowedClasses   = []string{ClassRetryable, ClassRateLimited, ClassSessionUnavailable,
		ClassAuthLost, ClassAmbiguous, ClassPermanent, ClassUnknown}
	allowedWakeups         = []string{WakeListener, WakeWebhook, WakeReconcile, WakeListenerRetry}
	allowedReconcileKinds  = []string{ReconcilePending, ReconcileSending, ReconcileInbox}
	listenerStates         = []string{ListenerLeader, ListenerStandby, ListenerConnecting, ListenerStopped}
	allowedWebhookSources  = []string{WebhookMeta, WebhookSupabase}
	allowedWebhookResults  = []string{WebhookAccepted, WebhookDuplicate, WebhookRejected}
	allowedRetentionTables = []string{RetentionIdempotencyKeys, RetentionWebhookInbox, RetentionAuditLog,
		RetentionLeaseHolders, RetentionChangeLog, RetentionWebhookDeliveries}
	allowedAIBackends = []string{"gemini", "openai", "local"}
	allowedAIResults  = []string{AIResultOK, AIResultError, AIResultTimeout, AIResultRateLimited,
		AIResultUnavailable, AIResultAuth, AIResultInvalid, AIResultBlocked}
	allowedToolResults = []string{AIResultOK, AIResultError}
	// allowedAITurnOutcomes are the ai.Outcome* strings.
	allowedAITurnOutcomes = []string{"replied", "handoff", "paused", "no_agent", "stale", "empty",
		"duplicate", "retry", "aborted", "error"}
	// allowedAITools are the agent runtime's built-in tools (ai.Cap*,
	// ai.ToolHandoff).
	allowedAITools = []string{"search_properties", "schedule_visits", "provide_documentation",
		"calculate_financing", "search_knowledge_base", "handoff_to_human"}
)

// Histogram buckets (seconds).
var (
	sendLatencyBuckets = []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	aiLatencyBuckets   = []float64{.05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60}
)

// Options configure the metrics.
type Options struct {
	// TenantLabel keeps the tenant label on per-tenant metrics
	// (ZAPBASE_METRICS_TENANT_LABEL, default true). Very large deployments
	// switch it off to bound cardinality.
	TenantLabel bool
	// MaxTenants bounds the distinct tenant label values (default
	// DefaultMaxTenants).
	MaxTenants int
	// MaxAgents bounds the distinct agent label values (default
	// DefaultMaxAgents); later agents are reported as OverflowTenant.
	MaxAgents int
	// Registry to register on; nil creates a new one with the Go runtime and
	// process collectors.
	Registry *prometheus.Registry
}

// Metrics holds zapbase's collectors. A nil *Metrics is valid: every method
// is then a no-op, so components can be built without metrics in tests.
type Metrics struct {
	reg         *prometheus.Registry
	tenantLabel bool
	maxTenants  int
	maxAgents   int

	mu       sync.Mutex
	tenants  map[string]struct{}
	agents   map[string]struct{}
	listener func() (state string, lagBytes int64)

	sends         *prometheus.CounterVec
	sendLatency   *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	routed        *prometheus.CounterVec
	queueDepth    prometheus.Gauge
	inFlight      prometheus.Gauge
	wakeups       *prometheus.CounterVec
	reconcile     *prometheus.CounterVec
	listenerLag   prometheus.Gauge
	listenerState *prometheus.GaugeVec
	localSessions *prometheus.GaugeVec
	webhooks      *prometheus.CounterVec
	pruned        *prometheus.CounterVec
	aiRequests    *prometheus.CounterVec
	aiLatency     *prometheus.HistogramVec
	aiTokens      *prometheus.CounterVec
	aiResponse    *prometheus.HistogramVec
	aiTurns       *prometheus.CounterVec
	aiToolCalls   *prometheus.CounterVec

	// Outgoing webhooks (issue 21; outhooks.go).
	outgoingWebhooks *prometheus.CounterVec
	waVersion        *prometheus.GaugeVec
	undecryptable    *prometheus.CounterVec
}

// New builds the metrics and registers them.
func New(opts Options) *Metrics {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if opts.MaxTenants <= 0 {
		opts.MaxTenants = DefaultMaxTenants
	}
	if opts.MaxAgents <= 0 {
		opts.MaxAgents = DefaultMaxAgents
	}
	m := &Metrics{reg: reg, tenantLabel: opts.TenantLabel, maxTenants: opts.MaxTenants, maxAgents: opts.MaxAgents,
		tenants: map[string]struct{}{}, agents: map[string]struct{}{}}
	counter := func(d Definition) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.labels(m.tenantLabel))
		reg.MustRegister(c)
		return c
	}
	gaugeVec := func(d Definition) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.labels(m.tenantLabel))
		reg.MustRegister(g)
		return g
	}
	gauge := func(d Definition) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: d.Name, Help: d.Help})
		reg.MustRegister(g)
		return g
	}
	histogram := func(d Definition, buckets []float64) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: buckets}, d.labels(m.tenantLabel))
		reg.MustRegister(h)
		return h
	}
	m.sends = counter(defSends)
	m.sendLatency = histogram(defSendLatency, sendLatencyBuckets)
	m.retries = counter(defRetries)
	m.routed = counter(defRouted)
	m.queueDepth = gauge(defQueueDepth)
	m.inFlight = gauge(defInFlight)
	m.wakeups = counter(defWakeups)
	m.reconcile = counter(defReconcile)
	// The listener gauges are registered through listenerCollector, which
	// refreshes them from WatchListener's function on every scrape.
	m.listenerLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: defListenerLag.Name, Help: defListenerLag.Help})
	m.listenerState = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: defListenerState.Name, Help: defListenerState.Help},
		defListenerState.labels(m.tenantLabel))
	reg.MustRegister(listenerCollector{m})
	m.localSessions = gaugeVec(defLocalSessions)
	m.webhooks = counter(defWebhooks)
	m.pruned = counter(defRetentionPruned)
	m.aiRequests = counter(defAIRequests)
	m.aiLatency = histogram(defAIModelLatency, aiLatencyBuckets)
	m.aiTokens = counter(defAITokens)
	m.aiResponse = histogram(defAIResponse, aiLatencyBuckets)
	m.aiTurns = counter(defAITurns)
	m.aiToolCalls = counter(defAIToolCalls)
	m.outgoingWebhooks = counter(defOutgoingWebhookAttempts)
	m.waVersion = gaugeVec(defWAVersion)
	m.undecryptable = counter(defUndecryptable)
	return m
}

// Registry returns the registry the metrics live on.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus exposition format (mount it
// on GET /metrics). A nil *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	})
}

// withTenant prepends the tenant label value when the label is on.
func (m *Metrics) withTenant(tenant string, values ...string) []string {
	if !m.tenantLabel {
		return values
	}
	return append([]string{m.tenantValue(tenant)}, values...)
}

// withTenantAgent prepends the tenant and agent label values when the
// tenant label is on.
func (m *Metrics) withTenantAgent(tenant, agent string, values ...string) []string {
	if !m.tenantLabel {
		return values
	}
	return append([]string{m.tenantValue(tenant), m.bounded(agent, m.agents, m.maxAgents)}, values...)
}

// tenantValue bounds the tenant label: the first MaxTenants distinct values
// are kept, later ones are folded into OverflowTenant.
func (m *Metrics) tenantValue(tenant string) string {
	return m.bounded(tenant, m.tenants, m.maxTenants)
}

// bounded keeps the first max distinct values of a label and folds later
// ones into OverflowTenant.
func (m *Metrics) bounded(v string, seen map[string]struct{}, max int) string {
	if v == "" {
		return "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := seen[v]; ok {
		return v
	}
	if len(seen) >= max {
		return OverflowTenant
	}
	seen[v] = struct{}{}
	return v
}

func bound(v string, allowed []string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return Other
}

// SendAccepted records a send the provider accepted; sinceInsert is the time
// from the row's created_at to the provider's acceptance.
func (m *Metrics) SendAccepted(tenant, provider string, sinceInsert time.Duration) {
	if m == nil {
		return
	}
	p := bound(provider, allowedProviders)
	m.sends.WithLabelValues(m.withTenant(tenant, p, ResultSent)...).Inc()
	m.sendLatency.WithLabelValues(p).Observe(sinceInsert.Seconds())
}

// SendFailed records a send that ended failed (permanent error).
func (m *Metrics) SendFailed(tenant, provider string) {
	if m == nil {
		return
	}
	m.sends.WithLabelValues(m.withTenant(tenant, bound(provider, allowedProviders), ResultFailed)...).Inc()
}

// SendRetried records a send put back to pending, with its error class (see
// ClassOf).
func (m *Metrics) SendRetried(tenant, provider, class string) {
	if m == nil {
		return
	}
	p := bound(provider, allowedProviders)
	m.sends.WithLabelValues(m.withTenant(tenant, p, ResultRetry)...).Inc()
	m.retries.WithLabelValues(p, bound(class, allowedClasses)).Inc()
}

// SendAmbiguous records a send that may or may not have reached the channel.
func (m *Metrics) SendAmbiguous(tenant, provider string) {
	if m == nil {
		return
	}
	m.sends.WithLabelValues(m.withTenant(tenant, bound(provider, allowedProviders), ResultAmbiguous)...).Inc()
}

// ProviderRouted records which provider a row was routed to (provider mix);
// requested is the row's provider column (auto included).
func (m *Metrics) ProviderRouted(requested, provider string) {
	if m == nil {
		return
	}
	m.routed.WithLabelValues(bound(requested, allowedProviders), bound(provider, allowedProviders)).Inc()
}

// SetDispatchQueueDepth sets the number of claimed rows waiting in this
// replica.
func (m *Metrics) SetDispatchQueueDepth(n int) {
	if m == nil {
		return
	}
	m.queueDepth.Set(float64(n))
}

// SetDispatchInFlight sets the number of provider calls in progress.
func (m *Metrics) SetDispatchInFlight(n int) {
	if m == nil {
		return
	}
	m.inFlight.Set(float64(n))
}

// Wakeup counts rows the dispatcher was woken up for by source (WakeListener,
// WakeWebhook, WakeReconcile).
func (m *Metrics) Wakeup(source string, rows int) {
	if m == nil || rows <= 0 {
		return
	}
	m.wakeups.WithLabelValues(bound(source, allowedWakeups)).Add(float64(rows))
}

// ReconcileFound counts rows the reconciliation scan found unhandled, by kind
// (ReconcilePending, ReconcileSending, ReconcileInbox).
func (m *Metrics) ReconcileFound(kind string, rows int) {
	if m == nil || rows <= 0 {
		return
	}
	m.reconcile.WithLabelValues(bound(kind, allowedReconcileKinds)).Add(float64(rows))
}

// SetListenerLag sets the listener's lag in bytes (server WAL end minus the
// last acknowledged LSN).
func (m *Metrics) SetListenerLag(bytes int64) {
	if m == nil {
		return
	}
	if bytes < 0 {
		bytes = 0
	}
	m.listenerLag.Set(float64(bytes))
}

// SetListenerState sets the listener state of this replica (one of the
// Listener* constants); the gauge is 1 for it and 0 for the others.
func (m *Metrics) SetListenerState(state string) {
	if m == nil {
		return
	}
	state = bound(state, listenerStates)
	for _, s := range listenerStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.listenerState.WithLabelValues(s).Set(v)
	}
}

// WatchListener makes every scrape read the listener's state and lag from
// fn (e.g. a closure over listener.Status(): string(s.Role), s.LagBytes), so
// no goroutine has to push them.
func (m *Metrics) WatchListener(fn func() (state string, lagBytes int64)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.listener = fn
	m.mu.Unlock()
}

// listenerCollector exports the listener gauges, refreshed from the
// WatchListener function when one is set.
type listenerCollector struct{ m *Metrics }

func (c listenerCollector) Describe(ch chan<- *prometheus.Desc) {
	c.m.listenerLag.Describe(ch)
	c.m.listenerState.Describe(ch)
}

func (c listenerCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	fn := c.m.listener
	c.m.mu.Unlock()
	if fn != nil {
		state, lag := fn()
		c.m.SetListenerState(state)
		c.m.SetListenerLag(lag)
	}
	c.m.listenerLag.Collect(ch)
	c.m.listenerState.Collect(ch)
}

// SetLocalSessions sets how many sessions of a provider this replica drives.
func (m *Metrics) SetLocalSessions(provider string, n int) {
	if m == nil {
		return
	}
	m.localSessions.WithLabelValues(bound(provider, allowedProviders)).Set(float64(n))
}

// WebhookReceived counts a webhook delivery by source (WebhookMeta,
// WebhookSupabase) and result (WebhookAccepted, WebhookDuplicate,
// WebhookRejected).
func (m *Metrics) WebhookReceived(source, result string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(bound(source, allowedWebhookSources), bound(result, allowedWebhookResults)).Inc()
}

// RetentionPruned counts rows the retention janitor deleted from table
// (Retention* constants).
func (m *Metrics) RetentionPruned(table string, rows int) {
	if m == nil || rows <= 0 {
		return
	}
	m.pruned.WithLabelValues(bound(table, allowedRetentionTables)).Add(float64(rows))
}

// AIModelCall records one AI model call (one step of an agent turn):
// backend ("gemini", "openai", "local"), result (AIResultOK or the error
// kind) and its duration.
func (m *Metrics) AIModelCall(tenant, backend, result string, d time.Duration) {
	if m == nil {
		return
	}
	b, r := bound(backend, allowedAIBackends), bound(result, allowedAIResults)
	m.aiRequests.WithLabelValues(m.withTenant(tenant, b, r)...).Inc()
	m.aiLatency.WithLabelValues(b, r).Observe(d.Seconds())
}

// AITokens adds the tokens one AI model call used.
func (m *Metrics) AITokens(tenant, agent, backend string, input, output int) {
	if m == nil {
		return
	}
	b := bound(backend, allowedAIBackends)
	if input > 0 {
		m.aiTokens.WithLabelValues(m.withTenantAgent(tenant, agent, b, TokensInput)...).Add(float64(input))
	}
	if output > 0 {
		m.aiTokens.WithLabelValues(m.withTenantAgent(tenant, agent, b, TokensOutput)...).Add(float64(output))
	}
}

// AITurn counts one agent turn by outcome (the ai.Outcome* strings).
func (m *Metrics) AITurn(tenant, agent, outcome string) {
	if m == nil {
		return
	}
	m.aiTurns.WithLabelValues(m.withTenantAgent(tenant, agent, bound(outcome, allowedAITurnOutcomes))...).Inc()
}

// AIResponse records the AI response time of a turn that answered: start of
// the turn to its committed reply row.
func (m *Metrics) AIResponse(tenant string, d time.Duration) {
	if m == nil {
		return
	}
	m.aiResponse.WithLabelValues(m.withTenant(tenant)...).Observe(d.Seconds())
}

// AIToolCall counts one tool call requested by a model.
func (m *Metrics) AIToolCall(tenant, agent, tool string, ok bool) {
	if m == nil {
		return
	}
	r := AIResultOK
	if !ok {
		r = AIResultError
	}
	m.aiToolCalls.WithLabelValues(m.withTenantAgent(tenant, agent, bound(tool, allowedAITools), r)...).Inc()
}

// ClassOf maps a provider error to its error class label
// (providers.ClassOf).
func ClassOf(err error) string { return string(providers.ClassOf(err)) }

// WhatsAppWebVersion records the advertised WhatsApp Web version and the
// built-in one.
func (m *Metrics) WhatsAppWebVersion(builtin, current string) {
	if m == nil {
		return
	}
	m.waVersion.Reset()
	m.waVersion.WithLabelValues(builtin, current).Set(1)
}

// WhatsAppUndecryptable counts an inbound message that arrived undecryptable.
func (m *Metrics) WhatsAppUndecryptable() {
	if m == nil {
		return
	}
	m.undecryptable.WithLabelValues().Inc()
}
