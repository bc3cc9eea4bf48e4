package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// DefaultScrapeTimeout bounds the SQL a scrape runs.
const DefaultScrapeTimeout = 5 * time.Second

// DatabaseParams configure the database-backed collector.
type DatabaseParams struct {
	// Store is the data layer to read from (normal queries; a pooler is
	// fine).
	Store *store.Store
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
	if p.Store == nil {
		return fmt.Errorf("watch database: Store is required")
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
	counts, err := c.p.Store.Stats().SessionCounts(ctx)
	if err != nil {
		return err
	}
	agg := map[key]float64{}
	for _, n := range counts {
		agg[key{c.tenant(n.TenantID), bound(n.Provider, allowedProviders), boundState(n.State)}] += float64(n.N)
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
	tenants, err := c.p.Store.Stats().TenantClientIDs(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if v := c.m.tenantValue(t.ID); v != OverflowTenant {
			send(defTenantInfo, 1, v, t.ClientID)
		}
	}
	return nil
}

func (c *dbCollector) messages(ctx context.Context, send emit) error {
	stats := c.p.Store.Stats()
	counts, err := stats.OutstandingMessages(ctx)
	if err != nil {
		return err
	}
	agg := map[key]float64{}
	for _, n := range counts {
		agg[key{c.tenant(n.TenantID), n.Status}] += float64(n.N)
	}
	for k, v := range agg {
		send(defOutstanding, v, c.labels(k[0], k[1])...)
	}
	backlog, err := stats.MessageBacklog(ctx)
	if err != nil {
		return err
	}
	send(defOldestPending, max(backlog.OldestPendingSeconds, 0))
	send(defExpiredClaims, float64(backlog.ExpiredClaims))
	return nil
}

func (c *dbCollector) inbox(ctx context.Context, send emit) error {
	backlog, err := c.p.Store.Stats().InboxBacklog(ctx)
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
	for _, b := range backlog {
		s := bound(b.Source, allowedWebhookSources)
		count[s] += float64(b.N)
		oldest[s] = max(oldest[s], b.OldestSeconds)
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
	st, err := c.p.Store.Stats().ReplicationSlot(ctx, c.p.SlotName)
	if err != nil {
		return err
	}
	active, walStatus, lag, retained, sf := st.Active, st.WALStatus, st.LagBytes, st.RetainedBytes, st.SafeWALBytes
	slot := c.p.SlotName
	if !st.Found {
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
