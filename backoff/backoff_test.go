package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/backoff"
)

func TestCeilingDoublesUpToMax(t *testing.T) {
	p := backoff.Policy{Base: time.Second, Max: 30 * time.Second}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		require.Equal(t, w, p.Ceiling(i), "attempt %d", i)
	}
	require.Equal(t, 30*time.Second, p.Ceiling(1000), "no overflow")
	require.Zero(t, backoff.Policy{}.Ceiling(3))
}

func TestDelayIsFullJitter(t *testing.T) {
	p := backoff.Policy{Base: time.Second, Max: 30 * time.Second}
	var below, above bool
	for range 2000 {
		d := p.Delay(6) // ceiling 30s
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, 30*time.Second)
		below = below || d < 15*time.Second
		above = above || d >= 15*time.Second
	}
	require.True(t, below && above, "delays spread over the whole range [0, ceiling]")
	require.Zero(t, backoff.FullJitter(0))
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.False(t, backoff.Sleep(ctx, time.Hour))
	require.True(t, backoff.Sleep(context.Background(), 0))
}
