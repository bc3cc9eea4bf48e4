package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/listener"
	"github.com/zapbase/zapbase/metrics"
	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/tracing"
)

// component is the shared lifecycle of long-running parts: Start fails fast
// then backgrounds itself; Stop is idempotent and waits.
type component interface {
	Start(ctx context.Context) error
	Stop()
}

// Main is the running program: `serve` and `dev` build one, Run it, and
// Close it on a signal.
type Main struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	box  *secret.Box
	http *http.Server
	ln   net.Listener
	// started components, stopped in reverse order.
	components []component
	// beforeStop run before components stop (stop intake first).
	closed bool

	// Set by wire for the HTTP API: the provider registry, dispatch's
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
	// pairingOut, set by `zapbase dev`, receives WhatsApp Web QR and
	// pairing codes drawn for the terminal.
	pairingOut io.Writer
}

// NewMain prepares a Main from a validated configuration.
func NewMain(cfg Config) *Main {
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	return &Main{cfg: cfg, log: log}
}

// Addr is the HTTP listen address once Run has returned.
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
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
	if err := migrations.Up(m.cfg.DatabaseURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	box, err := secret.NewBox(m.cfg.EncryptionKey, m.cfg.OldEncryptionKeys...)
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	m.box = box
	pool, err := supabase.Connect(ctx, m.cfg.DatabaseURL, supabase.PoolConfig{MaxConns: m.cfg.DBMaxConns})
	if err != nil {
		return err
	}
	m.pool = pool

	if err := m.wire(ctx); err != nil {
		return err
	}

	handler, err := m.apiHandler(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.cfg.HTTPAddr, err)
	}
	m.ln = ln
	m.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	go func() {
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("http server stopped", "error", err)
		}
	}()
	m.log.Info("http listening", "addr", ln.Addr().String())
	return nil
}

// apiHandler builds the HTTP API from the configuration and what wire set.
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
	sendWait := m.cfg.SendWait
	if sendWait == 0 {
		sendWait = -1 // ZAPBASE_SEND_WAIT=0: never wait
	}
	h := api.NewHandler(api.Params{
		Pool:   m.pool,
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
		SendWait:              sendWait,
		Mounts:                m.mounts,
		RegisterFuncs:         m.apiRegisters,
	})
	return m.instrument(h), nil
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

// Close stops intake (HTTP), then components in reverse order (in-flight
// sends finish up to the shutdown timeout), then the pool.
func (m *Main) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.http != nil {
		if err := m.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
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
	return errors.Join(errs...)
}

func defaultInstanceID() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "zapbase"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

func migrateCmd(ctx context.Context) error {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return &configError{Var: "DATABASE_URL", Msg: "obrigatória"}
	}
	if err := migrations.Up(url); err != nil {
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
