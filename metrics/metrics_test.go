package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/metrics"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.Main(m) }

// sample finds one sample of family name whose labels include want.
func sample(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (*dto.Metric, bool) {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return m, true
		}
	}
	return nil, false
}

func value(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	m, ok := sample(t, reg, name, want)
	require.True(t, ok, "no sample %s%v", name, want)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("unsupported metric type for %s", name)
	return 0
}

func labelNames(m *dto.Metric) []string {
	var names []string
	for _, l := range m.GetLabel() {
		names = append(names, l.GetName())
	}
	sort.Strings(names)
	return names
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *metrics.Metrics
	require.NotPanics(t, func() {
		m.SendAccepted("t", "sandbox", time.Second)
		m.SendFailed("t", "sandbox")
		m.SendRetried("t", "sandbox", metrics.ClassRetryable)
		m.SendAmbiguous("t", "meta_api")
		m.ProviderRouted("auto", "baileys")
		m.SetDispatchQueueDepth(3)
		m.SetDispatchInFlight(1)
		m.Wakeup(metrics.WakeListener, 1)
		m.ReconcileFound(metrics.ReconcilePending, 1)
		m.SetListenerLag(10)
		m.SetListenerState(metrics.ListenerLeader)
		m.SetLocalSessions("baileys", 2)
		m.WebhookReceived(metrics.WebhookMeta, metrics.WebhookAccepted)
		m.AIModelCall("t", "gemini", metrics.AIResultOK, time.Second)
		m.AITokens("t", "a", "gemini", 10, 20)
		m.AITurn("t", "a", "replied")
		m.AIResponse("t", time.Second)
		m.AIToolCall("t", "a", "search_properties", true)
	})
	require.Nil(t, m.Registry())
	require.NoError(t, m.WatchDatabase(metrics.DatabaseParams{}))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 404, rec.Code)
}

