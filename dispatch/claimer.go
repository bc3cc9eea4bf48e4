// The claimer: how rows enter the dispatcher (change-stream wake-ups,
// explicit wakes, the reconciliation scan). The claim statements themselves
// are in claim.go, routing in route.go.

package dispatch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

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
