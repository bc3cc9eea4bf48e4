package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/store"
)

// Delivery defaults.
const (
	DefaultDeliveryPoll = time.Second
	DefaultWorkers      = 16
	// DefaultPerSubscription bounds the attempts one subscription has in
	// flight at once (per replica claim; about that many per replica).
	DefaultPerSubscription = 4
	DefaultRetryFor        = 24 * time.Hour
	DefaultBaseDelay       = 10 * time.Second
	DefaultMaxDelay        = time.Hour
	// DefaultDrainTimeout is how long Stop lets attempts in flight finish
	// before cancelling them.
	DefaultDrainTimeout = 10 * time.Second
	// claimMargin, with twice the attempt timeout, is a claim's lease: a
	// live owner always finishes an attempt (or gives up) and records it
	// before another replica may take the row over.
	claimMargin = 5 * time.Second
	// UserAgent names zapbase to receivers.
	UserAgent = "zapbase-webhooks/1"
)

// Attempt results reported to the Observer.
const (
	AttemptDelivered = "delivered" // 2xx
	AttemptRetry     = "retry"     // failed, will be tried again
	AttemptDead      = "dead"      // failed past its retry window
	AttemptGone      = "gone"      // 410: subscription switched off
)

// Observer receives every attempt's result (*metrics.Metrics in
// production).
type Observer interface {
	WebhookAttempt(result string)
}

type nopObserver struct{}

func (nopObserver) WebhookAttempt(string) {}

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	Store *store.Store
	Box   *secret.Box
	// Owner identifies this process in claims (unique per process life).
	Owner        string
	PollInterval time.Duration // default DefaultDeliveryPoll
	Workers      int           // concurrent attempts; default DefaultWorkers
	// PerSubscription: attempts of one subscription in flight at once
	// (default DefaultPerSubscription), so a slow receiver cannot take
	// every worker.
	PerSubscription int
	// RetryFor: how long after its creation a delivery is retried before
	// it is dead-lettered (default DefaultRetryFor).
	RetryFor time.Duration
	// BaseDelay and MaxDelay shape the retry backoff: attempt n waits a
	// uniformly random time in [0, min(MaxDelay, BaseDelay·2^(n-1))]
	// ("full jitter").
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// DrainTimeout: Stop waits this long for attempts in flight (default
	// DefaultDrainTimeout), then cancels them.
	DrainTimeout time.Duration
	// Client sends the requests (default NewClient(ClientConfig{}): public
	// addresses only). Its Timeout bounds an attempt.
	Client   *http.Client
	Observer Observer
	Logger   *slog.Logger
	// Now is the clock of signature timestamps (default time.Now).
	Now func() time.Time
}

// Deliverer claims delivery rows and sends them.
type Deliverer struct {
	cfg      DelivererConfig
	log      *slog.Logger
	claimTTL time.Duration
	kick     chan struct{}
	sem      chan struct{}
	inflight sync.WaitGroup
	startstop.BaseStartStop
	// sendCtx governs attempts in flight: Stop ends claiming first, then
	// cancels it after DrainTimeout.
	sendCtx    context.Context
	sendCancel context.CancelFunc
}

