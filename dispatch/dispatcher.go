package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
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

	mu        sync.Mutex
	started   bool
	stopped   bool
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
		kick: make(chan struct{}, 1), chats: map[string]*chat{}, holds: map[string]time.Time{}, drainCh: make(chan struct{}),
		idle: make(chan *chat),
		sem:  make(chan struct{}, cfg.Workers), outcomes: make(chan *outcome, 4*cfg.FlushMax),
		flushDone: make(chan struct{}),
	}, nil
}

// Config returns the validated configuration.
func (d *Dispatcher) Config() Config { return d.cfg }

// Start checks the database answers, then runs the reconciler and the
// status writer in the background. The dispatcher's life is governed by
// Stop, not by ctx (cancelling ctx does not drain in-flight sends).
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("dispatch: already started")
	}
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("dispatch start: %w", err)
	}
	if len(d.registry.Types()) == 0 {
		d.log.Warn("no provider registered: every outbound message will fail with session_unavailable")
	}
	base := context.WithoutCancel(ctx)
	d.runCtx, d.runCancel = context.WithCancel(base)
	d.sendCtx, d.sendCancel = context.WithCancel(base)
	d.flushCtx, d.flushStop = context.WithCancel(base)
	d.started, d.accepting = true, true
	d.loops.Add(1)
	go d.reconcileLoop()
	// Scan once right away: rows left by a previous run (or inserted before
	// the change stream is up) do not wait a whole interval.
	d.kickReconciler()
	go d.flushLoop()
	d.log.Info("dispatcher started", "owner", d.cfg.Owner, "workers", d.cfg.Workers,
		"reconcile_interval", d.cfg.ReconcileInterval.String(), "lease_holder", d.cfg.LeaseHolder)
	return nil
}

// Stop stops claiming, puts queued (unsent) messages back to pending, waits
// for in-flight sends up to DrainTimeout (then cancels them), writes every
// outcome and returns. It is idempotent.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	if !d.started || d.stopped {
		d.mu.Unlock()
		return
	}
	d.stopped, d.accepting = true, false
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

// Wake claims the given rows if they are outbound, pending and due, in one
// statement, and returns once the claim committed; the sends continue in
// the background. Rows that are not claimable (inbound, already claimed,
// not due, leased elsewhere) are simply ignored: they are handled. When the
// in-memory queue is full nothing is claimed and the reconciler catches up.
func (d *Dispatcher) Wake(ctx context.Context, rowIDs []string) error {
	_, err := d.wake(ctx, rowIDs, sourceWebhook)
	return err
}

func (d *Dispatcher) wake(ctx context.Context, rowIDs []string, source string) ([]claimedRow, error) {
	if len(rowIDs) == 0 {
		return nil, nil
	}
	if !d.enter() {
		return nil, ErrStopped
	}
	defer d.intake.Done()
	if d.queued() >= d.cfg.MaxInFlight {
		d.kickReconciler()
		return nil, nil
	}
	// Lock rows in id order, as every other multi-row write does, so
	// concurrent writers wait for each other instead of deadlocking.
	sorted := slices.Clone(rowIDs)
	slices.Sort(sorted)
	d.claimMu.Lock()
	defer d.claimMu.Unlock()
	rows, routes, err := d.claimWake(ctx, sorted)
	if err != nil {
		return nil, fmt.Errorf("claim %d rows: %w", len(rowIDs), err)
	}
	d.obs.Wakeup(source, len(rows))
	d.admit(ctx, rows, routes)
	return rows, nil
}

// HandleInserts implements the listener's handler: outbound rows are
// claimed (Wake) and inbound rows not yet processed by an agent go to the
// InboundHandler. A nil error means every row is durably handled.
//
// Logical decoding may deliver a transaction a moment before it is visible
// to other sessions: the inserting backend flushes its commit record (which
// wakes the walsender) before it leaves the proc array. A claim in that
// window finds nothing, and the row would wait for the next reconciliation
// scan (seconds). Rows the stream announced but the database does not show
// yet are therefore tried again shortly (retryInvisible); the reconciler
// stays the safety net if this process stops meanwhile.
func (d *Dispatcher) HandleInserts(ctx context.Context, rowIDs []string) error {
	invisible, err := d.handleInserts(ctx, rowIDs, sourceListener)
	if err != nil {
		return err
	}
	if len(invisible) > 0 && d.enter() {
		go d.retryInvisible(invisible)
	}
	return nil
}

