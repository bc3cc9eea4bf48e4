package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/startstop"
)

// ErrStopped is returned by Wake, HandleInserts and Resync once the
// dispatcher stops accepting work.
var ErrStopped = errors.New("dispatch: dispatcher is not running")

// claimMargin is kept between the end of a send's timeout and the claim's
// deadline: a message whose claim is closer to expiry than SendTimeout plus
// this margin is not sent but put back (another replica may take it over
// at expiry).
const claimMargin = 5 * time.Second

// Dispatcher claims outbound message rows and sends them through providers.
// See the package documentation for the invariants.
type Dispatcher struct {
	cfg      Config
	pool     *pgxpool.Pool
	registry *Registry
	events   providers.EventSink
	inbound  InboundHandler
	handoff  func(ctx context.Context, sessionID string, rowIDs []string)
	log      *slog.Logger
	obs      Observer
	tracer   trace.Tracer
	inflight atomic.Int64 // provider calls in progress
	pacer    *pacer
	waiters  *waiters

	// The lifecycle (startstop): Start backgrounds a run, Stop (or the
	// run's context ending) drains it; a stopped dispatcher may start again.
	startstop.BaseStartStop

	mu        sync.Mutex
	accepting bool
	intake    sync.WaitGroup // Wake/Resync calls admitting rows

	runCtx     context.Context // reconciler; cancelled first on Stop
	runCancel  context.CancelFunc
	sendCtx    context.Context // in-flight sends; cancelled at the drain deadline
	sendCancel context.CancelFunc
	flushCtx   context.Context // status writes; cancelled after the drain deadline
	flushStop  context.CancelFunc
	kick       chan struct{}
	loops      sync.WaitGroup
	scanMu     sync.Mutex
	// claimMu serialises claim+admit within the process: a scan (SKIP
	// LOCKED) running beside a Wake could otherwise claim a chat's later rows
	// while the Wake holds its earlier ones, and send them first.
	claimMu sync.Mutex

	smu   sync.Mutex
	chats map[string]*chat
	// holds: a message of the chat was put back until then; later ones
	// wait too, so the chat's order holds (outlives the chat's queue).
	holds    map[string]time.Time
	inMemory int
	draining bool
	drainCh  chan struct{}
	runners  sync.WaitGroup
	// idle hands a chat to a runner goroutine that finished its previous
	// chat and waits for another (see runner).
	idle chan *chat
	sem  chan struct{}

	outcomes  chan *outcome
	flushDone chan struct{}
}

// chat is the in-memory queue of one chat (session + recipient): its jobs
// are sent one after the other, in claim order.
type chat struct {
	key     string
	q       []*job
	running bool
}

// New builds a dispatcher. It validates cfg (filling defaults).
func New(cfg Config, deps Deps) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Pool == nil {
		return nil, errors.New("dispatch: Deps.Pool is required")
	}
	if deps.Registry == nil {
		deps.Registry = NewRegistry()
	}
	if deps.Events == nil {
		deps.Events = NewEvents(deps.Pool)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	obs := deps.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	return &Dispatcher{
		cfg: cfg, pool: deps.Pool, registry: deps.Registry, events: deps.Events, inbound: deps.Inbound,
		handoff: deps.HandoffFunc, log: log.With("component", "dispatch"), obs: obs, tracer: otel.Tracer(tracerName),
		pacer: newPacer(), waiters: newWaiters(),
		chats: map[string]*chat{}, holds: map[string]time.Time{},
		idle: make(chan *chat),
		sem:  make(chan struct{}, cfg.Workers),
	}, nil
}

// Config returns the validated configuration.
func (d *Dispatcher) Config() Config { return d.cfg }

// Start checks the database answers, then runs the reconciler and the
// status writer in the background. It follows the shared lifecycle
// (startstop): a second Start while running is a no-op; Stop — or the end
// of ctx — stops claiming, puts queued (unsent) messages back to pending,
// waits for in-flight sends up to DrainTimeout (then cancels them), writes
// every outcome and only then returns; a stopped dispatcher may start
// again. cmd/zapbase starts it with a context that outlives the signal, so
// shutdown happens in order, in Close.
func (d *Dispatcher) Start(ctx context.Context) error {
	return d.StartFunc(ctx, func(ctx context.Context) error {
		if err := d.pool.Ping(ctx); err != nil {
			return fmt.Errorf("dispatch start: %w", err)
		}
		if len(d.registry.Types()) == 0 {
			d.log.Warn("no provider registered: every outbound message will fail with session_unavailable")
		}
		d.newRun(context.WithoutCancel(ctx))
		d.loops.Add(1)
		go d.reconcileLoop()
		// Scan once right away: rows left by a previous run (or inserted
		// before the change stream is up) do not wait a whole interval.
		d.kickReconciler()
		go d.flushLoop()
		d.log.Info("dispatcher started", "owner", d.cfg.Owner, "workers", d.cfg.Workers,
			"reconcile_interval", d.cfg.ReconcileInterval.String(), "lease_holder", d.cfg.LeaseHolder)
		return nil
	}, func(ctx context.Context) {
		<-ctx.Done()
		d.drain()
	})
}

