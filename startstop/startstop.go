// Package startstop is the one lifecycle of zapbase's long-running
// components, in the spirit of river's rivershared/startstop.
//
// A component embeds BaseStartStop and writes its Start as:
//
//	func (c *Component) Start(ctx context.Context) error {
//		ctx, shouldStart, started, stopped := c.StartInit(ctx)
//		if !shouldStart {
//			return nil // already running: a second Start is a no-op
//		}
//		if err := c.preflight(ctx); err != nil {
//			interrupted := startstop.Interrupted(ctx)
//			stopped()
//			if interrupted {
//				return nil // a concurrent Stop cut Start short
//			}
//			return err // fail fast: the component is stopped again
//		}
//		go func() {
//			started()
//			defer stopped()
//			c.run(ctx) // returns once ctx is done
//		}()
//		return nil
//	}
//
// The rules every component then shares:
//   - Start fails fast (bad configuration, unreadable database) and
//     otherwise returns at once with the work running in the background.
//   - Start on a running component is a no-op returning nil, and so is a
//     Start cut short by a concurrent Stop.
//   - Cancelling the context given to Start stops the component as Stop
//     does (callers that order the shutdown themselves, like cmd/zapbase,
//     start components with context.WithoutCancel).
//   - Stop is idempotent, safe from any goroutine and concurrently with
//     Start, and returns only once the component's goroutines are done.
//   - A stopped component may be started again.
//   - Started and Stopped are signals for tests and supervisors.
package startstop

import (
	"context"
	"errors"
	"sync"
)

// Service is a long-running component with the shared lifecycle.
type Service interface {
	// Start fails fast, then backgrounds the service; a no-op while running.
	Start(ctx context.Context) error
	// Started is closed once the service is up (for the current run).
	Started() <-chan struct{}
	// Stop stops the service and waits for it. Idempotent.
	Stop()
	// Stopped is closed once the service has fully stopped (current run).
	Stopped() <-chan struct{}
}

// ErrStop is the cancellation cause of a service context ended by Stop.
var ErrStop = errors.New("service stopped")

// Interrupted reports whether ctx, a service context from StartInit, was
// ended by Stop (check before calling stopped, which ends it too).
func Interrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrStop)
}

// BaseStartStop implements the lifecycle bookkeeping of Service. The zero
// value is ready; embed it and call StartInit from Start.
type BaseStartStop struct {
	mu      sync.Mutex
	running bool
	cancel  context.CancelCauseFunc
	started chan struct{}
	stopped chan struct{}
	// finished: started and stopped belong to a run that has ended; the
	// next StartInit makes fresh ones.
	finished bool
}

// StartInit begins a run. When the service is already running, shouldStart
// is false and the caller returns nil. Otherwise ctx is the service's
// context (cancelled by Stop or with the parent), started closes Started
// (call it once the service is up; optional when stopped is called first)
// and stopped must be called exactly once, when every goroutine of the run
// has returned (or at once, when Start fails).
func (s *BaseStartStop) StartInit(ctx context.Context) (_ context.Context, shouldStart bool, started, stopped func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return ctx, false, func() {}, func() {}
	}
	s.running = true
	if s.started == nil || s.finished {
		s.started = make(chan struct{})
	}
	if s.stopped == nil || s.finished {
		s.stopped = make(chan struct{})
	}
	s.finished = false
	startedCh, stoppedCh := s.started, s.stopped
	once := &sync.Once{}
	ctx, cancel := context.WithCancelCause(ctx)
	s.cancel = cancel
	started = func() { once.Do(func() { close(startedCh) }) }
	stopped = func() {
		cancel(ErrStop)
		started() // Started never stays open past Stopped
		s.mu.Lock()
		s.running = false
		s.cancel = nil
		s.finished = true
		s.mu.Unlock()
		close(stoppedCh)
	}
	return ctx, true, started, stopped
}

// StartFunc is the usual Start written once: preflight runs with the
// service's context and fails fast (the service is stopped again; a
// failure caused by a concurrent Stop returns nil), then run goes to the
// background and the run ends when run returns — run returns once ctx is
// done. A second Start while running is a no-op.
func (s *BaseStartStop) StartFunc(ctx context.Context, preflight func(ctx context.Context) error, run func(ctx context.Context)) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if preflight != nil {
		if err := preflight(ctx); err != nil {
			interrupted := Interrupted(ctx)
			stopped()
			if interrupted {
				return nil
			}
			return err
		}
	}
	go func() {
		started()
		defer stopped()
		run(ctx)
	}()
	return nil
}

// Stop cancels the running service's context and waits until the run has
// called stopped. A no-op when the service is not running.
func (s *BaseStartStop) Stop() {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.cancel(ErrStop)
	ch := s.stopped
	s.mu.Unlock()
	<-ch
}

// Started is closed once the current run is up (or the last one was);
// before the first Start, it closes when that run is up.
func (s *BaseStartStop) Started() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started == nil {
		s.started = make(chan struct{})
	}
	return s.started
}

// Stopped is closed once the current run has fully stopped (or the last
// one did); before the first Start, it closes when that run stops.
func (s *BaseStartStop) Stopped() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped == nil {
		s.stopped = make(chan struct{})
	}
	return s.stopped
}

// Running reports whether a run is in progress (started and not yet fully
// stopped).
func (s *BaseStartStop) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}