// handleInserts claims and hands over what it can and returns the ids that
// are not visible yet.
func (d *Dispatcher) handleInserts(ctx context.Context, rowIDs []string, source string) ([]string, error) {
	claimed, err := d.wake(ctx, rowIDs, source)
	if err != nil {
		return nil, err
	}
	if len(claimed) == len(rowIDs) {
		return nil, nil
	}
	rest := make(map[string]bool, len(rowIDs))
	for _, id := range rowIDs {
		rest[id] = true
	}
	for _, r := range claimed {
		delete(rest, r.ID)
	}
	ids := make([]string, 0, len(rest))
	for id := range rest {
		ids = append(ids, id)
	}
	// What the claim did not take: inbound rows for the agent, outbound rows
	// that became visible since the claim's snapshot (claimed now), and
	// rows not visible yet (retried shortly). Anything else is handled
	// (already claimed, not due, leased elsewhere).
	rows, err := d.pool.Query(ctx, `SELECT id::text, direction = 'inbound' AND NOT ai_processed,
       direction = 'outbound' AND status = 'pending' AND next_attempt_at <= now()
  FROM public.messages WHERE id = ANY($1::uuid[]) ORDER BY seq`, ids)
	if err != nil {
		return nil, fmt.Errorf("find unclaimed rows: %w", err)
	}
	var inbound, late []string
	for rows.Next() {
		var (
			id               string
			in, claimableNow bool
		)
		if err := rows.Scan(&id, &in, &claimableNow); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find unclaimed rows: %w", err)
		}
		delete(rest, id)
		switch {
		case in:
			inbound = append(inbound, id)
		case claimableNow:
			late = append(late, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find unclaimed rows: %w", err)
	}
	if len(late) > 0 {
		got, err := d.wake(ctx, late, sourceListenerRetry)
		if err != nil {
			return nil, err
		}
		d.log.Debug("claimed rows that became visible after the claim's snapshot", "rows", len(late), "claimed", len(got))
	}
	if len(inbound) > 0 && d.inbound != nil {
		if err := d.inbound.HandleInbound(ctx, inbound); err != nil {
			return nil, fmt.Errorf("handle %d inbound rows: %w", len(inbound), err)
		}
	}
	invisible := make([]string, 0, len(rest))
	for id := range rest {
		invisible = append(invisible, id)
	}
	return invisible, nil
}

// invisibleRetryBudget bounds how long rows announced by the change stream
// but not visible yet are retried before the reconciler is left to them.
const invisibleRetryBudget = 2 * time.Second

// retryInvisible tries rows that were not visible yet again, with a short
// doubling delay, until they are handled, the budget is spent or the
// dispatcher stops. The caller registered it as an intake call (enter).
func (d *Dispatcher) retryInvisible(ids []string) {
	defer d.intake.Done()
	deadline := time.Now().Add(invisibleRetryBudget)
	delay := time.Millisecond
	for len(ids) > 0 && time.Now().Before(deadline) {
		t := time.NewTimer(delay)
		select {
		case <-d.runCtx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
		rest, err := d.handleInserts(d.runCtx, ids, sourceListenerRetry)
		if err != nil {
			if d.runCtx.Err() == nil {
				d.log.Warn("retry rows not yet visible", "rows", len(ids), "error", err)
			}
			return
		}
		ids = rest
	}
	if len(ids) > 0 {
		d.log.Warn("rows announced by the change stream are still not visible; the reconciler will find them", "rows", len(ids))
	}
}

// Resync runs a reconciliation scan now and returns when it is done (the
// listener calls it after recreating a lost slot).
func (d *Dispatcher) Resync(ctx context.Context) error {
	if !d.enter() {
		return ErrStopped
	}
	defer d.intake.Done()
	return d.scan(ctx)
}

func (d *Dispatcher) kickReconciler() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) reconcileLoop() {
	defer d.loops.Done()
	jitter := func() time.Duration {
		return time.Duration(float64(d.cfg.ReconcileInterval) * (0.9 + 0.2*rand.Float64()))
	}
	t := time.NewTimer(jitter())
	defer t.Stop()
	for {
		select {
		case <-d.runCtx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
		if err := d.scan(d.runCtx); err != nil && d.runCtx.Err() == nil {
			d.log.Warn("reconciliation scan failed", "error", err)
		}
		t.Reset(jitter())
	}
}

// scan claims due pending rows and expired claims until none is left or
// the in-memory queue is full.
func (d *Dispatcher) scan(ctx context.Context) error {
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	for {
		if ctx.Err() != nil {
			return nil // stopping: claim nothing more
		}
		room := d.cfg.MaxInFlight - d.queued()
		if room <= 0 {
			return nil
		}
		n := min(d.cfg.ReconcileBatch, room)
		d.claimMu.Lock()
		// The scan's span is the origin of the rows it claims that have
		// none (inserted while no change stream ran). An empty scan's span
		// is never ended, so idle replicas export nothing every interval.
		sctx, span := d.tracer.Start(ctx, spanReconcile)
		rows, routes, err := d.claimScan(sctx, n)
		if err != nil {
			d.claimMu.Unlock()
			span.RecordError(err)
			span.SetStatus(codes.Error, "claim failed")
			span.End()
			return fmt.Errorf("reconcile claim: %w", err)
		}
		if len(rows) > 0 {
			recovered := 0
			for _, r := range rows {
				if r.Recovered {
					recovered++
				}
			}
			d.log.Debug("reconciler claimed rows", "rows", len(rows), "recovered", recovered)
			d.obs.Wakeup(sourceReconcile, len(rows))
			d.obs.ReconcileFound(foundPending, len(rows)-recovered)
			d.obs.ReconcileFound(foundSending, recovered)
			if recovered > 0 {
				d.log.Info("recovered expired claims", "rows", recovered)
			}
			span.SetAttributes(attribute.Int("zapbase.rows", len(rows)), attribute.Int("zapbase.recovered_rows", recovered))
		}
		d.admit(sctx, rows, routes)
		d.claimMu.Unlock()
		if len(rows) > 0 {
			span.End()
		}
		if len(rows) < n {
			return nil
		}
	}
}

func (d *Dispatcher) queued() int {
	d.smu.Lock()
	defer d.smu.Unlock()
	return d.inMemory
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

func (d *Dispatcher) enqueue(j *job) {
	d.smu.Lock()
	defer d.smu.Unlock()
	key := j.chatKey()
	c := d.chats[key]
	if c == nil {
		c = &chat{key: key}
		d.chats[key] = c
	}
	// Keep the queue in insertion order: two claims of one chat (the change
	// stream's Wake and a reconciliation scan) can commit concurrently and be
	// admitted in either order.
	i := len(c.q)
	for i > 0 && c.q[i-1].seq > j.seq {
		i--
	}
	c.q = slices.Insert(c.q, i, j)
	d.inMemory++
	d.observeQueue()
	if !c.running {
		c.running = true
		select {
		case d.idle <- c: // an idle runner takes it
		default:
			d.runners.Add(1)
			go d.runner(c)
		}
	}
}

// idleRunnerTTL is how long a runner with no chat waits for another before
// it exits.
const idleRunnerTTL = 10 * time.Second

// runner runs chats one after the other: a chat's queue to its end, then
// whichever chat becomes runnable next. Runners are reused rather than one
// goroutine started per chat: a fresh goroutine grows (copies) its stack on
// every send, which profiling showed as a tenth of the process's CPU at
// saturation. There is no fixed pool: a runner is started whenever no idle
// one is waiting, so a chat waiting for its pacing never holds another
// back.
func (d *Dispatcher) runner(c *chat) {
	defer d.runners.Done()
	t := time.NewTimer(idleRunnerTTL)
	defer t.Stop()
	for {
		d.runChat(c)
		t.Reset(idleRunnerTTL)
		select {
		case c = <-d.idle:
		case <-t.C:
			return
		case <-d.drainCh:
			return
		}
	}
}

// runChat sends the chat's queue until it is empty.
func (d *Dispatcher) runChat(c *chat) {
	for {
		d.smu.Lock()
		if len(c.q) == 0 {
			c.running = false
			delete(d.chats, c.key)
			d.smu.Unlock()
			return
		}
		j := c.q[0]
		c.q[0] = nil
		c.q = c.q[1:]
		d.smu.Unlock()

		d.process(c, j)

		d.smu.Lock()
		d.inMemory--
		d.observeQueue()
		d.smu.Unlock()
	}
}

// hold makes the chat's later messages wait until at least `until`.
func (d *Dispatcher) hold(key string, until time.Time) {
	d.smu.Lock()
	defer d.smu.Unlock()
	if until.After(d.holds[key]) {
		d.holds[key] = until
	}
	if len(d.holds) > 10000 {
		now := time.Now()
		for k, t := range d.holds {
			if !t.After(now) {
				delete(d.holds, k)
			}
		}
	}
}

// heldUntil answers the chat's hold, zero when none is active.
func (d *Dispatcher) heldUntil(key string, now time.Time) time.Time {
	d.smu.Lock()
	defer d.smu.Unlock()
	t, ok := d.holds[key]
	if !ok {
		return time.Time{}
	}
	if !t.After(now) {
		delete(d.holds, key)
		return time.Time{}
	}
	return t
}

func (d *Dispatcher) isDraining() bool {
	select {
	case <-d.drainCh:
		return true
	default:
		return false
	}
}

// process sends one job, or puts it back when it must not be sent now.
func (d *Dispatcher) process(c *chat, j *job) {
	_, span := d.startDispatch(j.claimSpan, j.traceparent, jobAttrs(j)...)
	defer span.End()
	emit := func(o *outcome) {
		traceOutcome(span, o)
		d.emit(o)
	}
	now := time.Now()
	release := func(at time.Time) {
		d.hold(c.key, at)
		emit(releaseOutcome(j.id, at, "", ""))
	}
	if d.isDraining() {
		emit(releaseOutcome(j.id, now, "", ""))
		return
	}
	if until := d.heldUntil(c.key, now); !until.IsZero() {
		release(until)
		return
	}
	wait, blocked := d.pacer.reserve(j, now, d.cfg.MaxPaceWait)
	if !blocked.IsZero() {
		release(blocked)
		return
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.drainCh:
			t.Stop()
			emit(releaseOutcome(j.id, time.Now(), "", ""))
			return
		}
	}
	if time.Now().Add(d.cfg.SendTimeout + claimMargin).After(j.claimExpires) {
		// Too close to the claim deadline: another replica could take the
		// row over while we send. Put it back instead.
		emit(releaseOutcome(j.id, time.Now(), "", ""))
		return
	}
	select {
	case d.sem <- struct{}{}:
	case <-d.drainCh:
		emit(releaseOutcome(j.id, time.Now(), "", ""))
		return
	}
	sctx, cancel := context.WithTimeout(d.sendCtx, d.cfg.SendTimeout)
	d.inflight.Add(1)
	d.smu.Lock()
	d.observeQueue()
	d.smu.Unlock()
	pctx, pspan := d.tracer.Start(trace.ContextWithSpan(sctx, span), spanProviderSend,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("zapbase.provider", string(j.ptype))))
	res, err := j.provider.Send(pctx, providers.OutboundMessage{
		RowID: j.id, TenantID: j.tenantID, SessionID: j.sessionID, From: j.from, To: j.to,
		Type: j.msgType, Content: j.content, ProviderMessageID: j.messageID, Attempt: j.attempts,
	})
	cancel()
	if err != nil {
		pspan.RecordError(err)
		pspan.SetStatus(codes.Error, ErrorClass(err))
	} else if res.ProviderMessageID != "" {
		pspan.SetAttributes(attribute.String("zapbase.provider_message_id", res.ProviderMessageID))
	}
	pspan.End()
	d.inflight.Add(-1)
	<-d.sem
	if err != nil && !j.provider.Capabilities().CallerMessageIDs && isContextErr(err) && !classified(err) {
		// A provider without idempotency timed out mid-request.
		err = &providers.AmbiguousError{Err: err}
	}
	now = time.Now()
	dec := d.decide(j, res, err, now)
	d.observeOutcome(j, err, dec.out, now)
	if err != nil {
		d.log.Info("send failed", "tenant_id", j.tenantID, "message_row_id", j.id, "provider", string(j.ptype),
			"attempt", j.attempts, "next_status", string(dec.out.status), "error_code", deref(dec.out.errorCode), "error", err)
	}
	if dec.blockScope != "" {
		d.pacer.block(j, dec.blockScope, dec.blockUntil)
	}
	if !dec.deferUntil.IsZero() {
		d.hold(c.key, dec.deferUntil)
	}
	if dec.authLost != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(d.sendCtx), 10*time.Second)
		reason := dec.authLost.Reason
		if reason == "" {
			reason = deref(dec.out.errorReason)
		}
		if err := d.events.SessionState(sctx, j.sessionID, providers.SessionState{State: providers.StateAuthLost, Reason: reason}); err != nil {
			d.log.Warn("persist auth_lost session state", "tenant_id", j.tenantID, "session_id", j.sessionID, "error", err)
		}
		cancel()
	}
	emit(dec.out)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func classified(err error) bool { return err != nil && ErrorClass(err) != "unknown" }

