package metrics

// Kind is a Prometheus metric type.
type Kind string

// Metric kinds used by zapbase.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
)

// Source says where a metric's value comes from.
type Source string

// Metric sources.
const (
	// SourceEvent metrics are updated by components as things happen in this
	// process (per replica: sum them across replicas).
	SourceEvent Source = "event"
	// SourceDatabase metrics are read from SQL on every scrape, so every
	// replica reports the same, cluster-wide value (use max/avg, not sum).
	SourceDatabase Source = "database"
)

// LabelTenant is the tenant label (the tenant's UUID). It is removed from
// every metric when the tenant label is switched off.
const LabelTenant = "tenant"

// LabelAgent is the AI agent label (the agent's UUID). Agents belong to
// tenants, so it goes with the tenant label when that is switched off, and
// it is bounded like the tenant label (MaxAgents).
const LabelAgent = "agent"

// Definition describes one metric zapbase exports. The catalog is the single
// source of truth: collectors are built from it, and the tests check that the
// Grafana dashboard and the alert rules only reference names listed here.
type Definition struct {
	Name   string
	Kind   Kind
	Source Source
	Help   string
	Labels []string
}

// Metric definitions, event-driven.
var (
	defSends = Definition{"zapbase_sends_total", KindCounter, SourceEvent,
		"Outbound send attempts by outcome: sent (provider accepted), failed (permanent), retry (requeued), ambiguous (may or may not have reached the channel).",
		[]string{LabelTenant, "provider", "result"}}
	defSendLatency = Definition{"zapbase_send_latency_seconds", KindHistogram, SourceEvent,
		"Processing latency of accepted sends: row inserted to provider accepted.",
		[]string{"provider"}}
	defRetries = Definition{"zapbase_send_retries_total", KindCounter, SourceEvent,
		"Sends put back to pending, by provider and error class.",
		[]string{"provider", "class"}}
	defRouted = Definition{"zapbase_provider_routed_total", KindCounter, SourceEvent,
		"Provider chosen for outbound rows (provider mix), by the provider the row asked for (auto routes to a concrete one).",
		[]string{"requested", "provider"}}
	defQueueDepth = Definition{"zapbase_dispatch_queue_depth", KindGauge, SourceEvent,
		"Rows claimed by this replica and waiting for their turn (per-chat order, pacing).",
		nil}
	defInFlight = Definition{"zapbase_dispatch_in_flight", KindGauge, SourceEvent,
		"Provider calls in progress in this replica.",
		nil}
	defWakeups = Definition{"zapbase_dispatch_wakeups_total", KindCounter, SourceEvent,
		"Rows claimed by the dispatcher, by what woke it up (listener: change stream, webhook: Supabase Database Webhook, reconcile: periodic scan).",
		[]string{"source"}}
	defReconcile = Definition{"zapbase_reconcile_found_total", KindCounter, SourceEvent,
		"Rows found by the reconciliation scan that no other path had handled, by kind (pending, sending, inbox).",
		[]string{"kind"}}
	defListenerLag = Definition{"zapbase_listener_lag_bytes", KindGauge, SourceEvent,
		"Bytes between the server's WAL end and the last LSN this replica's listener acknowledged.",
		nil}
	defListenerState = Definition{"zapbase_listener_state", KindGauge, SourceEvent,
		"Listener role of this replica: 1 for the current one (leader streams the slot; standby, connecting, stopped).",
		[]string{"state"}}
	defLocalSessions = Definition{"zapbase_local_sessions", KindGauge, SourceEvent,
		"Sessions driven by this replica (session leases held), by provider.",
		[]string{"provider"}}
	defWebhooks = Definition{"zapbase_webhooks_received_total", KindCounter, SourceEvent,
		"Webhook deliveries received, by source (meta, supabase) and result (accepted, duplicate, rejected).",
		[]string{"source", "result"}}
	defRetentionPruned = Definition{"zapbase_retention_pruned_rows_total", KindCounter, SourceEvent,
		"Rows deleted by the retention janitor, by table (idempotency_keys, webhook_inbox, audit_log, lease_holders, change_log, webhook_deliveries). Only the replica holding the janitor lock prunes.",
		[]string{"table"}}
	defAIRequests = Definition{"zapbase_ai_requests_total", KindCounter, SourceEvent,
		"AI model calls (one step of an agent turn) by tenant, backend and result (ok, or the error kind: rate_limited, unavailable, auth, invalid, blocked).",
		[]string{LabelTenant, "backend", "result"}}
	defAIModelLatency = Definition{"zapbase_ai_model_latency_seconds", KindHistogram, SourceEvent,
		"Latency of one AI model call, by backend and result.",
		[]string{"backend", "result"}}
	defAITokens = Definition{"zapbase_ai_tokens_total", KindCounter, SourceEvent,
		"Model tokens used, by tenant, agent, backend and kind (input: prompt, output: completion).",
		[]string{LabelTenant, LabelAgent, "backend", "kind"}}
	defAIResponse = Definition{"zapbase_ai_response_seconds", KindHistogram, SourceEvent,
		"AI response time (the spec's): start of an agent turn to its committed reply row, for turns that replied or handed off, by tenant.",
		[]string{LabelTenant}}
	defAITurns = Definition{"zapbase_ai_turns_total", KindCounter, SourceEvent,
		"Agent turns by tenant, agent and outcome (replied, handoff, paused, no_agent, stale, empty, duplicate, retry, aborted, error).",
		[]string{LabelTenant, LabelAgent, "outcome"}}
	defAIToolCalls = Definition{"zapbase_ai_tool_calls_total", KindCounter, SourceEvent,
		"Tool calls requested by models, by tenant, agent, tool and result (ok, error).",
		[]string{LabelTenant, LabelAgent, "tool", "result"}}
)

