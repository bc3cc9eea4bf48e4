package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zapbase/zapbase/providers"
)

// DefaultScrapeTimeout bounds the SQL a scrape runs.
const DefaultScrapeTimeout = 5 * time.Second

// Querier runs a query; *pgxpool.Pool satisfies it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// DatabaseParams configure the database-backed collector.
type DatabaseParams struct {
	// DB is the pool to read from (normal queries; a pooler is fine).
	DB Querier
	// SlotName is the listener's replication slot; empty skips the slot
	// metrics (listener disabled).
	SlotName string
	// Timeout bounds each scrape (default DefaultScrapeTimeout).
	Timeout time.Duration
	// Logger receives scrape errors (nil discards them).
	Logger *slog.Logger
}

// WatchDatabase registers a collector that reads cluster-wide gauges from SQL
// on every scrape: sessions by state, outstanding rows, expired claims, the
// webhook inbox backlog and the replication slot's lag and wal_status. Every
// replica reports the same values, whichever one Prometheus scrapes.
func (m *Metrics) WatchDatabase(p DatabaseParams) error {
	if m == nil {
		return nil
	}
	if p.DB == nil {
		return fmt.Errorf("watch database: DB is required")
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultScrapeTimeout
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	c := &dbCollector{m: m, p: p, descs: map[string]*prometheus.Desc{}}
	for _, d := range Catalog() {
		if d.Source == SourceDatabase {
			c.descs[d.Name] = prometheus.NewDesc(d.Name, d.Help, d.labels(m.tenantLabel), nil)
		}
	}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("watch database: %w", err)
	}
	return nil
}

type dbCollector struct {
	m     *Metrics
	p     DatabaseParams
	descs map[string]*prometheus.Desc
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// emit is one collected sample.
type emit func(def Definition, v float64, labels ...string)

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.p.Timeout)
	defer cancel()
	send := func(def Definition, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[def.Name], prometheus.GaugeValue, v, labels...)
	}
	ok := 1.0
	for _, step := range []struct {
		name string
		fn   func(context.Context, emit) error
	}{
		{"sessions", c.sessions},
		{"tenants", c.tenantInfo},
		{"messages", c.messages},
		{"webhook_inbox", c.inbox},
		{"replication_slot", c.slot},
	} {
		if err := step.fn(ctx, send); err != nil {
			ok = 0
			c.p.Logger.Warn("metrics scrape query failed", "query", step.name, "error", err)
		}
	}
	send(defScrapeSuccess, ok)
	send(defScrapeDuration, time.Since(start).Seconds())
}

// key joins label values for aggregation maps.
type key [3]string

func (c *dbCollector) sessions(ctx context.Context, send emit) error {
	rows, err := c.p.DB.Query(ctx, `
SELECT tenant_id::text, provider_type, state, count(*)
FROM public.whatsapp_sessions WHERE is_active
GROUP BY 1, 2, 3`)
	if err != nil {
		return err
	}
	agg := map[key]float64{}
	var tenant, provider, state string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&tenant, &provider, &state, &n}, func() error {
		agg[key{c.tenant(tenant), bound(provider, allowedProviders), boundState(state)}] += float64(n)
		return nil
	})
	if err != nil {
		return err
	}
	for k, v := range agg {
		send(defSessions, v, c.labels(k[0], k[1], k[2])...)
	}
	return nil
}

func (c *dbCollector) tenantInfo(ctx context.Context, send emit) error {
	if !c.m.tenantLabel {
		return nil
	}
	rows, err := c.p.DB.Query(ctx, `SELECT id::text, client_id FROM public.tenants ORDER BY created_at`)
	if err != nil {
		return err
	}
	var id, clientID string
	_, err = pgx.ForEachRow(rows, []any{&id, &clientID}, func() error {
		if t := c.m.tenantValue(id); t != OverflowTenant {
			send(defTenantInfo, 1, t, clientID)
		}
		return nil
	})
	return err
}

