package startstop_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/startstop/startstoptest"
)

// loop is the smallest service: one goroutine waiting for its context.
type loop struct {
	startstop.BaseStartStop
	failStart error
	runs      int
}

func (l *loop) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := l.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if l.failStart != nil {
		stopped()
		return l.failStart
	}
	l.runs++ // guarded by the lifecycle: one run at a time
	go func() {
		started()
		defer stopped()
		<-ctx.Done()
	}()
	return nil
}

func TestStartStop(t *testing.T) {
	l := &loop{}
	ctx := context.Background()
	require.NoError(t, l.Start(ctx))
	<-l.Started()
	require.True(t, l.Running())
	require.NoError(t, l.Start(ctx), "a second Start is a no-op")
	l.Stop()
	<-l.Stopped()
	require.False(t, l.Running())
	l.Stop() // idempotent
	require.Equal(t, 1, l.runs)

	// Restartable, with fresh signals.
	require.NoError(t, l.Start(ctx))
	<-l.Started()
	select {
	case <-l.Stopped():
		t.Fatal("Stopped closed while the second run is up")
	default:
	}
	l.Stop()
	require.Equal(t, 2, l.runs)
}

func TestCancelStops(t *testing.T) {
	l := &loop{}
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, l.Start(ctx))
	cancel()
	<-l.Stopped()
	require.False(t, l.Running())
}

func TestStartFailure(t *testing.T) {
	boom := errors.New("boom")
	l := &loop{failStart: boom}
	require.ErrorIs(t, l.Start(context.Background()), boom)
	require.False(t, l.Running())
	<-l.Stopped()
	<-l.Started()
	l.Stop()
}

func TestStopBeforeStart(t *testing.T) {
	l := &loop{}
	l.Stop()
	require.False(t, l.Running())
}

func TestStress(t *testing.T) {
	startstoptest.Stress(context.Background(), t, &loop{})
}

// StartFunc: a failing preflight leaves the service stopped and says why;
// a passing one backgrounds run until Stop.
func TestStartFunc(t *testing.T) {
	var s startstop.BaseStartStop
	boom := errors.New("boom")
	require.ErrorIs(t, s.StartFunc(context.Background(), func(context.Context) error { return boom }, func(context.Context) {}), boom)
	require.False(t, s.Running())
	ran := make(chan struct{})
	require.NoError(t, s.StartFunc(context.Background(), nil, func(ctx context.Context) { close(ran); <-ctx.Done() }))
	<-ran
	require.True(t, s.Running())
	require.NoError(t, s.StartFunc(context.Background(), nil, func(context.Context) { t.Error("second run") }), "a no-op while running")
	s.Stop()
	require.False(t, s.Running())
}
