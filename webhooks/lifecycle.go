package webhooks

import (
	"context"
	"errors"
	"sync"
)

// runner is the Start/Stop shape every long-running component of zapbase
// shares (river's startstop): start fails fast, then backgrounds the loop;
// stop is idempotent and waits for it. It is written to be replaced by the
// shared lifecycle kit without changing the components' API.
type runner struct {
	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// start runs loop in the background with a context that Stop cancels (not
// the caller's: the component's life is governed by Stop).
func (r *runner) start(ctx context.Context, loop func(ctx context.Context)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("already started")
	}
	r.started = true
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		loop(runCtx)
	}()
	return nil
}

// stop cancels the loop and waits for it; idempotent (every call waits),
// a no-op before start.
func (r *runner) stop() {
	r.mu.Lock()
	if !r.started {
		r.mu.Unlock()
		return
	}
	first := !r.stopped
	r.stopped = true
	r.mu.Unlock()
	if first {
		r.cancel()
	}
	<-r.done
}
