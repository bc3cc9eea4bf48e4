package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/backends"

	// The built-in agent products register their tools and templates.
	_ "github.com/zapbase/zapbase/ai/tools/realestate"
	_ "github.com/zapbase/zapbase/ai/tools/support"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/listener"
	"github.com/zapbase/zapbase/media"
	"github.com/zapbase/zapbase/metrics"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/sandbox"
	"github.com/zapbase/zapbase/providers/whatsmeow"
	"github.com/zapbase/zapbase/retention"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/tracing"
)

// mediaStore picks Supabase Storage when configured, else a local directory.
func (m *Main) mediaStore() media.Store {
	if m.cfg.SupabaseURL != "" && m.cfg.SupabaseServiceKey != "" {
		return &media.SupabaseStore{Storage: supabase.NewStorage(m.cfg.SupabaseURL, m.cfg.SupabaseServiceKey, nil), Bucket: m.cfg.StorageBucket}
	}
	return &media.Local{Dir: m.cfg.MediaDir}
}

// build constructs the pipeline without starting anything: metrics, the
// retention janitor, providers, the agent runtime, the dispatcher, the
// listener and the HTTP API, each with its hooks passed to its constructor
// and all sharing ONE event sink. Every component is queued with m.add in
// start order; Run starts them only once all are built, so no callback is
// assigned while something already runs. They stop in reverse: the HTTP
// server first, then the listener (the last safe LSN is acknowledged), the
// dispatcher (in-flight sends drain), providers last.
func (m *Main) build(ctx context.Context) error {
	log := m.log
	mt := metrics.New(metrics.Options{TenantLabel: m.cfg.MetricsTenantLabel})
	m.metrics = mt
	slot := m.cfg.SlotName
	if !m.cfg.Listener {
		slot = ""
	}
	if err := mt.WatchDatabase(metrics.DatabaseParams{Store: m.store, SlotName: slot, Logger: log.With("component", "metrics")}); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	m.mounts = append(m.mounts, api.Mount{Pattern: "GET /metrics", Handler: mt.Handler()})

	janitor, err := retention.New(retention.Config{
		Pool:         m.pool,
		Idempotency:  m.cfg.Retention.Idempotency,
		WebhookInbox: m.cfg.Retention.WebhookInbox,
		AuditLog:     m.cfg.Retention.AuditLog,
		Interval:     m.cfg.Retention.Interval,
		Observer:     mt,
		Logger:       log,

		// Outgoing webhooks (issue 21).
		ChangeLog:         m.cfg.Retention.ChangeLog,
		WebhookDeliveries: m.cfg.Retention.WebhookDeliveries,
	})
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	m.add("retention", janitor)

	// Outgoing webhooks (issue 21): see webhooks.go.
	if err := m.wireWebhooks(ctx); err != nil {
		return err
	}

	// Built below, before anything starts: the hooks reading them run only
	// after Start.
	var (
		rt   *ai.Runtime
		disp *dispatch.Dispatcher
	)
	// The one event sink of every provider and of the generic webhook (the
	// API): inbound rows it writes reach the agent runtime at once, without
	// waiting for the change stream.
	events := dispatch.NewEvents(m.pool)
	events.OnInboundFunc = func(ctx context.Context, ids []string) {
		if err := rt.HandleInbound(ctx, ids); err != nil {
			log.Warn("hand inbound rows to agents", "error", err)
		}
	}
	m.events = events
	registry := dispatch.NewRegistry()
	// Providers get the data layer's queries, never the pool.
	db := m.store
	pm := &providerMedia{files: m.mediaStore(), tenants: db.Tenants()}

	if m.cfg.Sandbox {
		scfg := m.sandboxConfig(events)
		if m.cfg.SandboxSendLog != "" {
			sl, err := sandbox.OpenSendLog(m.cfg.SandboxSendLog)
			if err != nil {
				return fmt.Errorf("sandbox send log: %w", err)
			}
			scfg.OnSendFunc = sl.Record
			m.closers = append(m.closers, func() { _ = sl.Close() })
		}
		sb := sandbox.New(scfg)
		registry.Register(sb)
		m.add("sandbox provider", sb)
	}

	mp, err := meta.New(meta.Params{
		Store:  db.MetaChannel(),
		Box:    m.box,
		Events: events,
		Client: meta.ClientConfig{BaseURL: m.cfg.MetaGraphURL, APIVersion: m.cfg.MetaAPIVersion,
			HTTPClient: m.httpClient(meta.DefaultTimeout, false)},
		Media:           pm,
		Logger:          log,
		WebhookMaxBytes: m.cfg.MetaWebhookMaxBytes,
	})
	if err != nil {
		return fmt.Errorf("meta provider: %w", err)
	}
	m.add("meta provider", mp)
	registry.Register(mp)
	m.mounts = append(m.mounts,
		api.Mount{Pattern: "GET /api/v1/webhooks/meta", Handler: mp.Webhook()},
		// Meta batches up to 3 MB: the route's own limit, not the API default.
		api.Mount{Pattern: "POST /api/v1/webhooks/meta", Handler: countWebhook(mt, metrics.WebhookMeta, mp.Webhook()),
			BodyLimit: mp.WebhookMaxBytes()})

	if m.cfg.WhatsAppWeb {
		st, err := whatsmeow.OpenStore(ctx, m.cfg.DatabaseURL, log.With("component", "provider.whatsmeow.store"))
		if err != nil {
			return fmt.Errorf("whatsmeow store: %w", err)
		}
		m.closers = append(m.closers, func() { st.Close() })
		newClient, err := m.whatsmeowClients(st)
		if err != nil {
			return err
		}
		fetchVersion := whatsmeow.LatestVersionFunc(&http.Client{Timeout: whatsmeow.DefaultVersionFetchTimeout})
		if m.cfg.TestWhatsmeowFake {
			fetchVersion = nil
		}
		var onPairing func(whatsmeow.PairingCode)
		if m.pairingOut != nil {
			onPairing = (&terminalPairing{w: m.pairingOut}).show
		}
		wp, err := whatsmeow.New(whatsmeow.Config{
			DB:   db.WhatsAppWeb(),
			Sink: events,
			// Calls, presence and groups go to the change feed (issue 21).
			Feed:           supabase.ChangeFeed{Pool: m.pool},
			Outbox:         supabase.ChangeFeed{Pool: m.pool},
			NewClientFunc:  newClient,
			Media:          pm,
			Holder:         m.cfg.InstanceID,
			LeaseTTL:       m.cfg.WhatsAppLeaseTTL,
			ConnectTimeout: m.cfg.WhatsAppConnectWait,
			OnPairingFunc:  onPairing,
			Logger:         log,
			OnLocalSessionsFunc: func(n int) {
				mt.SetLocalSessions(string(zapbase.ProviderBaileys), n)
			},
			// issue 19: current WhatsApp Web version at start (not with the offline fake).
			FetchVersionFunc:    fetchVersion,
			OnVersionFunc:       func(v whatsmeow.VersionResult) { mt.WhatsAppWebVersion(v.Builtin, v.Using) },
			OnUndecryptableFunc: mt.WhatsAppUndecryptable,
			OnWakeFunc: func(sessionID string) {
				_ = disp.Resync(context.Background())
			},
		})
		if err != nil {
			return fmt.Errorf("whatsmeow provider: %w", err)
		}
		m.add("whatsmeow provider", wp)
		registry.Register(wp)
	}

	provs := make([]providers.Provider, 0, 3)
	m.providers = map[zapbase.ProviderType]providers.Provider{}
	for _, t := range registry.Types() {
		p := registry.Get(t)
		provs = append(provs, p)
		m.providers[t] = p
	}

	rt = ai.NewRuntime(ai.RuntimeParams{
		Store:      m.store,
		Box:        m.box,
		Logger:     log,
		Config:     m.aiRuntimeConfig(),
		Backends:   backends.Factories(m.httpClient(0, false)),
		HTTPClient: m.httpClient(0, true),
		GlobalModels: backends.Global(backends.Config{
			GeminiAPIKey: m.cfg.GeminiAPIKey, GeminiBaseURL: m.cfg.GeminiBaseURL, GeminiModel: m.cfg.AI.GeminiModel,
			OpenAIAPIKey: m.cfg.OpenAIAPIKey, OpenAIBaseURL: m.cfg.OpenAIBaseURL, OpenAIModel: m.cfg.AI.OpenAIModel,
		}),
		Providers: provs,
		Metrics:   mt,
	})
	m.installAIHooks(rt)
	m.add("agent runtime", rt)
	m.agents = rt
	m.apiRegisters = append(m.apiRegisters, api.AgentRoutes(ai.NewService(m.store, m.box)))

	disp, err = dispatch.New(dispatch.Config{
		// Unique per process life: InstanceID may be stable across restarts
		// (a pod name, "dev") and pid 1 repeats in containers.
		Owner:             m.cfg.InstanceID + "/" + randomHex(4),
		LeaseHolder:       m.leaseHolder(),
		ClaimTTL:          m.cfg.ClaimTTL,
		SendTimeout:       m.cfg.SendTimeout,
		ReconcileInterval: m.cfg.ReconcileInterval,
	}, dispatch.Deps{
		Pool:     m.pool,
		Registry: registry,
		Events:   events,
		Inbound:  rt,
		Observer: mt,
		Logger:   log,
		HandoffFunc: func(ctx context.Context, sessionID string, _ []string) {
			if _, err := whatsmeow.WakeOwner(ctx, db.Leases(), sessionID); err != nil {
				log.Warn("wake session owner", "session_id", sessionID, "error", err)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	m.add("dispatch", disp)
	m.waiter = disp
	m.waker = disp

	if m.cfg.Listener {
		l, err := listener.New(listener.Config{
			DatabaseURL:  m.cfg.ReplicationURL,
			SlotName:     m.cfg.SlotName,
			Publication:  m.cfg.Publication,
			Handler:      disp,
			OnResyncFunc: func(ctx context.Context) { _ = disp.Resync(ctx) },
			Logger:       log,
		})
		if err != nil {
			return fmt.Errorf("listener: %w", err)
		}
		m.add("listener", l)
		mt.WatchListener(func() (string, int64) {
			st := l.Status()
			return string(st.Role), st.LagBytes
		})
		m.listener = l
	}

	// Last: the HTTP API is built from everything above (the shared event
	// sink included) and started last, so intake opens once the pipeline
	// runs and closes first.
	srv, err := m.httpServer(ctx)
	if err != nil {
		return err
	}
	m.add("http server", srv)
	return nil
}

// leaseHolder restricts WhatsApp Web rows to the replica holding their
// session's lease (empty when WhatsApp Web is disabled).
func (m *Main) leaseHolder() string {
	if m.cfg.WhatsAppWeb {
		return m.cfg.InstanceID
	}
	return ""
}

func (m *Main) sandboxConfig(events providers.EventSink) sandbox.Config {
	c := sandbox.Config{Sink: events, NoReceipts: !m.cfg.SandboxReceipts}
	// Simulated calls and presence go to the change feed (issue 21).
	c.Feed, c.Outbox = supabase.ChangeFeed{Store: m.store}, supabase.ChangeFeed{Store: m.store}
	if m.cfg.SandboxDelay == 0 {
		c.ZeroDelay = true
	} else {
		c.SentDelay = m.cfg.SandboxDelay / 3
		c.DeliveredDelay = m.cfg.SandboxDelay
		c.ReadDelay = 2 * m.cfg.SandboxDelay
	}
	return c
}

// aiRuntimeConfig maps ZAPBASE_AI_* to the runtime's configuration.
func (m *Main) aiRuntimeConfig() ai.RuntimeConfig {
	c := m.cfg.AI
	rc := ai.RuntimeConfig{
		DebounceWindow:        c.Debounce,
		PauseAfterHuman:       c.PauseAfterHuman,
		HandoffDuration:       c.HandoffDuration,
		MaxConsecutiveReplies: c.MaxConsecutiveReplies,
		DailyTokenBudget:      c.DailyTokenBudget,
		MaxMessageAge:         c.MaxMessageAge,
		ScanInterval:          c.ScanInterval,
		Workers:               c.Workers,
	}
	return rc
}

// Compile-time proof that the metrics feed every component's observer.
var (
	_ dispatch.Observer  = (*metrics.Metrics)(nil)
	_ ai.Observer        = (*metrics.Metrics)(nil)
	_ retention.Observer = (*metrics.Metrics)(nil)
)

// countWebhook counts webhook deliveries by the answer given: 2xx accepted
// (stored, or already stored), anything else rejected.
func countWebhook(mt *metrics.Metrics, source string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		result := metrics.WebhookAccepted
		if sw.status >= 300 {
			result = metrics.WebhookRejected
		}
		mt.WebhookReceived(source, result)
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument wraps the whole HTTP surface: the Supabase Database Webhook is
// counted (the Meta webhook is counted where it is mounted).
func (m *Main) instrument(h http.Handler) http.Handler {
	supabaseHook := countWebhook(m.metrics, metrics.WebhookSupabase, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == api.Prefix+"/webhooks/supabase" {
			supabaseHook.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// httpClient is the client of outbound calls: with tracing on, each call is
// a span of the caller's trace (propagated only to the tenant's own
// endpoints); nil keeps each package's default when tracing is off.
func (m *Main) httpClient(timeout time.Duration, propagate bool) *http.Client {
	if m.tracing == nil || !m.tracing.Enabled() {
		return nil
	}
	return &http.Client{Timeout: timeout, Transport: tracing.Transport(nil, propagate)}
}
