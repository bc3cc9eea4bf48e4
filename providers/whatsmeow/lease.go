package whatsmeow

// File size: the lease protocol (acquire, renew, shed, watchdog,
// notifications) and its safety argument read together; the SQL of each
// step is in store/leases.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/zapbase/zapbase/backoff"
	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/store"
)

// Lease defaults. A crashed replica's sessions are taken over at most
// DefaultLeaseTTL + DefaultLeaseTick after its last renewal (20 s), inside
// the 30 s the design promises.
const (
	DefaultLeaseTTL  = 15 * time.Second
	DefaultLeaseTick = 5 * time.Second
)

// LeaseStore is what a LeaseManager keeps in the database:
// wa.session_leases, wa.lease_holders and the holder's notification
// channel. store.LeaseQuery implements it (the LISTEN connection is the
// store's, out of its pool).
type LeaseStore interface {
	Heartbeat(ctx context.Context, holder string, ttl time.Duration) error
	UnregisterHolder(ctx context.Context, holder string) error
	Acquire(ctx context.Context, sessionID, holder string, ttl time.Duration) (term int64, ok bool, err error)
	AcquireFree(ctx context.Context, holder string, ttl time.Duration, limit int) ([]store.LeaseGrant, error)
	Renew(ctx context.Context, holder string, sessionIDs []string, ttl time.Duration) ([]string, error)
	Release(ctx context.Context, sessionID, holder string) error
	ReleaseHolder(ctx context.Context, holder string) error
	Counts(ctx context.Context, held []string) (store.LeaseCounts, error)
	Listen(ctx context.Context, channel string, fn func(payload string)) error
}

var _ LeaseStore = store.LeaseQuery{}

// LeaseConfig configures a LeaseManager.
type LeaseConfig struct {
	// Store keeps the leases (store.New(pool).Leases() in production).
	Store LeaseStore
	// Holder names this replica (unique per process).
	Holder string
	// TTL is how long a lease lives without renewal (default 15 s).
	TTL time.Duration
	// Tick is the renew/acquire period (default TTL/3).
	Tick time.Duration
	// SafetyMargin: the holder stops driving a lease this long before it
	// could expire in the database (default TTL/5).
	SafetyMargin time.Duration
	// Logger (component lease).
	Logger *slog.Logger

	// OnAcquireFunc starts driving a session. It must return promptly.
	OnAcquireFunc func(sessionID string, term int64)
	// OnReleaseFunc stops driving a session; when it returns the device is
	// disconnected. Called before the lease is given up in the database.
	OnReleaseFunc func(sessionID string)
	// OnNotifyFunc receives payloads sent with wa.notify_session_owner to
	// this holder (see Notify* helpers).
	OnNotifyFunc func(payload string)
	// OnHeldFunc, when set, is told how many leases this replica holds: 0 at
	// Start, then after every acquisition, release or loss (so 0 again after
	// Stop). It is called in order, under the manager's lock: it must return
	// promptly and not call back into the manager (a gauge update).
	OnHeldFunc func(n int)
}

// LeaseManager keeps wa.session_leases for one replica: it registers the
// replica as a live holder, acquires its fair share of the paired baileys
// sessions, renews them well before they expire, sheds extras when other
// replicas join, and stops driving any lease it could not renew before that
// lease can pass to another replica.
//
// Safety argument: a renewal that starts at local instant t sets the database
// expiry to the database's now() (≥ t in real time) + TTL. The holder's local
// deadline is t + TTL − SafetyMargin, measured on its own monotonic clock, so
// it always stops driving before the database lets another holder acquire
// the lease, whatever the offset between the two clocks.
type LeaseManager struct {
	startstop.BaseStartStop

	cfg LeaseConfig
	log *slog.Logger

	mu sync.Mutex
	// held maps session id → local deadline.
	held map[string]*heldLease
	// pinned sessions were acquired explicitly (pairing) and are not shed.
	pinned map[string]bool
	// abandoning: the run ending now leaves the database as a crash would
	// (tests).
	abandoning bool
}

