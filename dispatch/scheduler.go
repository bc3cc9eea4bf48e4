// The scheduler: per-chat queues in insertion order, holds after a message
// was put back, pacing, and the provider call.

package dispatch

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase/providers"
)

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
		pspan.SetStatus(codes.Error, string(providers.ClassOf(err)))
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

func classified(err error) bool { return providers.Classified(err) }
