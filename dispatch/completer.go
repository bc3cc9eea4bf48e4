// The completer: outcomes of sends (and of rows that could not be sent)
// written in batches, one UPDATE per batch.

package dispatch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

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
		var (
			window <-chan time.Time
			timer  *time.Timer
		)
		if d.cfg.FlushWait > 0 {
			timer = time.NewTimer(d.cfg.FlushWait)
			window = timer.C
		}
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
				// Nothing ready: wait for company until the window ends
				// (none configured: write now).
				if window == nil {
					break drain
				}
				select {
				case o, ok := <-d.outcomes:
					if !ok {
						closed = true
						break drain
					}
					batch = append(batch, o)
				case <-window:
					break drain
				}
			}
		}
		if timer != nil {
			timer.Stop()
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

// flushSQL ends many claims in one statement. Rows no longer claimed by us
// (a receipt overtook the send, or another replica recovered the claim) are
// left alone. Rows are locked in id order first, as receipts do, so the two
// never deadlock whatever join order the planner picks; a deadlock that
// still happens (another writer's order) is retried by flush. The times of
// the states reached are written here, so the status guard has nothing to
// stamp.
const flushSQL = `
WITH v AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::text[],
                       $9::timestamptz[], $10::bool[], $12::timestamptz[], $13::text[])
         AS v(id, status, message_id, provider, session_id, from_number, error_code, error_reason, next_attempt_at, refund, sent_at, sent_to)
), locked AS (
  SELECT m.id FROM public.messages m JOIN v ON v.id = m.id
   WHERE m.status = 'sending' AND m.claimed_by = $11
   ORDER BY m.id FOR UPDATE OF m
)
UPDATE public.messages m
   SET status = v.status,
       message_id = coalesce(v.message_id, m.message_id),
       provider = coalesce(v.provider, m.provider),
       session_id = coalesce(v.session_id, m.session_id),
       from_number = coalesce(m.from_number, v.from_number),
       error_code = v.error_code,
       error_reason = v.error_reason,
       next_attempt_at = coalesce(v.next_attempt_at, m.next_attempt_at),
       attempts = m.attempts - CASE WHEN v.refund THEN 1 ELSE 0 END,
       sent_at = CASE WHEN v.status = 'sent' THEN coalesce(m.sent_at, v.sent_at, now()) ELSE m.sent_at END,
       failed_at = CASE WHEN v.status = 'failed' THEN coalesce(m.failed_at, now()) ELSE m.failed_at END,
       metadata = CASE WHEN v.sent_to IS NULL THEN m.metadata
                       ELSE m.metadata || jsonb_build_object('sentTo', v.sent_to) END,
       claimed_by = NULL, claim_expires_at = NULL
  FROM v JOIN locked USING (id)
 WHERE m.id = v.id AND m.status = 'sending' AND m.claimed_by = $11`

func (d *Dispatcher) writeOutcomes(ctx context.Context, batch []*outcome) error {
	os := slices.Clone(batch)
	slices.SortFunc(os, func(a, b *outcome) int { return strings.Compare(a.id, b.id) })
	n := len(os)
	var (
		ids, statuses                            = make([]string, n), make([]string, n)
		mids, provs, sess, froms, codes, reasons = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		nexts, sentAts                           = make([]*time.Time, n), make([]*time.Time, n)
		sentTos                                  = make([]*string, n)
		refunds                                  = make([]bool, n)
	)
	for i, o := range os {
		ids[i], statuses[i] = o.id, string(o.status)
		mids[i], provs[i], sess[i], froms[i] = o.messageID, o.provider, o.sessionID, o.from
		codes[i], reasons[i], nexts[i], refunds[i] = o.errorCode, o.errorReason, o.nextAttemptAt, o.refund
		sentAts[i], sentTos[i] = o.sentAt, o.sentTo
	}
	_, err := d.pool.Exec(ctx, flushSQL, pgx.QueryExecModeCacheDescribe, ids, statuses, mids, provs, sess, froms, codes, reasons, nexts, refunds, d.cfg.Owner, sentAts, sentTos)
	if err != nil {
		return fmt.Errorf("write %d message outcomes: %w", n, err)
	}
	return nil
}