type heldLease struct {
	term     int64
	deadline time.Time
}

// NewLeaseManager validates cfg and returns a manager (not started).
func NewLeaseManager(cfg LeaseConfig) (*LeaseManager, error) {
	if cfg.Store == nil {
		return nil, errors.New("lease manager: store is required")
	}
	if cfg.Holder == "" {
		return nil, errors.New("lease manager: holder is required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultLeaseTTL
	}
	if cfg.Tick <= 0 {
		cfg.Tick = cfg.TTL / 3
	}
	if cfg.SafetyMargin <= 0 {
		cfg.SafetyMargin = cfg.TTL / 5
	}
	if cfg.Tick+cfg.SafetyMargin >= cfg.TTL {
		return nil, fmt.Errorf("lease manager: tick %s + safety margin %s must be below ttl %s", cfg.Tick, cfg.SafetyMargin, cfg.TTL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &LeaseManager{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "lease", "holder", cfg.Holder),
		held:   map[string]*heldLease{},
		pinned: map[string]bool{},
	}, nil
}

// Holder returns this replica's holder name.
func (m *LeaseManager) Holder() string { return m.cfg.Holder }

// Channel is the pg_notify channel this holder listens on.
func (m *LeaseManager) Channel() string { return LeaseChannel(m.cfg.Holder) }

// Owns reports whether this replica currently drives sessionID. Dispatch
// uses it (or the SQL condition OwnedSessionCondition) so baileys rows are
// only sent by the owner.
func (m *LeaseManager) Owns(sessionID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[sessionID]
	return ok && time.Now().Before(h.deadline)
}

// Held lists the sessions this replica drives.
func (m *LeaseManager) Held() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.held))
	for id := range m.held {
		out = append(out, id)
	}
	return out
}

