package webhooks

import (
	"context"
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

func TestRunnerLifecycle(t *testing.T) {
	t.Parallel()
	var r runner
	r.stop() // before start: no-op
	started := make(chan struct{})
	require.NoError(t, r.start(context.Background(), func(ctx context.Context) {
		close(started)
		<-ctx.Done()
	}))
	require.Error(t, r.start(context.Background(), func(context.Context) {}), "started twice")
	<-started
	done := make(chan struct{})
	for range 3 {
		go func() { r.stop(); done <- struct{}{} }()
	}
	for range 3 {
		<-done // every Stop returns once the loop ended
	}
	r.stop()
}

// A cancelled caller context does not end the loop: Stop does.
func TestRunnerOutlivesStartContext(t *testing.T) {
	t.Parallel()
	var r runner
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	require.NoError(t, r.start(ctx, func(ctx context.Context) { <-ctx.Done(); close(ended) }))
	cancel()
	select {
	case <-ended:
		t.Fatal("the loop ended with the start context")
	default:
	}
	r.stop()
	<-ended
}
