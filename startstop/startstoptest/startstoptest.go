// Package startstoptest stresses a startstop.Service (river's
// startstoptest.Stress): many goroutines start and stop it at once, so the
// race detector sees every interleaving of Start, Stop and the service's
// own goroutines.
package startstoptest

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/zapbase/zapbase/startstop"
)

// Stress starts and stops svc from 8 goroutines, 20 times each, then
// checks it ends stopped. Start must not fail.
func Stress(ctx context.Context, tb testing.TB, svc startstop.Service) {
	tb.Helper()
	StressErr(ctx, tb, svc, nil)
}

// StressErr is Stress for a service whose Start may fail with an error
// allowed reports as expected (e.g. a context cancelled by a concurrent
// Stop while Start was still checking the database).
func StressErr(ctx context.Context, tb testing.TB, svc startstop.Service, allowed func(error) bool) {
	tb.Helper()
	const goroutines, rounds = 8, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := svc.Start(ctx); err != nil && (allowed == nil || !allowed(err)) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				runtime.Gosched()
				svc.Stop()
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		tb.Errorf("start during stress: %v", err)
	}
	svc.Stop()
	select {
	case <-svc.Stopped():
	default:
		tb.Errorf("service not stopped after the last Stop")
	}
}
