package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"
)

// target is one system under test: how a producer enqueues a message, how to
// wait until everything enqueued is durably done, and when each message
// reached the provider.
type target interface {
	Name() string
	// Enqueue inserts message i (or a batch starting at i) as producer p
	// would and returns the keys (row or job ids) of what it enqueued. t0
	// is taken by the driver just before the call.
	Enqueue(ctx context.Context, p, i int) (keys []string, err error)
	// Done waits until every key is durably completed (sent) and returns
	// the completion time of the last one.
	Done(ctx context.Context, keys []string) (time.Time, error)
	// Calls returns when the provider was called for each key (first call).
	Calls(ctx context.Context) (map[string]time.Time, error)
	// PID is the system's own process (0 when it runs inside the
	// benchmark process, as River and raw do).
	PID() int
	Close()
}

// sample is one enqueued message.
type sample struct {
	key string
	t0  time.Time
}

// phaseResult is what one load phase measured.
type phaseResult struct {
	n         int
	start     time.Time
	end       time.Time // last message durably completed
	offered   float64   // achieved enqueue rate (msg/s)
	latencies []time.Duration
	missing   int // enqueued but no provider call seen
	slow      int // provider call more than slowCall after the insert
	cpu       cpuUsage
}

// cpuPer1k is CPU-seconds per 1,000 messages of the phase.
func (r phaseResult) cpuPer1k() float64 {
	if r.n == 0 {
		return 0
	}
	return r.cpu.total().Seconds() * 1000 / float64(r.n)
}

// slowCall flags outliers worth a look (e.g. rows left to a periodic scan).
const slowCall = 500 * time.Millisecond

func (r phaseResult) throughput() float64 {
	return float64(r.n) / r.end.Sub(r.start).Seconds()
}

// runPhase drives producers for d: flat out when rate is 0 (saturation),
// otherwise paced to rate messages/s in total (open loop: each producer
// follows its schedule; a late producer does not wait, it catches up).
func runPhase(ctx context.Context, tg target, meter *cpuMeter, producers int, rate float64, d time.Duration) (phaseResult, error) {
	var (
		mu      sync.Mutex
		all     []sample
		firstEr error
		wg      sync.WaitGroup
	)
	cpu0 := meter.sample(tg.PID())
	start := time.Now()
	stop := start.Add(d)
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(producers) / rate * float64(time.Second))
	}
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]sample, 0, 4096)
			// Stagger paced producers so the offered load is smooth.
			next := start
			if interval > 0 {
				next = start.Add(interval * time.Duration(p) / time.Duration(producers))
			}
			for i := 0; ; i++ {
				if interval > 0 {
					if w := time.Until(next); w > 0 {
						time.Sleep(w)
					}
				}
				t0 := time.Now()
				if !t0.Before(stop) {
					break
				}
				keys, err := tg.Enqueue(ctx, p, i)
				if err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = fmt.Errorf("%s enqueue: %w", tg.Name(), err)
					}
					mu.Unlock()
					return
				}
				for _, key := range keys {
					local = append(local, sample{key: key, t0: t0})
				}
				i += len(keys) - 1
				// A batch of k messages uses k slots of the schedule, so the
				// offered load stays in messages per second.
				next = next.Add(interval * time.Duration(max(1, len(keys))))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	produced := time.Since(start)
	if firstEr != nil {
		return phaseResult{}, firstEr
	}
	keys := make([]string, len(all))
	for i, s := range all {
		keys[i] = s.key
	}
	end, err := tg.Done(ctx, keys)
	if err != nil {
		return phaseResult{}, err
	}
	cpu := meter.sample(tg.PID()).sub(cpu0)
	calls, err := tg.Calls(ctx)
	if err != nil {
		return phaseResult{}, err
	}
	r := phaseResult{n: len(all), start: start, end: end, offered: float64(len(all)) / produced.Seconds(), cpu: cpu}
	log.Printf("%s: %d messages enqueued in %s (%.0f msg/s); last one done %s after the first insert",
		tg.Name(), r.n, produced.Round(time.Millisecond), r.offered, end.Sub(start).Round(time.Millisecond))
	for _, s := range all {
		t1, ok := calls[s.key]
		if !ok {
			r.missing++
			continue
		}
		r.latencies = append(r.latencies, t1.Sub(s.t0))
		if t1.Sub(s.t0) > slowCall {
			r.slow++
		}
	}
	if r.slow > 0 || r.missing > 0 {
		log.Printf("%s: %d messages reached the provider more than %s after their insert, %d never did", tg.Name(), r.slow, slowCall, r.missing)
		// When in the phase were the slow ones inserted (seconds since the
		// phase started → count, worst latency)?
		type bucket struct {
			n     int
			worst time.Duration
		}
		buckets := map[int]*bucket{}
		for _, s := range all {
			t1, ok := calls[s.key]
			if !ok || t1.Sub(s.t0) <= slowCall {
				continue
			}
			k := int(s.t0.Sub(start) / (500 * time.Millisecond))
			b := buckets[k]
			if b == nil {
				b = &bucket{}
				buckets[k] = b
			}
			b.n++
			b.worst = max(b.worst, t1.Sub(s.t0))
		}
		var parts []string
		for k := 0; k <= int(d/(500*time.Millisecond))+1; k++ {
			if b := buckets[k]; b != nil {
				parts = append(parts, fmt.Sprintf("%.1fs:%d(max %s)", float64(k)/2, b.n, b.worst.Round(time.Millisecond)))
			}
		}
		log.Printf("%s: slow messages by insert time: %s", tg.Name(), strings.Join(parts, " "))
	}
	return r, nil
}
