// Package backoff is the one retry delay of zapbase's loops (reconnects,
// verifications, webhook reprocessing): capped exponential growth with
// full jitter, and a sleep that ends with its context (river's
// serviceutil.ExponentialBackoff).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is a capped exponential backoff: the ceiling of retry number
// attempt (1-based) is Base·2^(attempt−1), at most Max.
type Policy struct {
	Base time.Duration
	Max  time.Duration
}

// Ceiling is the un-jittered delay of retry attempt (1-based; lower
// attempts count as 1). It is the delay to use where jitter buys nothing
// (one worker retrying a stored row).
func (p Policy) Ceiling(attempt int) time.Duration {
	if p.Base <= 0 {
		return 0
	}
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	return d
}

// Delay is the wait before retry attempt (1-based) with full jitter: a
// uniformly random duration in [0, Ceiling(attempt)], so that many
// replicas retrying after the same failure spread out instead of
// reconnecting in lockstep.
func (p Policy) Delay(attempt int) time.Duration { return FullJitter(p.Ceiling(attempt)) }

// FullJitter is a uniformly random duration in [0, d].
func FullJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// Sleep waits d or until ctx is done; it reports whether d elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
