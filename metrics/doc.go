// Package metrics holds zapbase's Prometheus collectors, shared by every
// component, and the /metrics handler.
//
// Two kinds of metrics:
//
//   - Event metrics (counters, histograms, per-replica gauges) are updated by
//     components through methods on *Metrics as things happen. Each replica
//     exports its own; dashboards sum them.
//   - Database metrics are read from SQL on every scrape (WatchDatabase):
//     sessions by state, outstanding rows, expired claims, webhook inbox
//     backlog, replication slot lag and wal_status. They are cluster-wide
//     truths, identical on every replica; dashboards take max().
//
// The full list, with help texts and labels, is Catalog(); the Grafana
// dashboard and the alert rules in deploy/ are tested against it.
//
// # Cardinality
//
// Labels never carry phone numbers, message ids or error texts. Every label
// has a closed set of values (unknown values become "other"), except tenant,
// which is the tenant's UUID, bounded by MaxTenants per process (later ones
// become "_other") and removed altogether with
// ZAPBASE_METRICS_TENANT_LABEL=false. zapbase_tenant_info maps the UUID to
// the client_id for dashboards.
//
// # Wiring (nil-safe: a nil *Metrics makes every method a no-op)
//
//	m := metrics.New(metrics.Options{TenantLabel: cfg.MetricsTenantLabel})
//	m.WatchDatabase(metrics.DatabaseParams{Store: store.New(pool), SlotName: cfg.SlotName})
//	mux.Handle("GET /metrics", m.Handler())
//
// Dispatch:
//
//	SendAccepted(tenant, provider, sinceInsert)  provider accepted; latency = now - row.created_at
//	SendFailed(tenant, provider)                 row ended failed (permanent)
//	SendRetried(tenant, provider, ClassOf(err))  row back to pending (also counts retries by class)
//	SendAmbiguous(tenant, provider)              send may or may not have happened
//	ProviderRouted(requested, provider)          provider chosen for a row (auto → concrete)
//	SetDispatchQueueDepth(n), SetDispatchInFlight(n)
//	Wakeup(WakeListener|WakeListenerRetry|WakeWebhook|WakeReconcile, rows)
//	ReconcileFound(ReconcilePending|ReconcileSending|ReconcileInbox, rows)
//
// Listener:
//
//	WatchListener(func() (string, int64) { s := l.Status(); return string(s.Role), s.LagBytes })
//	  (read on every scrape; or push with SetListenerState(ListenerLeader|ListenerStandby|
//	  ListenerConnecting|ListenerStopped) and SetListenerLag(bytes))
//
// Providers and API:
//
//	SetLocalSessions(provider, n)                sessions this replica drives (leases held)
//	WebhookReceived(WebhookMeta|WebhookSupabase, WebhookAccepted|WebhookDuplicate|WebhookRejected)
//
// Retention janitor:
//
//	RetentionPruned(RetentionIdempotencyKeys|RetentionWebhookInbox|RetentionAuditLog|RetentionLeaseHolders|RetentionChangeLog|RetentionWebhookDeliveries, rows)
//
// Outgoing webhooks:
//
//	WebhookAttempt(OutgoingWebhookDelivered|OutgoingWebhookRetry|OutgoingWebhookDead|OutgoingWebhookGone)
//
// AI:
//
//	AIResponse(tenant, "gemini"|"openai", AIResultOK|AIResultError|AIResultTimeout, duration)
//	AITokens(backend, input, output)
//
// tenant is always the tenant's UUID (tenants.id) as text; provider is the
// API name (baileys, meta_api, sandbox, auto).
package metrics
