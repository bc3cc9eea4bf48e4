package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ReasonManualDisconnect is the state_reason of a WhatsApp Web session
// disconnected on purpose: it is not reconnected on start (see
// leaseCandidateSQL).
const ReasonManualDisconnect = "Desconectada manualmente"

// LeaseQuery runs the statements of wa.session_leases and wa.lease_holders
// (the WhatsApp Web session leases) and the owner notifications.
type LeaseQuery struct {
	db   DB
	pool *pgxpool.Pool // for LISTEN connections; nil when bound to a transaction
}

// Leases returns the lease queries.
func (s *Store) Leases() LeaseQuery { return LeaseQuery{db: s.db, pool: s.pool} }

// LeaseGrant is a lease a holder obtained: the session and its term.
type LeaseGrant struct {
	SessionID string
	Term      int64
}

// ReleaseHolder gives up every lease of holder.
func (q LeaseQuery) ReleaseHolder(ctx context.Context, holder string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM wa.session_leases WHERE holder = $1`, holder); err != nil {
		return fmt.Errorf("store: release leases of %s: %w", holder, err)
	}
	return nil
}

// UnregisterHolder removes holder from the live holders.
func (q LeaseQuery) UnregisterHolder(ctx context.Context, holder string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM wa.lease_holders WHERE holder = $1`, holder); err != nil {
		return fmt.Errorf("store: unregister lease holder %s: %w", holder, err)
	}
	return nil
}

const acquireLeaseSQL = `
INSERT INTO wa.session_leases (session_id, holder, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
ON CONFLICT (session_id) DO UPDATE
   SET holder = excluded.holder, term = wa.session_leases.term + 1,
       acquired_at = now(), expires_at = excluded.expires_at
 WHERE wa.session_leases.expires_at <= now() OR wa.session_leases.holder = excluded.holder
RETURNING term`

// Acquire takes the lease of sessionID for holder if it is free, expired
// or already holder's, and returns its term; ok is false when another
// holder has it.
func (q LeaseQuery) Acquire(ctx context.Context, sessionID, holder string, ttl time.Duration) (term int64, ok bool, err error) {
	err = q.db.QueryRow(ctx, acquireLeaseSQL, sessionID, holder, ttl.Seconds()).Scan(&term)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: acquire lease %s: %w", sessionID, err)
	}
	return term, true, nil
}

// Release gives up holder's lease of sessionID.
func (q LeaseQuery) Release(ctx context.Context, sessionID, holder string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM wa.session_leases WHERE session_id = $1 AND holder = $2`, sessionID, holder); err != nil {
		return fmt.Errorf("store: release lease %s: %w", sessionID, err)
	}
	return nil
}

const heartbeatSQL = `
INSERT INTO wa.lease_holders (holder, expires_at) VALUES ($1, now() + make_interval(secs => $2))
ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at`

// Heartbeat registers holder as live for ttl.
func (q LeaseQuery) Heartbeat(ctx context.Context, holder string, ttl time.Duration) error {
	if _, err := q.db.Exec(ctx, heartbeatSQL, holder, ttl.Seconds()); err != nil {
		return fmt.Errorf("store: lease heartbeat: %w", err)
	}
	return nil
}

const renewLeasesSQL = `
UPDATE wa.session_leases SET expires_at = now() + make_interval(secs => $3)
 WHERE holder = $1 AND session_id = ANY($2::uuid[]) AND expires_at > now()
RETURNING session_id::text`

// Renew extends holder's unexpired leases of sessionIDs by ttl and returns
// the sessions renewed.
func (q LeaseQuery) Renew(ctx context.Context, holder string, sessionIDs []string, ttl time.Duration) ([]string, error) {
	rows, err := q.db.Query(ctx, renewLeasesSQL, holder, sessionIDs, ttl.Seconds())
	if err != nil {
		return nil, fmt.Errorf("store: renew leases: %w", err)
	}
	renewed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: renew leases: %w", err)
	}
	return renewed, nil
}

// leaseCandidateSQL selects the sessions a replica should drive: paired
// baileys sessions not logged out or manually disconnected.
const leaseCandidateSQL = `
SELECT s.id FROM public.whatsapp_sessions s
 WHERE s.provider_type = ` + sqlBaileys + ` AND s.is_active AND s.device_jid IS NOT NULL
   AND s.state <> ` + sqlStateLoggedOut + `
   AND NOT (s.state = ` + sqlStateDisconnected + ` AND coalesce(s.state_reason, '') = '` + ReasonManualDisconnect + `')`

// LeaseCounts is what balancing needs: the candidate sessions, the live
// holders, and how many candidates the asking holder drives.
type LeaseCounts struct {
	Candidates, LiveHolders, Held int
}

const leaseCountsSQL = `
SELECT (SELECT count(*) FROM (` + leaseCandidateSQL + `) c),
       (SELECT count(*) FROM wa.lease_holders WHERE expires_at > now()),
       (SELECT count(*) FROM (` + leaseCandidateSQL + `) c WHERE c.id = ANY($1::uuid[]))`

// Counts reads the lease counts; held lists the sessions the holder drives.
func (q LeaseQuery) Counts(ctx context.Context, held []string) (LeaseCounts, error) {
	var c LeaseCounts
	if err := q.db.QueryRow(ctx, leaseCountsSQL, held).Scan(&c.Candidates, &c.LiveHolders, &c.Held); err != nil {
		return c, fmt.Errorf("store: count leases: %w", err)
	}
	return c, nil
}

const acquireFreeLeasesSQL = `
WITH cand AS (
  SELECT c.id FROM (` + leaseCandidateSQL + `) c
   WHERE NOT EXISTS (SELECT 1 FROM wa.session_leases l WHERE l.session_id = c.id AND l.expires_at > now())
   ORDER BY random() LIMIT $3
)
INSERT INTO wa.session_leases (session_id, holder, expires_at)
SELECT id, $1, now() + make_interval(secs => $2) FROM cand
ON CONFLICT (session_id) DO UPDATE
   SET holder = excluded.holder, term = wa.session_leases.term + 1,
       acquired_at = now(), expires_at = excluded.expires_at
 WHERE wa.session_leases.expires_at <= now()
RETURNING session_id::text, term`

// AcquireFree takes up to limit free or expired leases of candidate
// sessions (at random) for holder.
func (q LeaseQuery) AcquireFree(ctx context.Context, holder string, ttl time.Duration, limit int) ([]LeaseGrant, error) {
	rows, err := q.db.Query(ctx, acquireFreeLeasesSQL, holder, ttl.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: acquire free leases: %w", err)
	}
	gots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LeaseGrant, error) {
		var g LeaseGrant
		err := r.Scan(&g.SessionID, &g.Term)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: acquire free leases: %w", err)
	}
	return gots, nil
}

// NotifyOwner sends payload to the holder of sessionID's lease
// (wa.notify_session_owner); false when no live holder has it.
func (q LeaseQuery) NotifyOwner(ctx context.Context, sessionID, payload string) (bool, error) {
	var ok bool
	if err := q.db.QueryRow(ctx, `SELECT wa.notify_session_owner($1, $2)`, sessionID, payload).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: notify session owner: %w", err)
	}
	return ok, nil
}

// Listen LISTENs on channel on a dedicated connection (taken out of the
// pool for good) and hands every payload to fn until ctx ends or the
// connection fails; it always returns an error.
func (q LeaseQuery) Listen(ctx context.Context, channel string, fn func(payload string)) error {
	if q.pool == nil {
		return errors.New("store: listen needs a pool")
	}
	conn, err := q.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A LISTENing connection must not go back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
