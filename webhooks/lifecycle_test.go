package webhooks_test

import (
	"context"
	"testing"

	"github.com/zapbase/zapbase/startstop/startstoptest"
)

// The fan-out and the deliverer follow the shared lifecycle: concurrent
// Start and Stop from many goroutines, restarts included, under -race.
func TestFanoutAndDelivererStartStopStress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	startstoptest.Stress(context.Background(), t, f.fanout())
	startstoptest.Stress(context.Background(), t, f.deliverer(nil))
}