// Start registers the holder, runs a first acquisition round and starts the
// background loops (renew/acquire, deadline watchdog, notifications).
// Cancelling ctx stops the manager as Stop does; Start on a running manager
// is a no-op.
func (m *LeaseManager) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := m.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	m.mu.Lock()
	m.abandoning = false
	m.reportHeldLocked()
	m.mu.Unlock()
	if err := m.heartbeat(ctx); err != nil {
		interrupted := startstop.Interrupted(ctx)
		stopped()
		if interrupted {
			return nil // a concurrent Stop cut Start short
		}
		return fmt.Errorf("register lease holder: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); m.loop(ctx) }()
	go func() { defer wg.Done(); m.watchdog(ctx) }()
	go func() { defer wg.Done(); m.listen(ctx) }()
	go func() {
		started()
		defer stopped()
		wg.Wait()
		m.release()
	}()
	return nil
}

// Stop stops driving every session, releases the leases (so other replicas
// take them over at once) and unregisters the holder. Idempotent.
func (m *LeaseManager) Stop() { m.BaseStartStop.Stop() }

// release ends a run: devices stop, and unless abandoning, the leases are
// given up and the holder unregistered.
func (m *LeaseManager) release() {
	m.mu.Lock()
	abandoning := m.abandoning
	m.mu.Unlock()
	if abandoning {
		for _, id := range m.Held() {
			m.dropLocal(id)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range m.Held() {
		m.dropLocal(id)
	}
	// Every lease of this holder, not only the ones it knew: an acquisition
	// cut short by Stop may have committed its row without recording it.
	if err := m.cfg.Store.ReleaseHolder(ctx, m.cfg.Holder); err != nil {
		m.log.Warn("release leases", "error", err)
	}
	if err := m.cfg.Store.UnregisterHolder(ctx, m.cfg.Holder); err != nil {
		m.log.Warn("unregister holder", "error", err)
	}
}

// abandon stops the loops and the devices without touching the database,
// as a crashed process would (tests).
func (m *LeaseManager) abandon() {
	m.mu.Lock()
	m.abandoning = true
	m.mu.Unlock()
	m.Stop()
}

// Acquire takes the lease of sessionID now if it is free or expired (or
// already ours) and pins it: pinned leases are not shed to balance load.
// It reports whether this replica holds the lease afterwards.
func (m *LeaseManager) Acquire(ctx context.Context, sessionID string) (bool, error) {
	if m.Owns(sessionID) {
		m.mu.Lock()
		m.pinned[sessionID] = true
		m.mu.Unlock()
		return true, nil
	}
	start := time.Now()
	term, ok, err := m.cfg.Store.Acquire(ctx, sessionID, m.cfg.Holder, m.cfg.TTL)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, nil
	}
	m.mu.Lock()
	m.pinned[sessionID] = true
	m.mu.Unlock()
	m.gained(sessionID, term, start)
	return true, nil
}

// Unpin lets a session take part in load balancing again (after pairing).
func (m *LeaseManager) Unpin(sessionID string) {
	m.mu.Lock()
	delete(m.pinned, sessionID)
	m.mu.Unlock()
}

// Release stops driving sessionID and gives its lease up.
func (m *LeaseManager) Release(ctx context.Context, sessionID string) error {
	m.dropLocal(sessionID)
	return m.cfg.Store.Release(ctx, sessionID, m.cfg.Holder)
}

func (m *LeaseManager) gained(sessionID string, term int64, start time.Time) {
	m.mu.Lock()
	_, already := m.held[sessionID]
	m.held[sessionID] = &heldLease{term: term, deadline: start.Add(m.cfg.TTL - m.cfg.SafetyMargin)}
	if !already {
		m.reportHeldLocked()
	}
	m.mu.Unlock()
	if already {
		return
	}
	m.log.Info("lease acquired", "session_id", sessionID, "term", term)
	if m.cfg.OnAcquireFunc != nil {
		m.cfg.OnAcquireFunc(sessionID, term)
	}
}

// dropLocal stops driving sessionID (OnRelease) and forgets it locally.
func (m *LeaseManager) dropLocal(sessionID string) {
	m.mu.Lock()
	_, ok := m.held[sessionID]
	delete(m.held, sessionID)
	delete(m.pinned, sessionID)
	if ok {
		m.reportHeldLocked()
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	m.log.Info("lease released", "session_id", sessionID)
	if m.cfg.OnReleaseFunc != nil {
		m.cfg.OnReleaseFunc(sessionID)
	}
}

// reportHeldLocked tells OnHeldFunc the number of leases held. m.mu must be
// held, so successive reports arrive in the order of the changes.
func (m *LeaseManager) reportHeldLocked() {
	if m.cfg.OnHeldFunc != nil {
		m.cfg.OnHeldFunc(len(m.held))
	}
}

func (m *LeaseManager) loop(ctx context.Context) {
	m.tick(ctx)
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.tick(ctx)
		}
	}
}

// tick renews, then acquires or sheds toward the fair share. Every database
// call is bounded by the tick so a slow database cannot stall the loop past
// the deadlines (the watchdog stops the devices anyway).
func (m *LeaseManager) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Tick)
	defer cancel()
	if err := m.heartbeat(ctx); err != nil {
		m.log.Warn("lease heartbeat failed", "error", err)
		return
	}
	if err := m.renew(ctx); err != nil {
		m.log.Warn("lease renewal failed", "error", err)
		return
	}
	if err := m.balance(ctx); err != nil {
		m.log.Warn("lease balancing failed", "error", err)
	}
}

func (m *LeaseManager) heartbeat(ctx context.Context) error {
	return m.cfg.Store.Heartbeat(ctx, m.cfg.Holder, m.cfg.TTL)
}

