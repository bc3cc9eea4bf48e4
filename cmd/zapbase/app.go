package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/console"
	"github.com/zapbase/zapbase/listener"
	"github.com/zapbase/zapbase/metrics"
	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/tracing"
)

// component is the shared lifecycle of long-running parts (package
// startstop): Start fails fast then backgrounds itself; Stop is idempotent
// and waits.
type component interface {
	Start(ctx context.Context) error
	Stop()
}

// namedComponent is a built component waiting to be started.
type namedComponent struct {
	name string
	c    component
}

// Main is the running program: `serve` and `dev` build one, Run it, and
// Close it on a signal.
type Main struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	// store is the data layer over pool.
	store *store.Store
	box   *secret.Box
	srv   *httpServer
	// built components in start order (build), then the started ones,
	// stopped in reverse order.
	built      []namedComponent
	components []component
	closed     bool
	// events is the one event sink of providers and the generic webhook.
	events providers.EventSink

	// Set by build for the HTTP API: the provider registry, dispatch's
	// Waiter/Waker, raw handlers of other packages (Meta webhook, metrics)
	// and extra operations (agents).
	providers    map[zapbase.ProviderType]providers.Provider
	waiter       api.Waiter
	waker        api.Waker
	mounts       []api.Mount
	apiRegisters []func(*api.Router)
	verifier     *supabase.Verifier

	metrics  *metrics.Metrics
	tracing  *tracing.Tracing
	agents   *ai.Runtime
	listener *listener.Listener
	// closers run after components stopped (stores, simulators).
	closers []func()
	// eventHub feeds GET /api/v1/events (the console's live updates).
	eventHub *api.EventHub
	// pairingOut, set by `zapbase dev`, receives WhatsApp Web QR and
	// pairing codes drawn for the terminal.
	pairingOut io.Writer
	// devConsole, set by `zapbase dev`, tells the console page it signs in
	// by the link the banner prints.
	devConsole bool
}

// NewMain prepares a Main from a validated configuration.
func NewMain(cfg Config) *Main {
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	return &Main{cfg: cfg, log: log}
}

// Addr is the HTTP listen address once Run has returned.
func (m *Main) Addr() string {
	if m.srv == nil {
		return ""
	}
	return m.srv.Addr()
}

// Run migrates the database, starts every component and serves HTTP. It
// returns once the service is up.
func (m *Main) Run(ctx context.Context) error {
	m.log.Info("starting zapbase", "instance_id", m.cfg.InstanceID, "version", buildVersion())
	tcfg := m.cfg.Tracing
	tcfg.InstanceID, tcfg.ServiceVersion = m.cfg.InstanceID, buildVersion()
	tr, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		return err
	}
	m.tracing = tr
	if tr.Enabled() {
		m.log.Info("tracing enabled", "protocol", tr.Protocol())
	}
	rep, err := migrations.UpReport(m.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if rep.Recovered != nil {
		m.log.Warn(rep.Recovered.Notice, "component", "migrations", "dirty_version", rep.Recovered.DirtyVersion)
	}
	box, err := secret.NewBox(m.cfg.EncryptionKey, m.cfg.OldEncryptionKeys...)
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	m.box = box
	if err := m.startPprof(); err != nil {
		return fmt.Errorf("ZAPBASE_PPROF_ADDR: %w", err)
	}
	pool, err := supabase.Connect(ctx, m.cfg.DatabaseURL, supabase.PoolConfig{MaxConns: m.cfg.DBMaxConns})
	if err != nil {
		return err
	}
	m.pool = pool
	m.store = store.New(pool)

	// Two phases: build everything (hooks passed to constructors), then
	// start in order.
	if err := m.build(ctx); err != nil {
		return err
	}
	for _, b := range m.built {
		if err := m.start(ctx, b.c); err != nil {
			return fmt.Errorf("start %s: %w", b.name, err)
		}
	}
	return nil
}

// add queues a built component; Run starts them in the order added.
func (m *Main) add(name string, c component) {
	m.built = append(m.built, namedComponent{name: name, c: c})
}

// httpServer builds the HTTP server of the API (not listening yet).
func (m *Main) httpServer(ctx context.Context) (*httpServer, error) {
	h, err := m.apiHandler(ctx)
	if err != nil {
		return nil, err
	}
	m.srv = &httpServer{
		addr:            m.cfg.HTTPAddr,
		shutdownTimeout: m.cfg.ShutdownTimeout,
		log:             m.log,
		handler:         h,
	}
	if m.eventHub != nil {
		// Open event streams end at shutdown instead of holding it.
		m.srv.onShutdown = m.eventHub.Close
	}
	return m.srv, nil
}