// WhatsApp Web metrics (providers/whatsmeow).
var (
	defWAVersion = Definition{"zapbase_whatsapp_web_version_info", KindGauge, SourceEvent,
		"Always 1: the WhatsApp Web client version advertised (current) and the one built into whatsmeow (builtin); they differ when the start-up fetch found a newer version.",
		[]string{"builtin", "current"}}
	defUndecryptable = Definition{"zapbase_whatsapp_undecryptable_total", KindCounter, SourceEvent,
		"Inbound WhatsApp Web messages that arrived undecryptable (stored as 'aguardando mensagem' and filled in place when the retry brings the content).",
		nil}
)

// Metric definitions read from the database on scrape.
var (
	defSessions = Definition{"zapbase_sessions", KindGauge, SourceDatabase,
		"WhatsApp sessions by tenant, provider and state (from public.whatsapp_sessions).",
		[]string{LabelTenant, "provider", "state"}}
	defTenantInfo = Definition{"zapbase_tenant_info", KindGauge, SourceDatabase,
		"Always 1: maps the tenant label (UUID) to the tenant's client_id for dashboards.",
		[]string{LabelTenant, "client_id"}}
	defOutstanding = Definition{"zapbase_messages_outstanding", KindGauge, SourceDatabase,
		"Outbound rows not yet handed to a provider, by tenant and status (pending, sending).",
		[]string{LabelTenant, "status"}}
	defOldestPending = Definition{"zapbase_messages_oldest_pending_seconds", KindGauge, SourceDatabase,
		"Age of the oldest outbound row that is due and still pending (0 when none).",
		nil}
	defExpiredClaims = Definition{"zapbase_messages_expired_claims", KindGauge, SourceDatabase,
		"Rows in sending whose claim lease has expired (a crashed replica's work, waiting for recovery).",
		nil}
	defInboxBacklog = Definition{"zapbase_webhook_inbox_backlog", KindGauge, SourceDatabase,
		"Webhook deliveries stored but not processed yet, by source.",
		[]string{"source"}}
	defInboxOldest = Definition{"zapbase_webhook_inbox_oldest_seconds", KindGauge, SourceDatabase,
		"Age of the oldest unprocessed webhook delivery, by source.",
		[]string{"source"}}
	defSlotExists = Definition{"zapbase_replication_slot_exists", KindGauge, SourceDatabase,
		"1 when zapbase's replication slot exists.",
		[]string{"slot"}}
	defSlotActive = Definition{"zapbase_replication_slot_active", KindGauge, SourceDatabase,
		"1 when a listener is streaming from zapbase's replication slot.",
		[]string{"slot"}}
	defSlotLag = Definition{"zapbase_replication_slot_lag_bytes", KindGauge, SourceDatabase,
		"Bytes between the server's current WAL position and the slot's confirmed flush LSN.",
		[]string{"slot"}}
	defSlotRetained = Definition{"zapbase_replication_slot_retained_bytes", KindGauge, SourceDatabase,
		"WAL bytes the slot keeps on disk (current WAL position minus restart_lsn).",
		[]string{"slot"}}
	defSlotSafe = Definition{"zapbase_replication_slot_safe_wal_bytes", KindGauge, SourceDatabase,
		"Bytes that can still be written before the slot is in danger of losing WAL (absent when max_slot_wal_keep_size is unlimited).",
		[]string{"slot"}}
	defSlotWALStatus = Definition{"zapbase_replication_slot_wal_status", KindGauge, SourceDatabase,
		"1 for the slot's current wal_status (reserved, extended, unreserved, lost).",
		[]string{"slot", "wal_status"}}
	defScrapeSuccess = Definition{"zapbase_db_scrape_success", KindGauge, SourceDatabase,
		"1 when every database-backed metric was read on this scrape.",
		nil}
	defScrapeDuration = Definition{"zapbase_db_scrape_duration_seconds", KindGauge, SourceDatabase,
		"Time spent reading the database-backed metrics on this scrape.",
		nil}
)

// Catalog returns every metric zapbase exports (besides the Go runtime and
// process collectors, go_* and process_*).
func Catalog() []Definition {
	return []Definition{
		defSends, defSendLatency, defRetries, defRouted, defQueueDepth, defInFlight,
		defWakeups, defReconcile, defListenerLag, defListenerState, defLocalSessions,
		defWebhooks, defRetentionPruned, defWAVersion, defUndecryptable, defAIRequests, defAIModelLatency, defAITokens, defAIResponse, defAITurns, defAIToolCalls,
		defSessions, defTenantInfo, defOutstanding, defOldestPending, defExpiredClaims,
		defInboxBacklog, defInboxOldest, defSlotExists, defSlotActive, defSlotLag,
		defSlotRetained, defSlotSafe, defSlotWALStatus, defScrapeSuccess, defScrapeDuration,
		defOutgoingWebhookAttempts,
	}
}

// SeriesNames returns every time-series name the catalog produces, including
// the _bucket, _sum and _count series of histograms.
func SeriesNames() []string {
	var names []string
	for _, d := range Catalog() {
		names = append(names, d.Name)
		if d.Kind == KindHistogram {
			names = append(names, d.Name+"_bucket", d.Name+"_sum", d.Name+"_count")
		}
	}
	return names
}

// labels returns the definition's labels, without the tenant and agent
// labels when tenant is false.
func (d Definition) labels(tenant bool) []string {
	if tenant {
		return d.Labels
	}
	out := make([]string, 0, len(d.Labels))
	for _, l := range d.Labels {
		if l != LabelTenant && l != LabelAgent {
			out = append(out, l)
		}
	}
	return out
}