// newRun makes the state of one run (contexts, channels, queues) before its
// goroutines start.
func (d *Dispatcher) newRun(base context.Context) {
	d.runCtx, d.runCancel = context.WithCancel(base)
	d.sendCtx, d.sendCancel = context.WithCancel(base)
	d.flushCtx, d.flushStop = context.WithCancel(base)
	d.kick = make(chan struct{}, 1)
	d.outcomes = make(chan *outcome, 4*d.cfg.FlushMax)
	d.flushDone = make(chan struct{})
	d.smu.Lock()
	d.drainCh = make(chan struct{})
	d.draining = false
	d.chats = map[string]*chat{}
	d.inMemory = 0
	d.smu.Unlock()
	d.mu.Lock()
	d.accepting = true
	d.mu.Unlock()
}

// drain ends a run: it stops claiming, puts queued (unsent) messages back
// to pending, waits for in-flight sends up to DrainTimeout (then cancels
// them) and writes every outcome.
func (d *Dispatcher) drain() {
	d.mu.Lock()
	d.accepting = false
	d.mu.Unlock()
	start := time.Now()
	guard := time.AfterFunc(d.cfg.DrainTimeout+10*time.Second, d.flushStop)
	defer guard.Stop()

	d.runCancel()
	d.loops.Wait()
	d.intake.Wait()

	d.smu.Lock()
	d.draining = true
	close(d.drainCh)
	d.smu.Unlock()

	done := make(chan struct{})
	go func() { d.runners.Wait(); close(done) }()
	t := time.NewTimer(d.cfg.DrainTimeout)
	select {
	case <-done:
		t.Stop()
	case <-t.C:
		d.log.Warn("drain deadline reached, cancelling in-flight sends", "drain_timeout", d.cfg.DrainTimeout.String())
		d.sendCancel()
		<-done
	}
	close(d.outcomes)
	<-d.flushDone
	d.sendCancel()
	d.flushStop()
	d.log.Info("dispatcher stopped", "took", time.Since(start).String())
}

// enter registers an intake call; false once stopping.
func (d *Dispatcher) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.accepting {
		return false
	}
	d.intake.Add(1)
	return true
}

// admit queues claimed rows per chat in insertion order; rows whose routing
// decided an immediate outcome go to the status writer instead.
func (d *Dispatcher) admit(ctx context.Context, rows []claimedRow, routes map[string]*decisionRoute) {
	if len(rows) == 0 {
		return
	}
	// Insertion order (messages.seq), not created_at: rows inserted by one
	// transaction share created_at.
	slices.SortStableFunc(rows, func(a, b claimedRow) int { return cmp.Compare(a.Seq, b.Seq) })
	claimSpan := trace.SpanContextFromContext(ctx)
	handoffs := map[string][]string{}
	for _, r := range rows {
		rt := routes[r.ID]
		var (
			j *job
			o *outcome
		)
		if rt == nil {
			o = releaseOutcome(r.ID, time.Now(), "", "") // cannot happen: every claimed row was routed
		} else if o = rt.outcome; o == nil {
			j, o = newJob(r, rt)
		}
		if o != nil {
			_, span := d.startDispatch(claimSpan, r.Traceparent, rowAttrs(r)...)
			traceOutcome(span, o)
			if rt != nil && rt.handoff != "" {
				span.SetAttributes(attribute.String("zapbase.handed_over_to_session", rt.handoff))
				handoffs[rt.handoff] = append(handoffs[rt.handoff], r.ID)
			}
			span.End()
			if o.status == zapbase.StatusFailed {
				d.obs.SendFailed(r.TenantID, string(r.Provider))
				d.log.Info("message failed before sending", "tenant_id", r.TenantID, "message_row_id", r.ID,
					"error_code", deref(o.errorCode))
			}
			d.emit(o)
			continue
		}
		d.obs.ProviderRouted(string(rt.requested), string(j.ptype))
		j.claimSpan = claimSpan
		d.enqueue(j)
	}
	if d.handoff != nil {
		for sid, ids := range handoffs {
			d.handoff(ctx, sid, ids)
		}
	}
}
