package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Rate limiting: GCRA over wa.rate_limits. A tenant may burst its whole
// window's allowance, then one request every window/limit.

const takeRateSQL = `
INSERT INTO wa.rate_limits AS r (tenant_id, tat)
VALUES ($1, now() + make_interval(secs => $2))
ON CONFLICT (tenant_id) DO UPDATE
   SET tat = greatest(r.tat, now()) + make_interval(secs => $2)
 WHERE greatest(r.tat, now()) + make_interval(secs => $2) - now() <= make_interval(secs => $3)
RETURNING true`

// Take takes one request of the tenant's allowance (interval: seconds per
// request; window: the burst, in seconds). It answers an error wrapping
// pgx.ErrNoRows when the tenant is over its limit.
//
// Every request of a tenant updates the same row, so the row lock is held
// until the commit: waiting for the WAL flush there serialised all of a
// tenant's requests behind one fsync each (~15 ms per request at
// saturation, measured by tests/bench). The limiter's state needs no
// durability — after a database crash a tenant at worst gets part of a
// minute's allowance again — so this transaction commits asynchronously
// (set_config(…, true): for it alone, one round trip).
func (q RateLimitQuery) Take(ctx context.Context, tenantID string, interval, window float64) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(takeRateSQL, tenantID, interval, window)
	br := q.db.SendBatch(ctx, b)
	var ok bool
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&ok)
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: take rate limit: %w", err)
	}
	return nil
}

const retryAfterSQL = `SELECT extract(epoch FROM (tat + make_interval(secs => $2) - make_interval(secs => $3)) - now())::float8
  FROM wa.rate_limits WHERE tenant_id = $1`

// RetryAfter answers in how many seconds the tenant may send again (same
// interval and window as Take).
func (q RateLimitQuery) RetryAfter(ctx context.Context, tenantID string, interval, window float64) (float64, error) {
	var wait float64
	if err := q.db.QueryRow(ctx, retryAfterSQL, tenantID, interval, window).Scan(&wait); err != nil {
		return 0, fmt.Errorf("store: read rate limit: %w", err)
	}
	return wait, nil
}