func (c *dbCollector) messages(ctx context.Context, send emit) error {
	// Two branches so each matches its partial index (messages_pending_idx,
	// messages_sending_idx).
	rows, err := c.p.DB.Query(ctx, `
SELECT tenant_id::text, 'pending', count(*) FROM public.messages
  WHERE status = 'pending' AND direction = 'outbound' GROUP BY 1
UNION ALL
SELECT tenant_id::text, 'sending', count(*) FROM public.messages
  WHERE status = 'sending' GROUP BY 1`)
	if err != nil {
		return err
	}
	agg := map[key]float64{}
	var tenant, status string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&tenant, &status, &n}, func() error {
		agg[key{c.tenant(tenant), status}] += float64(n)
		return nil
	})
	if err != nil {
		return err
	}
	for k, v := range agg {
		send(defOutstanding, v, c.labels(k[0], k[1])...)
	}
	var oldest float64
	var expired int64
	rows, err = c.p.DB.Query(ctx, `
SELECT
  coalesce((SELECT extract(epoch FROM now() - min(created_at))::float8 FROM public.messages
            WHERE status = 'pending' AND direction = 'outbound' AND next_attempt_at <= now()), 0),
  (SELECT count(*) FROM public.messages WHERE status = 'sending' AND claim_expires_at < now())`)
	if err != nil {
		return err
	}
	if _, err := pgx.ForEachRow(rows, []any{&oldest, &expired}, func() error { return nil }); err != nil {
		return err
	}
	send(defOldestPending, max(oldest, 0))
	send(defExpiredClaims, float64(expired))
	return nil
}

func (c *dbCollector) inbox(ctx context.Context, send emit) error {
	rows, err := c.p.DB.Query(ctx, `
SELECT source, count(*), extract(epoch FROM now() - min(received_at))::float8
FROM wa.webhook_inbox WHERE processed_at IS NULL GROUP BY source`)
	if err != nil {
		return err
	}
	count := map[string]float64{}
	oldest := map[string]float64{}
	// Sources that exist always report, so "backlog == 0" is a sample, not
	// an absent series.
	for _, s := range allowedWebhookSources {
		count[s], oldest[s] = 0, 0
	}
	var source string
	var n int64
	var age float64
	_, err = pgx.ForEachRow(rows, []any{&source, &n, &age}, func() error {
		s := bound(source, allowedWebhookSources)
		count[s] += float64(n)
		oldest[s] = max(oldest[s], age)
		return nil
	})
	if err != nil {
		return err
	}
	for s, v := range count {
		send(defInboxBacklog, v, s)
		send(defInboxOldest, max(oldest[s], 0), s)
	}
	return nil
}

// walStatuses are pg_replication_slots.wal_status values.
var walStatuses = []string{"reserved", "extended", "unreserved", "lost"}

func (c *dbCollector) slot(ctx context.Context, send emit) error {
	if c.p.SlotName == "" {
		return nil
	}
	rows, err := c.p.DB.Query(ctx, `
SELECT s.active, s.wal_status,
       pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::float8,
       pg_wal_lsn_diff(w.lsn, s.restart_lsn)::float8,
       s.safe_wal_size::float8
FROM pg_replication_slots s,
     LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                          ELSE pg_current_wal_lsn() END AS lsn) w
WHERE s.slot_name = $1`, c.p.SlotName)
	if err != nil {
		return err
	}
	var (
		found             bool
		active            bool
		walStatus         *string
		lag, retained, sf *float64
	)
	_, err = pgx.ForEachRow(rows, []any{&active, &walStatus, &lag, &retained, &sf}, func() error {
		found = true
		return nil
	})
	if err != nil {
		return err
	}
	slot := c.p.SlotName
	if !found {
		send(defSlotExists, 0, slot)
		return nil
	}
	send(defSlotExists, 1, slot)
	send(defSlotActive, b2f(active), slot)
	if lag != nil {
		send(defSlotLag, max(*lag, 0), slot)
	}
	if retained != nil {
		send(defSlotRetained, max(*retained, 0), slot)
	}
	if sf != nil {
		send(defSlotSafe, *sf, slot)
	}
	status := ""
	if walStatus != nil {
		status = *walStatus
	}
	for _, s := range walStatuses {
		send(defSlotWALStatus, b2f(s == status), slot, s)
	}
	return nil
}

// tenant bounds a tenant label value (ignored when the label is off).
func (c *dbCollector) tenant(t string) string {
	if !c.m.tenantLabel {
		return ""
	}
	return c.m.tenantValue(t)
}

// labels drops the leading tenant value when the label is off.
func (c *dbCollector) labels(tenant string, rest ...string) []string {
	if !c.m.tenantLabel {
		return rest
	}
	return append([]string{tenant}, rest...)
}

// sessionStates bounds the state label of zapbase_sessions.
var sessionStates = []string{providers.StateDisconnected, providers.StateConnecting,
	providers.StatePairing, providers.StateConnected, providers.StateLoggedOut, providers.StateBanned,
	providers.StateTimelocked, providers.StateOutdated, providers.StateStreamReplaced,
	providers.StateAuthLost, providers.StateUnreachable, providers.StateBlocked,
	providers.StatePairingFailed}

func boundState(s string) string { return bound(s, sessionStates) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