func (m *LeaseManager) renew(ctx context.Context) error {
	ids := m.Held()
	if len(ids) == 0 {
		return nil
	}
	start := time.Now()
	renewed, err := m.cfg.Store.Renew(ctx, m.cfg.Holder, ids, m.cfg.TTL)
	if err != nil {
		return err
	}
	ok := make(map[string]bool, len(renewed))
	m.mu.Lock()
	for _, id := range renewed {
		ok[id] = true
		if h := m.held[id]; h != nil {
			h.deadline = start.Add(m.cfg.TTL - m.cfg.SafetyMargin)
		}
	}
	m.mu.Unlock()
	for _, id := range ids {
		if !ok[id] {
			m.log.Warn("lease lost", "session_id", id)
			m.dropLocal(id)
		}
	}
	return nil
}

func (m *LeaseManager) balance(ctx context.Context) error {
	// held counts only the leases of candidate sessions, as total does: a
	// session being paired (pinned, no device yet) is not one, and counting
	// it made a lone replica shed a linked device while another number was
	// pairing, leaving that device undriven until the pairing ended.
	counts, err := m.cfg.Store.Counts(ctx, m.Held())
	if err != nil {
		return err
	}
	total, live, held := counts.Candidates, counts.LiveHolders, counts.Held
	if live < 1 {
		live = 1
	}
	share := int(math.Ceil(float64(total) / float64(live)))
	m.mu.Lock()
	var sheddable string
	for id := range m.held {
		if !m.pinned[id] {
			sheddable = id
			break
		}
	}
	m.mu.Unlock()

	switch {
	case held < share:
		start := time.Now()
		gots, err := m.cfg.Store.AcquireFree(ctx, m.cfg.Holder, m.cfg.TTL, share-held)
		if err != nil {
			return err
		}
		for _, g := range gots {
			m.gained(g.SessionID, g.Term, start)
		}
	case held > share && sheddable != "":
		// Shed one per tick so a joining replica ramps up smoothly.
		m.log.Info("shedding lease for balance", "session_id", sheddable, "held", held, "share", share)
		if err := m.Release(ctx, sheddable); err != nil {
			return err
		}
	}
	return nil
}

// watchdog stops driving any lease whose local deadline passed: the holder
// could not renew in time, so the lease may soon pass to another replica.
func (m *LeaseManager) watchdog(ctx context.Context) {
	period := m.cfg.SafetyMargin / 4
	if period <= 0 {
		period = 10 * time.Millisecond
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var expired []string
			m.mu.Lock()
			for id, h := range m.held {
				if !now.Before(h.deadline) {
					expired = append(expired, id)
				}
			}
			m.mu.Unlock()
			for _, id := range expired {
				m.log.Warn("lease not renewed in time, stopping the device", "session_id", id)
				m.dropLocal(id)
			}
		}
	}
}

// listen LISTENs on this holder's channel and hands payloads to
// OnNotifyFunc, reconnecting with backoff when the connection drops.
func (m *LeaseManager) listen(ctx context.Context) {
	if m.cfg.OnNotifyFunc == nil {
		return
	}
	b := backoff.Policy{Base: 200 * time.Millisecond, Max: 10 * time.Second}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := m.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		d := b.Delay(attempt + 1)
		m.log.Warn("lease notification listener stopped, retrying", "error", err, "attempt", attempt, "delay", d)
		if !backoff.Sleep(ctx, d) {
			return
		}
	}
}

func (m *LeaseManager) listenOnce(ctx context.Context) error {
	return m.cfg.Store.Listen(ctx, m.Channel(), m.cfg.OnNotifyFunc)
}

// LeaseChannel is the pg_notify channel of holder (same as SQL
// wa.lease_channel(holder)).
func LeaseChannel(holder string) string { return "zapbase_wa_" + md5Hex(holder) }

// OwnedSessionCondition is the SQL condition dispatch adds to its claim so a
// replica only claims baileys rows of sessions it drives ($n: holder).
//
//	AND (m.provider <> 'baileys' OR wa.session_owned_by(m.session_id, $n))
const OwnedSessionCondition = `wa.session_owned_by(m.session_id, $%d)`
