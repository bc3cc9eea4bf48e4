package webhooks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFullJitterStaysUnderItsCeiling(t *testing.T) {
	t.Parallel()
	base, maxDelay := 10*time.Second, time.Hour
	for _, tc := range []struct {
		attempt int
		ceil    time.Duration
	}{
		{0, base}, {1, base}, {2, 2 * base}, {3, 4 * base}, {9, 256 * base}, {10, maxDelay}, {60, maxDelay}, {1000, maxDelay},
	} {
		for range 200 {
			d := fullJitter(tc.attempt, base, maxDelay)
			require.GreaterOrEqual(t, d, time.Duration(0), "attempt %d", tc.attempt)
			require.LessOrEqual(t, d, tc.ceil, "attempt %d", tc.attempt)
		}
	}
	// The spread is real (full jitter, not a fixed step).
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[fullJitter(5, base, maxDelay)] = true
	}
	require.Greater(t, len(seen), 1)
}