// apiHandler builds the HTTP API from the configuration and what build set.
func (m *Main) apiHandler(ctx context.Context) (http.Handler, error) {
	vcfg := supabase.VerifierConfig{HS256Secret: m.cfg.JWTSecret, Issuer: m.cfg.JWTIssuer, Audience: m.cfg.JWTAudience}
	if m.cfg.SupabaseURL != "" {
		vcfg.JWKSURL = m.cfg.SupabaseURL + "/auth/v1/.well-known/jwks.json"
	}
	verifier, err := supabase.NewVerifier(ctx, vcfg)
	if err != nil {
		return nil, err
	}
	m.verifier = verifier
	store := m.mediaStore()
	// Console and event stream: the page at /console and GET /api/v1/events
	// (one change-feed poller for every open stream; closed at shutdown so
	// open streams do not hold it).
	m.eventHub = api.NewEventHub(m.pool, m.log, 0)
	m.mounts = append(m.mounts,
		api.Mount{Pattern: "GET /console", Handler: console.Handler(m.consoleConfig())},
		api.Mount{Pattern: "GET /console/", Handler: console.Handler(m.consoleConfig())})
	h := api.NewHandler(api.Params{
		Pool:   m.pool,
		Events: m.events,
		Logger: m.log.With("component", "api"),
		ReadyChecks: []api.ReadyCheck{
			{Name: "database", Check: func(ctx context.Context) error { return m.pool.Ping(ctx) }},
			{Name: "migrations", Check: m.migrationsCurrent},
			{Name: "listener", Check: m.listenerReady},
		},
		Providers:             m.providers,
		Waiter:                m.waiter,
		Waker:                 m.waker,
		Verifier:              verifier,
		Box:                   m.box,
		Media:                 store,
		AdminToken:            m.cfg.AdminToken,
		SupabaseWebhookSecret: m.cfg.SupabaseWebhookSecret,
		SendWait:              m.cfg.SendWait,
		Mounts:                m.mounts,
		EventHub:              m.eventHub,
		RegisterFuncs:         m.apiRegisters,
	})
	return m.instrument(h), nil
}

// consoleConfig is what the console page needs to sign in.
func (m *Main) consoleConfig() console.Config {
	return console.Config{SupabaseURL: m.cfg.SupabaseURL, PublishableKey: m.cfg.SupabasePublishable, Dev: m.devConsole}
}

// start starts c with a context that outlives ctx: components stop in
// order in Close (listener first, providers last), never all at once when
// the signal context ends.
func (m *Main) start(ctx context.Context, c component) error {
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	m.components = append(m.components, c)
	return nil
}

// listenerReady passes once the change stream is set up: this replica
// streams the slot (leader) or another one does (standby). While it is
// still connecting, rows are only found by the reconciliation scan.
func (m *Main) listenerReady(context.Context) error {
	if m.listener == nil {
		return nil // ZAPBASE_LISTENER=false: the scan and the Supabase webhook wake dispatch
	}
	// /readyz is public: name the role only, never connection details.
	switch st := m.listener.Status(); st.Role {
	case listener.RoleLeader, listener.RoleStandby:
		return nil
	default:
		return fmt.Errorf("listener %s", st.Role)
	}
}

func (m *Main) migrationsCurrent(ctx context.Context) error {
	latest, err := migrations.Latest()
	if err != nil {
		return err
	}
	var st migrations.Status
	if err := m.pool.QueryRow(ctx, migrations.StatusQuery).Scan(&st.Version, &st.Dirty); err != nil {
		return fmt.Errorf("read migration version: %w", err)
	}
	st.Latest = latest
	if !st.Current() {
		return fmt.Errorf("migrations at version %d (dirty=%v), binary expects %d", st.Version, st.Dirty, st.Latest)
	}
	return nil
}

// Close stops components in reverse order: intake (HTTP) first, then the
// pipeline (in-flight sends finish up to the shutdown timeout), then the
// pool.
func (m *Main) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	for i := len(m.components) - 1; i >= 0; i-- {
		m.components[i].Stop()
	}
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	if m.verifier != nil {
		m.verifier.Close()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	if m.tracing != nil {
		// Last: the spans of the drain above are exported too.
		if err := m.tracing.Shutdown(context.Background()); err != nil {
			m.log.Warn("flush traces", "error", err)
		}
	}
	m.log.Info("zapbase stopped")
	return nil
}

func defaultInstanceID() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "zapbase"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

func migrateCmd(ctx context.Context, args []string) error {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return &configError{Var: "DATABASE_URL", Msg: "obrigatória"}
	}
	if len(args) > 0 && args[0] == "force" {
		// zapbase migrate force N: mark version N applied and clean without
		// running anything (the way out of a dirty version).
		if len(args) != 2 {
			return errors.New("uso: zapbase migrate force N (N: a versão a marcar como aplicada; 0: nenhuma)")
		}
		v, err := strconv.ParseUint(args[1], 10, 32)
		if err != nil {
			return fmt.Errorf("versão inválida %q: use um número, como em zapbase migrate force 61", args[1])
		}
		if err := migrations.Force(url, uint(v)); err != nil {
			return err
		}
		fmt.Printf("versão marcada como %d (sem \"dirty\"); rode zapbase migrate para aplicar o restante\n", v)
		return nil
	}
	if len(args) > 0 {
		return fmt.Errorf("argumento desconhecido %q (uso: zapbase migrate [force N])", args[0])
	}
	rep, err := migrations.UpReport(url)
	if rep.Recovered != nil {
		fmt.Println(rep.Recovered.Notice)
	}
	if err != nil {
		return err
	}
	fmt.Println("migrações aplicadas")
	return nil
}

// buildVersion is the module version the binary was built from ("devel"
// for a local build).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