// NewDeliverer validates cfg and returns a Deliverer (not started).
func NewDeliverer(cfg DelivererConfig) (*Deliverer, error) {
	if cfg.Store == nil || cfg.Box == nil {
		return nil, errors.New("webhooks: deliverer needs a store and a secret box")
	}
	if cfg.Owner == "" {
		return nil, errors.New("webhooks: deliverer owner is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultDeliveryPoll
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.PerSubscription <= 0 {
		cfg.PerSubscription = DefaultPerSubscription
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		return nil, errors.New("webhooks: max delay below base delay")
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(ClientConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	timeout := cfg.Client.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Deliverer{
		cfg: cfg, log: cfg.Logger.With("component", "webhooks.deliver"),
		claimTTL: 2*timeout + claimMargin,
		kick:     make(chan struct{}, 1), sem: make(chan struct{}, cfg.Workers),
	}, nil
}

// Nudge asks for a claim now (deliveries were just written).
func (d *Deliverer) Nudge() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Start checks the database answers, then delivers in the background. It
// follows the shared lifecycle (startstop): Stop — or the end of ctx — stops
// claiming, lets attempts in flight finish for up to DrainTimeout, then
// cancels the rest (their rows go back to pending at once; after a crash,
// when their lease expires) and waits; Stop is idempotent and a stopped
// deliverer may start again.
func (d *Deliverer) Start(ctx context.Context) error {
	return d.StartFunc(ctx, func(ctx context.Context) error {
		if err := d.cfg.Store.Ping(ctx); err != nil {
			return fmt.Errorf("webhooks deliverer start: %w", err)
		}
		d.sendCtx, d.sendCancel = context.WithCancel(context.WithoutCancel(ctx))
		return nil
	}, d.loop)
}

func (d *Deliverer) loop(ctx context.Context) {
	defer d.drain()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var failures int
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.kick:
		}
		wait := d.cfg.PollInterval
		n, err := d.claimAndSend(ctx)
		switch {
		case ctx.Err() != nil:
			return // claimed rows are sent by the drain
		case err != nil:
			failures++
			wait = backoff(failures, d.cfg.PollInterval, 30*time.Second)
			d.log.Warn("claim deliveries failed", "error", err, "attempt", failures, "retry_in", wait.String())
		default:
			failures = 0
			if n > 0 && len(d.sem) < cap(d.sem) {
				wait = 0 // a full batch: there may be more
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// drain waits for attempts in flight, cancelling them after DrainTimeout.
func (d *Deliverer) drain() {
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	t := time.NewTimer(d.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.log.Warn("drain deadline reached, cancelling webhook attempts in flight", "drain_timeout", d.cfg.DrainTimeout.String())
		d.sendCancel()
		<-done
	}
	d.sendCancel()
}

// claimAndSend claims as many rows as there are free workers and starts
// their attempts; it returns how many it claimed.
func (d *Deliverer) claimAndSend(ctx context.Context) (int, error) {
	free := cap(d.sem) - len(d.sem)
	if free == 0 {
		return 0, nil
	}
	// A started claim is read to the end even when Stop cancels ctx: a
	// statement cancelled after it committed would leave its rows in
	// sending, unsent, until their lease expired. What it claimed is sent
	// during the drain.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	batch, err := d.cfg.Store.WebhookDeliveries().Claim(qctx, store.ClaimWebhookDeliveriesParams{
		Limit: free, Owner: d.cfg.Owner, Lease: d.claimTTL, PerSubscription: d.cfg.PerSubscription,
	})
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	for _, c := range batch {
		d.sem <- struct{}{}
		d.inflight.Add(1)
		go func() {
			defer func() {
				<-d.sem
				d.inflight.Done()
				d.Nudge() // the next delivery of this conversation may go now
			}()
			d.attempt(d.sendCtx, c)
		}()
	}
	return len(batch), nil
}

// errSecret: a subscription's secret did not open (its key is missing).
var errSecret = errors.New("open subscription secret")

// result is what one attempt got.
type result struct {
	status     int // 0: no HTTP answer
	response   string
	err        error
	duration   time.Duration
	retryAfter time.Duration
}

func (d *Deliverer) attempt(ctx context.Context, c store.ClaimedWebhookDelivery) {
	log := d.log.With("tenant_id", c.TenantID, "subscription_id", c.SubscriptionID, "delivery_id", c.ID)
	res := d.send(ctx, c)
	// The outcome is written even when Stop cancelled the attempt: the row
	// goes back to pending at once instead of waiting for its lease.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ms := int(res.duration / time.Millisecond)
	var status *int
	if res.status != 0 {
		status = &res.status
	}
	out := store.WebhookAttemptParams{ID: c.ID, Owner: d.cfg.Owner, Status: status, Response: nullIfEmpty(res.response), DurationMs: ms}
	deliveries := d.cfg.Store.WebhookDeliveries()
	var err error
	switch {
	case res.err == nil && res.status >= 200 && res.status < 300:
		err = deliveries.MarkDelivered(wctx, out)
		d.cfg.Observer.WebhookAttempt(AttemptDelivered)
		log.Debug("webhook delivered", "status", res.status, "attempt", c.Attempt)
	case res.err == nil && res.status == http.StatusGone:
		out.Error = "O receptor respondeu 410 Gone: a assinatura foi desativada."
		err = deliveries.MarkGone(wctx, out)
		d.cfg.Observer.WebhookAttempt(AttemptGone)
		log.Warn("webhook receiver answered 410 Gone: subscription disabled", "attempt", c.Attempt)
	default:
		delay := fullJitter(c.Attempt, d.cfg.BaseDelay, d.cfg.MaxDelay)
		if res.retryAfter > delay {
			delay = min(res.retryAfter, d.cfg.MaxDelay)
		}
		if ctx.Err() != nil && res.err != nil {
			delay = 0 // stopped, not failed: retry as soon as someone runs
		}
		msg := failureMessage(res)
		out.Error, out.RetryIn, out.RetryFor = msg, delay, d.cfg.RetryFor
		var state string
		state, err = deliveries.Retry(wctx, out)
		if state == StateDead {
			d.cfg.Observer.WebhookAttempt(AttemptDead)
			log.Warn("webhook dead-lettered after its retry window", "attempts", c.Attempt, "last_error", msg)
		} else if err == nil {
			d.cfg.Observer.WebhookAttempt(AttemptRetry)
			log.Info("webhook attempt failed, will retry", "attempt", c.Attempt, "status", res.status,
				"retry_in", delay.Round(time.Millisecond).String(), "error", msg)
		}
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		log.Error("record webhook outcome", "error", err)
	}
}

// send makes one attempt: the body as stored, signed over "<ts>.<body>".
func (d *Deliverer) send(ctx context.Context, c store.ClaimedWebhookDelivery) result {
	plain, err := d.cfg.Box.Open(c.SecretKeyID, c.SecretCiphertext, []byte("webhook_subscription:"+c.SubscriptionID))
	if err != nil {
		return result{err: fmt.Errorf("%w: %w", errSecret, err)}
	}
	body := []byte(c.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	ts := d.cfg.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, c.Event)
	req.Header.Set(HeaderEventID, c.EventID)
	req.Header.Set(HeaderDeliveryID, c.ID)
	req.Header.Set(HeaderAttempt, strconv.Itoa(c.Attempt))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(string(plain), ts, body))
	start := time.Now()
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return result{err: err, duration: time.Since(start)}
	}
	defer resp.Body.Close()
	// Only a prefix of the answer is read (and kept); the rest is never
	// read, so a huge or endless body costs nothing.
	prefix, _ := io.ReadAll(io.LimitReader(resp.Body, ResponsePrefixBytes))
	r := result{status: resp.StatusCode, response: validUTF8(prefix), duration: time.Since(start)}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s > 0 {
			r.retryAfter = time.Duration(s) * time.Second
		}
	}
	return r
}

// failureMessage is the pt-BR last_error of a failed attempt (no secrets:
// URLs are the tenant's own and carry no credentials).
func failureMessage(r result) string {
	if r.err == nil {
		return fmt.Sprintf("O receptor respondeu HTTP %d.", r.status)
	}
	// The URL (whose path may be a capability, as n8n's are) is not
	// repeated in the message.
	cause := r.err
	var ue *url.Error
	if errors.As(cause, &ue) {
		cause = ue.Err
	}
	var be *BlockedError
	if errors.As(r.err, &be) {
		return fmt.Sprintf("Destino bloqueado: %s resolve para um endereço %s (proteção contra SSRF).", be.Host, be.Reason)
	}
	var ne net.Error
	if errors.As(r.err, &ne) && ne.Timeout() {
		return "Tempo esgotado esperando o receptor."
	}
	if errors.Is(cause, errRedirect) {
		return fmt.Sprintf("Redirecionamento recusado (máximo de %d, somente http/https).", MaxRedirects)
	}
	if errors.Is(cause, errSecret) {
		return "O segredo da assinatura não pôde ser aberto (chave de criptografia ausente)."
	}
	return "Falha de conexão com o receptor: " + truncate(cause.Error(), 300)
}

// fullJitter is attempt n's retry delay: uniform in [0, min(max, base·2^(n-1))].
func fullJitter(n int, base, maxDelay time.Duration) time.Duration {
	ceil := maxDelay
	if n < 1 {
		n = 1
	}
	if n <= 40 {
		if c := base << (n - 1); c > 0 && c < maxDelay {
			ceil = c
		}
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// backoff is the pause of a failing loop (database down): capped
// exponential with jitter, never below base.
func backoff(failures int, base, maxDelay time.Duration) time.Duration {
	return base + fullJitter(failures, base, maxDelay)
}

func validUTF8(b []byte) string {
	s := string(b)
	if utf8.ValidString(s) {
		return strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
