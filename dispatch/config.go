package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Defaults for Config. Each is documented in doc.go.
const (
	DefaultClaimTTL          = 2 * time.Minute
	DefaultSendTimeout       = 30 * time.Second
	DefaultReconcileInterval = 3 * time.Second
	DefaultReconcileBatch    = 500
	DefaultWorkers           = 64
	DefaultMaxInFlight       = 10000
	DefaultMaxAttempts       = 8
	DefaultBackoffBase       = 2 * time.Second
	DefaultBackoffMax        = 10 * time.Minute
	DefaultSessionRetryDelay = 30 * time.Second
	DefaultAuthLostDelay     = 5 * time.Minute
	DefaultSessionWaitMax    = 24 * time.Hour
	DefaultMaxPaceWait       = 2 * time.Second
	DefaultDrainTimeout      = 20 * time.Second
	DefaultFlushMax          = 1000
	DefaultFlushWait         = 5 * time.Millisecond
	DefaultWaitPollInterval  = 250 * time.Millisecond
)

// DefaultNumberRates are the per-number send rates (messages per second)
// applied when neither the session nor the tenant says otherwise. Meta's
// Cloud API starts numbers at 80 messages/s; WhatsApp Web numbers are paced
// like a person to limit ban risk; the sandbox is unlimited (0).
var DefaultNumberRates = map[zapbase.ProviderType]float64{
	zapbase.ProviderMeta:    80,
	zapbase.ProviderBaileys: 1,
	zapbase.ProviderSandbox: 0,
}

// Config tunes a Dispatcher. Zero values take the defaults above; call
// Validate (New does) once at start. It is immutable afterwards.
type Config struct {
	// Owner is written to messages.claimed_by (default: hostname-pid). It
	// must be unique per process life: the reconciler never recovers its own
	// owner's claims, so a restarted process needs a new one.
	Owner string
	// ClaimTTL is how long a claim holds before the reconciler of any
	// replica may take the row over (crash recovery). It must exceed
	// SendTimeout comfortably.
	ClaimTTL time.Duration
	// SendTimeout bounds one provider call.
	SendTimeout time.Duration
	// ReconcileInterval is the period of the reconciliation scan (jittered
	// ±10%); ReconcileBatch the rows claimed per scan statement.
	ReconcileInterval time.Duration
	ReconcileBatch    int
	// Workers bounds concurrent provider calls.
	Workers int
	// MaxInFlight bounds claimed rows held in memory; beyond it Wake claims
	// nothing and the reconciler takes over when there is room.
	MaxInFlight int
	// MaxAttempts is the number of sends before a retryable failure becomes
	// failed/retries_exhausted.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the retry delay: base·2^(attempt-1),
	// capped, ±20% jitter.
	BackoffBase, BackoffMax time.Duration
	// SessionRetryDelay is the wait before retrying a message whose session
	// cannot send; AuthLostDelay the wait after a session lost its
	// credentials; SessionWaitMax how long (since the row was created) a
	// message may wait for a session before it fails with
	// session_unavailable.
	SessionRetryDelay, AuthLostDelay, SessionWaitMax time.Duration
	// TenantRate is the default per-tenant rate in messages/s (0: no
	// tenant-wide limit); tenants override it in settings.dispatch.
	TenantRate float64
	// NumberRates overrides DefaultNumberRates per provider type.
	NumberRates map[zapbase.ProviderType]float64
	// MaxPaceWait is the longest a message waits in memory for pacing;
	// longer waits put it back to pending with next_attempt_at.
	MaxPaceWait time.Duration
	// DrainTimeout is how long Stop waits for in-flight sends.
	DrainTimeout time.Duration
	// FlushMax is the most status writes in one UPDATE.
	FlushMax int
	// FlushWait is how long the status writer waits for more outcomes when
	// fewer than FlushMax are ready (default 5 ms; −1: write at once). It is
	// not on the latency path (the send already happened): at moderate load
	// it turns one UPDATE per message into one per few, which on a small
	// machine is CPU the sends can use.
	FlushWait time.Duration
	// WaitPollInterval is WaitFinal's database polling period.
	WaitPollInterval time.Duration
	// LeaseHolder, when set, restricts claims of `baileys` rows that name a
	// session to the replica holding that session's lease in
	// wa.session_leases (holder = LeaseHolder, not expired). Empty: no lease
	// filtering (single replica, or no WhatsApp Web).
	LeaseHolder string
}

// Validate fills defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Owner == "" {
		h, _ := os.Hostname()
		if h == "" {
			h = "zapbase"
		}
		c.Owner = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ClaimTTL, DefaultClaimTTL)
	def(&c.SendTimeout, DefaultSendTimeout)
	def(&c.ReconcileInterval, DefaultReconcileInterval)
	def(&c.BackoffBase, DefaultBackoffBase)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.SessionRetryDelay, DefaultSessionRetryDelay)
	def(&c.AuthLostDelay, DefaultAuthLostDelay)
	def(&c.SessionWaitMax, DefaultSessionWaitMax)
	def(&c.MaxPaceWait, DefaultMaxPaceWait)
	def(&c.DrainTimeout, DefaultDrainTimeout)
	def(&c.WaitPollInterval, DefaultWaitPollInterval)
	if c.ReconcileBatch == 0 {
		c.ReconcileBatch = DefaultReconcileBatch
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.FlushWait == 0 {
		c.FlushWait = DefaultFlushWait
	}
	if c.FlushMax == 0 {
		c.FlushMax = DefaultFlushMax
	}
	rates := make(map[zapbase.ProviderType]float64, len(DefaultNumberRates))
	for k, v := range DefaultNumberRates {
		rates[k] = v
	}
	for k, v := range c.NumberRates {
		rates[k] = v
	}
	c.NumberRates = rates

	var errs []error
	if c.ClaimTTL < c.SendTimeout+5*time.Second {
		errs = append(errs, fmt.Errorf("dispatch: ClaimTTL (%s) must exceed SendTimeout (%s) by at least 5s", c.ClaimTTL, c.SendTimeout))
	}
	if c.ReconcileBatch < 0 || c.Workers < 0 || c.MaxInFlight < 0 || c.MaxAttempts < 0 || c.FlushMax < 0 {
		errs = append(errs, errors.New("dispatch: counts must be positive"))
	}
	if c.TenantRate < 0 {
		errs = append(errs, errors.New("dispatch: TenantRate must not be negative"))
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, errors.New("dispatch: BackoffMax must not be below BackoffBase"))
	}
	return errors.Join(errs...)
}

// InboundHandler receives inbound message rows not yet processed by an agent
// (the AI runtime implements it). A nil error means the rows are durably
// handled (the listener may acknowledge them).
type InboundHandler interface {
	HandleInbound(ctx context.Context, rowIDs []string) error
}

// Deps are the collaborators of a Dispatcher.
type Deps struct {
	Pool     *pgxpool.Pool
	Registry *Registry
	// Events persists session states (auth lost); default NewEvents(Pool).
	Events providers.EventSink
	// Inbound receives inbound rows (nil: none).
	Inbound InboundHandler
	Logger  *slog.Logger
	// HandoffFunc, when set, is called after rows were released because
	// their WhatsApp Web session is leased by another replica, so the lease
	// owner can be woken (e.g. pg_notify on its channel). Without it the
	// owner's reconciler picks them up on its next scan.
	HandoffFunc func(ctx context.Context, sessionID string, rowIDs []string)
	// Observer receives measurements (*metrics.Metrics; nil: none).
	Observer Observer
}