// emit hands an outcome to the status writer.
func (d *Dispatcher) emit(o *outcome) { d.outcomes <- o }

// flushLoop writes outcomes in batches: it takes what accumulated while the
// previous write ran (group commit), so a busy dispatcher writes many rows
// per statement and an idle one writes at once.
func (d *Dispatcher) flushLoop() {
	defer close(d.flushDone)
	for {
		o, ok := <-d.outcomes
		if !ok {
			return
		}
		batch := []*outcome{o}
		closed := false
	drain:
		for len(batch) < d.cfg.FlushMax {
			select {
			case o, ok := <-d.outcomes:
				if !ok {
					closed = true
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		d.flush(batch)
		if closed {
			return
		}
	}
}

// flush writes a batch, retrying with capped backoff while the database is
// unreachable (up to half the claim TTL: after that the reconciler owns the
// rows). A batch that fails for another reason is written row by row so one
// bad row cannot block the others.
func (d *Dispatcher) flush(batch []*outcome) {
	deadline := time.Now().Add(d.cfg.ClaimTTL / 2)
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.flushCtx, 30*time.Second)
		err := d.writeOutcomes(ctx, batch)
		cancel()
		if err == nil {
			d.waiters.notify(batch)
			return
		}
		if isTxConflict(err) && time.Now().Before(deadline) {
			d.log.Info("status write hit a lock conflict, retrying", "rows", len(batch), "attempt", attempt, "error", err)
			continue
		}
		if !isConnErr(err) && len(batch) > 1 {
			d.log.Warn("batched status write failed, writing rows one by one", "rows", len(batch), "error", err)
			for _, o := range batch {
				d.flush([]*outcome{o})
			}
			return
		}
		if !isConnErr(err) || time.Now().After(deadline) || d.flushCtx.Err() != nil {
			d.log.Error("status write abandoned; rows will be recovered after their claim expires",
				"rows", len(batch), "attempts", attempt, "error", err)
			return
		}
		d.log.Warn("status write failed, retrying", "rows", len(batch), "attempt", attempt, "delay", delay.String(), "error", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-d.flushCtx.Done():
			t.Stop()
		}
		delay = min(2*delay, 5*time.Second)
	}
}
