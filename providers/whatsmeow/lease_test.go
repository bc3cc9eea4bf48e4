package whatsmeow

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/zapbase/zapbase/store"

	"github.com/stretchr/testify/require"
)

type leaseEvent struct {
	At      time.Time
	Holder  string
	Session string
	Acquire bool
}

type leaseLog struct {
	mu     sync.Mutex
	events []leaseEvent
	signal chan struct{}
}

func (l *leaseLog) add(e leaseEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// owners replays the log: who drives each session now.
func (l *leaseLog) owners() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for _, e := range l.events {
		if e.Acquire {
			out[e.Session] = e.Holder
		} else if out[e.Session] == e.Holder {
			delete(out, e.Session)
		}
	}
	return out
}

// assertExclusive checks from the log that no session was ever driven by
// two holders at once.
func (l *leaseLog) assertExclusive(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	events := append([]leaseEvent(nil), l.events...)
	l.mu.Unlock()
	sort.SliceStable(events, func(i, j int) bool { return events[i].At.Before(events[j].At) })
	driving := map[string]string{}
	for _, e := range events {
		cur, busy := driving[e.Session]
		if e.Acquire {
			require.False(t, busy, "session %s acquired by %s at %s while %s drove it", e.Session, e.Holder, e.At, cur)
			driving[e.Session] = e.Holder
		} else {
			require.Equal(t, e.Holder, cur, "release by a non-holder")
			delete(driving, e.Session)
		}
	}
}

func (l *leaseLog) waitUntil(t *testing.T, what string, cond func(map[string]string) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !cond(l.owners()) {
		select {
		case <-l.signal:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; owners: %v", what, l.owners())
		}
	}
}

func TestLeasesSpreadAndMoveOnCrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const sessions = 9
	ids := map[string]bool{}
	for i := 0; i < sessions; i++ {
		ids[f.addSession(t, fmt.Sprintf("55119999900%02d", i), fmt.Sprintf("55119999900%02d@s.whatsapp.net", i))] = true
	}
	log := &leaseLog{signal: make(chan struct{}, 1)}
	newManager := func(name string) *LeaseManager {
		m, err := NewLeaseManager(LeaseConfig{
			Store: store.New(f.pool).Leases(), Holder: name, TTL: 2 * time.Second, Tick: 300 * time.Millisecond, SafetyMargin: 400 * time.Millisecond,
			OnAcquireFunc: func(id string, _ int64) {
				log.add(leaseEvent{At: time.Now(), Holder: name, Session: id, Acquire: true})
			},
			OnReleaseFunc: func(id string) { log.add(leaseEvent{At: time.Now(), Holder: name, Session: id}) },
		})
		require.NoError(t, err)
		require.NoError(t, m.Start(context.Background()))
		return m
	}
	a, b, c := newManager("replica-a"), newManager("replica-b"), newManager("replica-c")
	defer b.Stop()
	defer c.Stop()

	// Every session owned by exactly one replica, spread evenly (3 each).
	log.waitUntil(t, "balanced ownership", func(o map[string]string) bool {
		per := map[string]int{}
		for _, h := range o {
			per[h]++
		}
		return len(o) == sessions && per["replica-a"] == 3 && per["replica-b"] == 3 && per["replica-c"] == 3
	})
	for id, h := range log.owners() {
		require.True(t, ids[id])
		var dbHolder string
		require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT holder FROM wa.session_leases WHERE session_id = $1`, id).Scan(&dbHolder))
		require.Equal(t, h, dbHolder)
	}
	lost := a.Held()
	require.Len(t, lost, 3)
	var owned bool
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT wa.session_owned_by($1, 'replica-a')`, lost[0]).Scan(&owned))
	require.True(t, owned)

	// Replica a dies without releasing: the others take its sessions over
	// once the leases expire, well within 30 s.
	crashed := time.Now()
	a.abandon()
	log.waitUntil(t, "takeover", func(o map[string]string) bool {
		if len(o) != sessions {
			return false
		}
		for _, h := range o {
			if h == "replica-a" {
				return false
			}
		}
		return true
	})
	require.Less(t, time.Since(crashed), 30*time.Second)
	log.assertExclusive(t)
}

func TestLeaseHolderThatCannotRenewStopsFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.addSession(t, "5511999990001", "5511999990001@s.whatsapp.net")
	released := make(chan time.Time, 1)
	m, err := NewLeaseManager(LeaseConfig{
		Store: store.New(f.pool).Leases(), Holder: "slow", TTL: 2 * time.Second, Tick: 300 * time.Millisecond, SafetyMargin: 400 * time.Millisecond,
		OnReleaseFunc: func(string) { released <- time.Now() },
	})
	require.NoError(t, err)
	acquired, err := m.Acquire(context.Background(), id)
	require.NoError(t, err)
	require.True(t, acquired)
	require.True(t, m.Owns(id))
	// Start the watchdog only (no renewals), as when the database is
	// unreachable: the holder must stop before the database expiry.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.watchdog(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	stoppedAt := <-released
	var expires time.Time
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT expires_at FROM wa.session_leases WHERE session_id = $1`, id).Scan(&expires))
	require.True(t, stoppedAt.Before(expires), "stopped at %s, lease expires %s", stoppedAt, expires)
	require.False(t, m.Owns(id))

	// Another holder cannot take it before the expiry, and can after.
	other, err := NewLeaseManager(LeaseConfig{Store: store.New(f.pool).Leases(), Holder: "other", TTL: 2 * time.Second, Tick: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ok, err := other.Acquire(context.Background(), id)
		require.NoError(t, err)
		if ok {
			var dbNow time.Time
			require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT now()`).Scan(&dbNow))
			require.False(t, dbNow.Before(expires))
		}
		return ok
	}, 60*time.Second, 50*time.Millisecond, "the other holder acquires after the expiry")
	require.NoError(t, other.Release(context.Background(), id))
}

