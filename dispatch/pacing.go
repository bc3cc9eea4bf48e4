package dispatch

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/zapbase/zapbase/providers"
)

// pacer spaces sends per tenant and per number (session) with token
// buckets, and holds scopes the channel told us to back off from
// (RateLimitedError, auth lost, session unavailable): a whole number, one
// number→recipient pair, or a tenant.
type pacer struct {
	mu      sync.Mutex
	tenants map[string]*bucket
	numbers map[string]*bucket
	pairs   map[string]time.Time
}

type bucket struct {
	lim          *rate.Limiter // nil: unlimited
	perSecond    float64
	blockedUntil time.Time
}

func newPacer() *pacer {
	return &pacer{tenants: map[string]*bucket{}, numbers: map[string]*bucket{}, pairs: map[string]time.Time{}}
}

func (p *pacer) bucketLocked(m map[string]*bucket, key string, perSecond float64) *bucket {
	b, ok := m[key]
	if !ok {
		b = &bucket{}
		m[key] = b
	}
	if b.perSecond != perSecond || (b.lim == nil && perSecond > 0) {
		b.perSecond = perSecond
		if perSecond <= 0 {
			b.lim = nil
		} else {
			burst := int(math.Max(1, math.Ceil(perSecond)))
			if b.lim == nil {
				b.lim = rate.NewLimiter(rate.Limit(perSecond), burst)
			} else {
				b.lim.SetLimit(rate.Limit(perSecond))
				b.lim.SetBurst(burst)
			}
		}
	}
	return b
}

// reserve books a send of j at now. It answers how long to wait before
// sending, or (blocked) a time before which j must not be sent at all.
// Waits longer than maxWait are not booked: the caller defers the message.
func (p *pacer) reserve(j *job, now time.Time, maxWait time.Duration) (wait time.Duration, blocked time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tb := p.bucketLocked(p.tenants, j.tenantID, j.tenantRate)
	nb := p.bucketLocked(p.numbers, j.sessionID, j.numberRate)
	pairKey := j.sessionID + "|" + j.to
	for _, t := range []time.Time{tb.blockedUntil, nb.blockedUntil, p.pairs[pairKey]} {
		if t.After(now) && t.After(blocked) {
			blocked = t
		}
	}
	if !blocked.IsZero() {
		return 0, blocked
	}
	if until, ok := p.pairs[pairKey]; ok && !until.After(now) {
		delete(p.pairs, pairKey)
	}
	var rs []*rate.Reservation
	for _, b := range []*bucket{tb, nb} {
		if b.lim == nil {
			continue
		}
		r := b.lim.ReserveN(now, 1)
		if !r.OK() {
			continue
		}
		rs = append(rs, r)
		if d := r.DelayFrom(now); d > wait {
			wait = d
		}
	}
	if wait > maxWait {
		for _, r := range rs {
			r.CancelAt(now)
		}
		return 0, now.Add(wait)
	}
	return wait, time.Time{}
}

// block holds a scope until a time.
func (p *pacer) block(j *job, scope providers.RateLimitScope, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch scope {
	case providers.ScopeRecipient:
		if len(p.pairs) > 10000 {
			now := time.Now()
			for k, t := range p.pairs {
				if !t.After(now) {
					delete(p.pairs, k)
				}
			}
		}
		p.pairs[j.sessionID+"|"+j.to] = until
	case providers.ScopeTenant:
		b := p.bucketLocked(p.tenants, j.tenantID, j.tenantRate)
		if until.After(b.blockedUntil) {
			b.blockedUntil = until
		}
	default:
		b := p.bucketLocked(p.numbers, j.sessionID, j.numberRate)
		if until.After(b.blockedUntil) {
			b.blockedUntil = until
		}
	}
}
