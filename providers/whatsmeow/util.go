package whatsmeow

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff with full jitter.
type backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Delay is the wait before retry number attempt (0-based).
func (b backoff) Delay(attempt int) time.Duration {
	d := b.Base
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if d <= 0 {
		return 0
	}
	// Jitter in [d/2, d): keeps replicas from reconnecting in lockstep.
	return d/2 + rand.N(d/2+1)
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