// heldReports records what OnHeldFunc / OnLocalSessionsFunc report.
type heldReports struct {
	mu     sync.Mutex
	values []int
	signal chan struct{}
}

func newHeldReports() *heldReports { return &heldReports{signal: make(chan struct{}, 1)} }

func (h *heldReports) report(n int) {
	h.mu.Lock()
	h.values = append(h.values, n)
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

func (h *heldReports) snapshot() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.values...)
}

func (h *heldReports) last() (int, bool) {
	v := h.snapshot()
	if len(v) == 0 {
		return 0, false
	}
	return v[len(v)-1], true
}

// waitLast waits until the latest report is n.
func (h *heldReports) waitLast(t *testing.T, what string, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if v, ok := h.last(); ok && v == n {
			return
		}
		select {
		case <-h.signal:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s: reports %v", what, h.snapshot())
		}
	}
}

// assertSteps checks that the reports start at 0 and move one lease at a
// time: each one follows a single acquisition or release.
func (h *heldReports) assertSteps(t *testing.T) {
	t.Helper()
	v := h.snapshot()
	require.NotEmpty(t, v)
	require.Equal(t, 0, v[0], "first report is the start (0 leases)")
	for i := 1; i < len(v); i++ {
		d := v[i] - v[i-1]
		require.True(t, d == 1 || d == -1, "report %d jumps from %d to %d: %v", i, v[i-1], v[i], v)
	}
}

func TestLeaseCountFollowsAcquireTakeoverRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const sessions = 4
	for i := 0; i < sessions; i++ {
		f.addSession(t, fmt.Sprintf("55119888800%02d", i), fmt.Sprintf("55119888800%02d@s.whatsapp.net", i))
	}
	newManager := func(name string, h *heldReports) *LeaseManager {
		m, err := NewLeaseManager(LeaseConfig{
			Store: store.New(f.pool).Leases(), Holder: name, TTL: 2 * time.Second, Tick: 300 * time.Millisecond, SafetyMargin: 400 * time.Millisecond,
			OnHeldFunc: h.report,
		})
		require.NoError(t, err)
		require.NoError(t, m.Start(context.Background()))
		return m
	}

	// Alone, replica a acquires every session.
	ra := newHeldReports()
	a := newManager("count-a", ra)
	ra.waitLast(t, "a holds every session", sessions)
	require.Len(t, a.Held(), sessions)

	// Replica b joins: a sheds down to its share, b acquires the rest.
	rb := newHeldReports()
	b := newManager("count-b", rb)
	defer b.Stop()
	ra.waitLast(t, "a sheds to its share", sessions/2)
	rb.waitLast(t, "b acquires its share", sessions/2)
	require.Len(t, a.Held(), sessions/2)
	require.Len(t, b.Held(), sessions/2)

	// a crashes: it stops driving (reports 0) and b takes everything over
	// once the leases expire.
	a.abandon()
	last, _ := ra.last()
	require.Equal(t, 0, last, "a crashed replica drives nothing")
	rb.waitLast(t, "b takes a's sessions over", sessions)
	require.Len(t, b.Held(), sessions)

	// b stops: every lease is released and the count ends at 0.
	b.Stop()
	last, _ = rb.last()
	require.Equal(t, 0, last)
	ra.assertSteps(t)
	rb.assertSteps(t)
	var leases int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.session_leases`).Scan(&leases))
	require.Zero(t, leases)
}

func TestProviderReportsLocalSessions(t *testing.T) {
	t.Parallel()
	reports := newHeldReports()
	f, p, _, _, id := connectedSession(t, func(c *Config) { c.OnLocalSessionsFunc = reports.report })
	reports.waitLast(t, "the paired session is driven here", 1)
	require.True(t, p.Owns(id))

	// A manual disconnect gives the lease up: the replica drives nothing.
	require.NoError(t, p.Disconnect(context.Background(), id, false))
	reports.waitLast(t, "released after disconnect", 0)
	require.False(t, p.Owns(id))
	p.Stop()
	last, _ := reports.last()
	require.Equal(t, 0, last)
	reports.assertSteps(t)
	var leases int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.session_leases`).Scan(&leases))
	require.Zero(t, leases)
}

// TestLeaseBalanceIgnoresPairingSessions: a lone replica that drives a
// linked device and is pairing another number keeps driving the device (the
// pairing session is no candidate and must not count against the share).
func TestLeaseBalanceIgnoresPairingSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	linked := f.addSession(t, "5511977770001", "5511977770001:3@s.whatsapp.net")
	pairing := f.addSession(t, "5511977770002", "")
	h := newHeldReports()
	// Ticks far apart: the test runs the balancing round itself.
	m, err := NewLeaseManager(LeaseConfig{Store: store.New(f.pool).Leases(), Holder: "pairing-a", TTL: 2 * time.Hour, Tick: time.Hour, OnHeldFunc: h.report})
	require.NoError(t, err)
	require.NoError(t, m.Start(context.Background()))
	defer m.Stop()
	h.waitLast(t, "the linked device is driven", 1)
	ok, err := m.Acquire(context.Background(), pairing)
	require.NoError(t, err)
	require.True(t, ok)
	m.tick(context.Background())
	require.ElementsMatch(t, []string{linked, pairing}, m.Held(), "the linked device is not shed while another number pairs")
}