func TestEventMetrics(t *testing.T) {
	m := metrics.New(metrics.Options{TenantLabel: true})
	reg := m.Registry()
	tenant := "0b5c2b52-4c1f-4b59-9b0e-7b1d9c3a1e01"

	m.SendAccepted(tenant, "sandbox", 1500*time.Millisecond)
	m.SendAccepted(tenant, "sandbox", 200*time.Millisecond)
	m.SendFailed(tenant, "meta_api")
	m.SendRetried(tenant, "baileys", metrics.ClassOf(&providers.RateLimitedError{Err: errors.New("slow down")}))
	m.SendAmbiguous(tenant, "meta_api")
	m.SendAccepted(tenant, "5511999999999", time.Second) // not a provider: bounded to "other"
	m.ProviderRouted("auto", "baileys")
	m.SetDispatchQueueDepth(7)
	m.SetDispatchInFlight(2)
	m.Wakeup(metrics.WakeListener, 3)
	m.Wakeup(metrics.WakeListener, 0)
	m.ReconcileFound(metrics.ReconcileSending, 2)
	m.SetListenerLag(4096)
	m.SetListenerState(metrics.ListenerStandby)
	m.SetLocalSessions("baileys", 4)
	m.WebhookReceived(metrics.WebhookMeta, metrics.WebhookDuplicate)
	agent := "6f1d2c3b-0000-4000-8000-000000000001"
	m.AIModelCall(tenant, "openai", metrics.AIResultTimeout, 30*time.Second)
	m.AITokens(tenant, agent, "openai", 100, 25)
	m.AITurn(tenant, agent, "replied")
	m.AITurn(tenant, agent, "no-such-outcome")
	m.AIResponse(tenant, 3*time.Second)
	m.AIToolCall(tenant, agent, "search_properties", false)
	m.AIToolCall(tenant, agent, "tenant-defined-tool", true)

	require.Equal(t, 2.0, value(t, reg, "zapbase_sends_total", map[string]string{"tenant": tenant, "provider": "sandbox", "result": "sent"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_sends_total", map[string]string{"provider": "other", "result": "sent"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_sends_total", map[string]string{"provider": "meta_api", "result": "failed"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_sends_total", map[string]string{"provider": "meta_api", "result": "ambiguous"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_sends_total", map[string]string{"provider": "baileys", "result": "retry"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_send_retries_total", map[string]string{"provider": "baileys", "class": "rate_limited"}))
	require.Equal(t, 2.0, value(t, reg, "zapbase_send_latency_seconds", map[string]string{"provider": "sandbox"}))
	h, _ := sample(t, reg, "zapbase_send_latency_seconds", map[string]string{"provider": "sandbox"})
	require.InDelta(t, 1.7, h.Histogram.GetSampleSum(), 1e-9)
	require.Equal(t, 1.0, value(t, reg, "zapbase_provider_routed_total", map[string]string{"requested": "auto", "provider": "baileys"}))
	require.Equal(t, 7.0, value(t, reg, "zapbase_dispatch_queue_depth", nil))
	require.Equal(t, 2.0, value(t, reg, "zapbase_dispatch_in_flight", nil))
	require.Equal(t, 3.0, value(t, reg, "zapbase_dispatch_wakeups_total", map[string]string{"source": "listener"}))
	require.Equal(t, 2.0, value(t, reg, "zapbase_reconcile_found_total", map[string]string{"kind": "sending"}))
	require.Equal(t, 4096.0, value(t, reg, "zapbase_listener_lag_bytes", nil))
	require.Equal(t, 1.0, value(t, reg, "zapbase_listener_state", map[string]string{"state": "standby"}))
	require.Equal(t, 0.0, value(t, reg, "zapbase_listener_state", map[string]string{"state": "leader"}))

	// With WatchListener, each scrape reads the listener's own snapshot.
	lag := int64(10)
	m.WatchListener(func() (string, int64) { return "leader", lag })
	require.Equal(t, 10.0, value(t, reg, "zapbase_listener_lag_bytes", nil))
	require.Equal(t, 1.0, value(t, reg, "zapbase_listener_state", map[string]string{"state": "leader"}))
	require.Equal(t, 0.0, value(t, reg, "zapbase_listener_state", map[string]string{"state": "standby"}))
	lag = 0
	require.Equal(t, 0.0, value(t, reg, "zapbase_listener_lag_bytes", nil))
	require.Equal(t, 4.0, value(t, reg, "zapbase_local_sessions", map[string]string{"provider": "baileys"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_webhooks_received_total", map[string]string{"source": "meta", "result": "duplicate"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_requests_total", map[string]string{"tenant": tenant, "backend": "openai", "result": "timeout"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_model_latency_seconds", map[string]string{"backend": "openai", "result": "timeout"}))
	require.Equal(t, 100.0, value(t, reg, "zapbase_ai_tokens_total", map[string]string{"tenant": tenant, "agent": agent, "backend": "openai", "kind": "input"}))
	require.Equal(t, 25.0, value(t, reg, "zapbase_ai_tokens_total", map[string]string{"backend": "openai", "kind": "output"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_turns_total", map[string]string{"agent": agent, "outcome": "replied"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_turns_total", map[string]string{"agent": agent, "outcome": metrics.Other}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_response_seconds", map[string]string{"tenant": tenant}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_tool_calls_total", map[string]string{"tool": "search_properties", "result": "error"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_ai_tool_calls_total", map[string]string{"tool": metrics.Other, "result": "ok"}))

	// The handler serves the text exposition format.
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(body), `zapbase_sends_total{provider="sandbox",result="sent",tenant="`+tenant+`"} 2`)
	require.Contains(t, string(body), "go_goroutines")
}

func TestTenantLabelSwitchAndBound(t *testing.T) {
	off := metrics.New(metrics.Options{TenantLabel: false})
	off.SendAccepted("tenant-a", "sandbox", time.Second)
	off.SendAccepted("tenant-b", "sandbox", time.Second)
	off.AIModelCall("tenant-a", "gemini", metrics.AIResultOK, time.Second)
	off.AITurn("tenant-a", "agent-a", "replied")
	s, ok := sample(t, off.Registry(), "zapbase_sends_total", nil)
	require.True(t, ok)
	require.Equal(t, []string{"provider", "result"}, labelNames(s))
	require.Equal(t, 2.0, s.Counter.GetValue())
	s, ok = sample(t, off.Registry(), "zapbase_ai_requests_total", nil)
	require.True(t, ok)
	require.Equal(t, []string{"backend", "result"}, labelNames(s))
	s, ok = sample(t, off.Registry(), "zapbase_ai_turns_total", nil)
	require.True(t, ok)
	require.Equal(t, []string{"outcome"}, labelNames(s), "the agent label goes with the tenant label")

	on := metrics.New(metrics.Options{TenantLabel: true, MaxTenants: 2})
	for i := range 5 {
		on.SendFailed(fmt.Sprintf("tenant-%d", i), "sandbox")
	}
	require.Equal(t, 1.0, value(t, on.Registry(), "zapbase_sends_total", map[string]string{"tenant": "tenant-1"}))
	require.Equal(t, 3.0, value(t, on.Registry(), "zapbase_sends_total", map[string]string{"tenant": metrics.OverflowTenant}))
	_, ok = sample(t, on.Registry(), "zapbase_sends_total", map[string]string{"tenant": "tenant-4"})
	require.False(t, ok)
}

func TestClassOf(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&providers.RetryableError{Err: io.EOF}, metrics.ClassRetryable},
		{fmt.Errorf("send message x: %w", &providers.RateLimitedError{Scope: providers.ScopeNumber}), metrics.ClassRateLimited},
		{&providers.SessionUnavailableError{State: "disconnected"}, metrics.ClassSessionUnavailable},
		{&providers.AuthLostError{Code: "190"}, metrics.ClassAuthLost},
		{&providers.AmbiguousError{Err: context.DeadlineExceeded}, metrics.ClassAmbiguous},
		{&providers.PermanentError{Code: "131026"}, metrics.ClassPermanent},
		{errors.New("boom"), metrics.ClassUnknown},
		{nil, metrics.ClassUnknown},
	}
	for _, c := range cases {
		require.Equal(t, c.want, metrics.ClassOf(c.err), "%v", c.err)
	}
}

// seed inserts a tenant with sessions, outbound rows and webhook deliveries.
func seed(t *testing.T, ctx context.Context, pool *pgxpool.Pool) (tenantID string) {
	t.Helper()
	require.NoError(t, pool.QueryRow(ctx,
		`INSERT INTO public.tenants (client_id, name) VALUES ('acme', 'Acme') RETURNING id::text`).Scan(&tenantID))
	_, err := pool.Exec(ctx, `
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state) VALUES
  ($1, '5511900000001', 'baileys', 'connected'),
  ($1, '5511900000002', 'baileys', 'connected'),
  ($1, '5511900000003', 'meta_api', 'banned'),
  ($1, '5511900000004', 'baileys', 'some_future_state')`, tenantID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
INSERT INTO public.messages (tenant_id, to_number, content, status, created_at, next_attempt_at) VALUES
  ($1, '5511988887777', '{"text":"a"}', 'pending', now() - interval '90 seconds', now() - interval '1 second'),
  ($1, '5511988887777', '{"text":"b"}', 'pending', now(), now() + interval '1 hour')`, tenantID)
	require.NoError(t, err)
	// Rows enter `sending` through the state machine: pending → sending.
	_, err = pool.Exec(ctx, `
WITH r AS (
  INSERT INTO public.messages (tenant_id, to_number, content) VALUES
    ($1, '5511988887777', '{"text":"c"}'), ($1, '5511988887778', '{"text":"d"}') RETURNING id)
SELECT 1`, tenantID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
UPDATE public.messages SET status = 'sending', claimed_by = 'test',
  claim_expires_at = CASE WHEN to_number = '5511988887777' THEN now() - interval '1 minute' ELSE now() + interval '1 minute' END
WHERE content->>'text' IN ('c', 'd')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
INSERT INTO wa.webhook_inbox (source, tenant_id, dedupe_key, payload, received_at, processed_at) VALUES
  ('meta', $1, 'k1', '\x7b7d', now() - interval '2 minutes', NULL),
  ('meta', $1, 'k2', '\x7b7d', now(), NULL),
  ('meta', $1, 'k3', '\x7b7d', now(), now())`, tenantID)
	require.NoError(t, err)
	return tenantID
}

func TestDatabaseMetrics(t *testing.T) {
	ctx := context.Background()
	url := devdbtest.NewDatabase(t)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{})
	require.NoError(t, err)
	defer pool.Close()
	tenantID := seed(t, ctx, pool)

	slot := "zb_metrics_" + strings.ReplaceAll(tenantID[:8], "-", "")
	_, err = pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
	require.NoError(t, err)
	// Some WAL after the slot's confirmed position, so lag is positive
	// (flushed at commit: the test server runs with synchronous_commit=off).
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SET LOCAL synchronous_commit = on`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE public.tenants SET name = 'Acme Ltda' WHERE id = $1`, tenantID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	m := metrics.New(metrics.Options{TenantLabel: true})
	require.NoError(t, m.WatchDatabase(metrics.DatabaseParams{Store: store.New(pool), SlotName: slot}))
	reg := m.Registry()

	require.Equal(t, 1.0, value(t, reg, "zapbase_db_scrape_success", nil))
	require.Equal(t, 2.0, value(t, reg, "zapbase_sessions", map[string]string{"tenant": tenantID, "provider": "baileys", "state": "connected"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_sessions", map[string]string{"tenant": tenantID, "provider": "meta_api", "state": "banned"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_sessions", map[string]string{"tenant": tenantID, "provider": "baileys", "state": "other"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_tenant_info", map[string]string{"tenant": tenantID, "client_id": "acme"}))
	require.Equal(t, 2.0, value(t, reg, "zapbase_messages_outstanding", map[string]string{"tenant": tenantID, "status": "pending"}))
	require.Equal(t, 2.0, value(t, reg, "zapbase_messages_outstanding", map[string]string{"tenant": tenantID, "status": "sending"}))
	require.Equal(t, 1.0, value(t, reg, "zapbase_messages_expired_claims", nil))
	require.GreaterOrEqual(t, value(t, reg, "zapbase_messages_oldest_pending_seconds", nil), 89.0)
	require.Equal(t, 2.0, value(t, reg, "zapbase_webhook_inbox_backlog", map[string]string{"source": "meta"}))
	require.Equal(t, 0.0, value(t, reg, "zapbase_webhook_inbox_backlog", map[string]string{"source": "supabase"}))
	require.GreaterOrEqual(t, value(t, reg, "zapbase_webhook_inbox_oldest_seconds", map[string]string{"source": "meta"}), 119.0)
	require.Equal(t, 1.0, value(t, reg, "zapbase_replication_slot_exists", map[string]string{"slot": slot}))
	require.Equal(t, 0.0, value(t, reg, "zapbase_replication_slot_active", map[string]string{"slot": slot}))
	require.Greater(t, value(t, reg, "zapbase_replication_slot_lag_bytes", map[string]string{"slot": slot}), 0.0)
	require.Greater(t, value(t, reg, "zapbase_replication_slot_retained_bytes", map[string]string{"slot": slot}), 0.0)
	require.Equal(t, 1.0, value(t, reg, "zapbase_replication_slot_wal_status", map[string]string{"slot": slot, "wal_status": "reserved"}))
	require.Equal(t, 0.0, value(t, reg, "zapbase_replication_slot_wal_status", map[string]string{"slot": slot, "wal_status": "lost"}))

	// Without the tenant label, the same rows aggregate and tenant_info goes.
	off := metrics.New(metrics.Options{TenantLabel: false})
	require.NoError(t, off.WatchDatabase(metrics.DatabaseParams{Store: store.New(pool), SlotName: "zb_missing_slot"}))
	s, ok := sample(t, off.Registry(), "zapbase_sessions", map[string]string{"provider": "baileys", "state": "connected"})
	require.True(t, ok)
	require.Equal(t, []string{"provider", "state"}, labelNames(s))
	_, ok = sample(t, off.Registry(), "zapbase_tenant_info", nil)
	require.False(t, ok)
	require.Equal(t, 0.0, value(t, off.Registry(), "zapbase_replication_slot_exists", map[string]string{"slot": "zb_missing_slot"}))

	// A failing query is reported, not fatal: the scrape still answers.
	pool.Close()
	closed := metrics.New(metrics.Options{})
	require.NoError(t, closed.WatchDatabase(metrics.DatabaseParams{Store: store.New(pool), SlotName: slot}))
	require.Equal(t, 0.0, value(t, closed.Registry(), "zapbase_db_scrape_success", nil))
}

// TestCatalogMatchesRegistry: every exported zapbase_* family is in the
// catalog, and every catalog entry is exported once exercised.
func TestCatalogMatchesRegistry(t *testing.T) {
	ctx := context.Background()
	url := devdbtest.NewDatabase(t)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{})
	require.NoError(t, err)
	defer pool.Close()
	seed(t, ctx, pool)
	slot := "zb_catalog_" + fmt.Sprint(time.Now().UnixNano()%1e9)
	_, err = pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
	require.NoError(t, err)

	m := metrics.New(metrics.Options{TenantLabel: true})
	require.NoError(t, m.WatchDatabase(metrics.DatabaseParams{Store: store.New(pool), SlotName: slot}))
	m.SendAccepted("t", "sandbox", time.Second)
	m.SendRetried("t", "sandbox", metrics.ClassRetryable)
	m.ProviderRouted("auto", "sandbox")
	m.SetDispatchQueueDepth(1)
	m.SetDispatchInFlight(1)
	m.Wakeup(metrics.WakeReconcile, 1)
	m.ReconcileFound(metrics.ReconcilePending, 1)
	m.SetListenerLag(1)
	m.SetListenerState(metrics.ListenerLeader)
	m.SetLocalSessions("sandbox", 1)
	m.WebhookReceived(metrics.WebhookSupabase, metrics.WebhookAccepted)
	m.RetentionPruned(metrics.RetentionWebhookInbox, 1)
	m.AIModelCall("t", "gemini", metrics.AIResultOK, time.Second)
	m.AITokens("t", "a", "gemini", 1, 1)
	m.AITurn("t", "a", "replied")
	m.AIResponse("t", time.Second)
	m.AIToolCall("t", "a", "handoff_to_human", true)
	m.WebhookAttempt(metrics.OutgoingWebhookDelivered)
	m.WhatsAppWebVersion("2.3000.1", "2.3000.2")
	m.WhatsAppUndecryptable()

	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	exported := map[string]bool{}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "zapbase_") {
			exported[f.GetName()] = true
		}
	}
	catalog := map[string]bool{}
	for _, d := range metrics.Catalog() {
		require.False(t, catalog[d.Name], "duplicate %s", d.Name)
		catalog[d.Name] = true
		require.True(t, exported[d.Name], "catalog metric %s is never exported", d.Name)
		require.NotEmpty(t, d.Help)
	}
	for name := range exported {
		require.True(t, catalog[name], "exported metric %s is not in the catalog", name)
	}
	// safe_wal_size is only absent when the keep size is unlimited; the test
	// server sets one.
	require.Contains(t, metrics.SeriesNames(), "zapbase_send_latency_seconds_bucket")
}
