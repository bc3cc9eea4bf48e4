package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// StatsQuery runs the read-only aggregates the metrics scrape reads:
// cluster-wide counts over sessions, messages and the webhook inbox, and
// the replication slot's state. Every replica reads the same values.
type StatsQuery struct{ db DB }

// Stats returns the metrics scrape's queries.
func (s *Store) Stats() StatsQuery { return StatsQuery{s.db} }

// SessionCount is the number of active sessions of one tenant, provider
// and state.
type SessionCount struct {
	TenantID, Provider, State string
	N                         int64
}

const sessionCountsSQL = `
SELECT tenant_id::text, provider_type, state, count(*)
FROM public.whatsapp_sessions WHERE is_active
GROUP BY 1, 2, 3`

// SessionCounts counts active sessions by tenant, provider and state.
func (q StatsQuery) SessionCounts(ctx context.Context) ([]SessionCount, error) {
	rows, err := q.db.Query(ctx, sessionCountsSQL)
	if err != nil {
		return nil, fmt.Errorf("store: count sessions: %w", err)
	}
	var out []SessionCount
	var c SessionCount
	if _, err := pgx.ForEachRow(rows, []any{&c.TenantID, &c.Provider, &c.State, &c.N}, func() error {
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: count sessions: %w", err)
	}
	return out, nil
}

// TenantClientID maps a tenant id to its client_id.
type TenantClientID struct {
	ID, ClientID string
}

const tenantClientIDsSQL = `SELECT id::text, client_id FROM public.tenants ORDER BY created_at`

// TenantClientIDs lists every tenant's id and client_id, oldest first.
func (q StatsQuery) TenantClientIDs(ctx context.Context) ([]TenantClientID, error) {
	rows, err := q.db.Query(ctx, tenantClientIDsSQL)
	if err != nil {
		return nil, fmt.Errorf("store: list tenant client ids: %w", err)
	}
	var out []TenantClientID
	var t TenantClientID
	if _, err := pgx.ForEachRow(rows, []any{&t.ID, &t.ClientID}, func() error {
		out = append(out, t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: list tenant client ids: %w", err)
	}
	return out, nil
}

// OutstandingCount is the number of one tenant's messages in one
// outstanding status (pending outbound, or sending).
type OutstandingCount struct {
	TenantID, Status string
	N                int64
}

// outstandingMessagesSQL has two branches so each matches its partial
// index (messages_pending_idx, messages_sending_idx).
const outstandingMessagesSQL = `
SELECT tenant_id::text, ` + sqlPending + `, count(*) FROM public.messages
  WHERE status = ` + sqlPending + ` AND direction = ` + sqlOutbound + ` GROUP BY 1
UNION ALL
SELECT tenant_id::text, ` + sqlSending + `, count(*) FROM public.messages
  WHERE status = ` + sqlSending + ` GROUP BY 1`

// OutstandingMessages counts pending outbound and sending messages by
// tenant.
func (q StatsQuery) OutstandingMessages(ctx context.Context) ([]OutstandingCount, error) {
	rows, err := q.db.Query(ctx, outstandingMessagesSQL)
	if err != nil {
		return nil, fmt.Errorf("store: count outstanding messages: %w", err)
	}
	var out []OutstandingCount
	var c OutstandingCount
	if _, err := pgx.ForEachRow(rows, []any{&c.TenantID, &c.Status, &c.N}, func() error {
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: count outstanding messages: %w", err)
	}
	return out, nil
}

// MessageBacklog is how far behind the send queue is.
type MessageBacklog struct {
	// OldestPendingSeconds is the age of the oldest due pending outbound
	// message (0 when none is due).
	OldestPendingSeconds float64
	// ExpiredClaims counts sending messages whose claim expired.
	ExpiredClaims int64
}

const messageBacklogSQL = `
SELECT
  coalesce((SELECT extract(epoch FROM now() - min(created_at))::float8 FROM public.messages
            WHERE status = ` + sqlPending + ` AND direction = ` + sqlOutbound + ` AND next_attempt_at <= now()), 0),
  (SELECT count(*) FROM public.messages WHERE status = ` + sqlSending + ` AND claim_expires_at < now())`

// MessageBacklog reads the send queue's oldest due row and expired claims.
func (q StatsQuery) MessageBacklog(ctx context.Context) (MessageBacklog, error) {
	var b MessageBacklog
	rows, err := q.db.Query(ctx, messageBacklogSQL)
	if err != nil {
		return b, fmt.Errorf("store: read message backlog: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&b.OldestPendingSeconds, &b.ExpiredClaims}, func() error { return nil }); err != nil {
		return b, fmt.Errorf("store: read message backlog: %w", err)
	}
	return b, nil
}

// InboxBacklog is the unprocessed inbound webhook deliveries of one source.
type InboxBacklog struct {
	Source        string
	N             int64
	OldestSeconds float64
}

const inboxBacklogSQL = `
SELECT source, count(*), extract(epoch FROM now() - min(received_at))::float8
FROM wa.webhook_inbox WHERE processed_at IS NULL GROUP BY source`

// InboxBacklog counts unprocessed wa.webhook_inbox rows by source, with
// the oldest one's age.
func (q StatsQuery) InboxBacklog(ctx context.Context) ([]InboxBacklog, error) {
	rows, err := q.db.Query(ctx, inboxBacklogSQL)
	if err != nil {
		return nil, fmt.Errorf("store: read webhook inbox backlog: %w", err)
	}
	var out []InboxBacklog
	var b InboxBacklog
	if _, err := pgx.ForEachRow(rows, []any{&b.Source, &b.N, &b.OldestSeconds}, func() error {
		out = append(out, b)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: read webhook inbox backlog: %w", err)
	}
	return out, nil
}

// ReplicationSlotStats is a replication slot's state (pg_replication_slots).
type ReplicationSlotStats struct {
	Found     bool // false: no such slot (the other fields are zero)
	Active    bool
	WALStatus *string
	// LagBytes: WAL not yet confirmed by the consumer; RetainedBytes: WAL
	// the slot keeps; SafeWALBytes: what may still be written before the
	// slot is lost (nil without max_slot_wal_keep_size).
	LagBytes, RetainedBytes, SafeWALBytes *float64
}

const replicationSlotSQL = `
SELECT s.active, s.wal_status,
       pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::float8,
       pg_wal_lsn_diff(w.lsn, s.restart_lsn)::float8,
       s.safe_wal_size::float8
FROM pg_replication_slots s,
     LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                          ELSE pg_current_wal_lsn() END AS lsn) w
WHERE s.slot_name = $1`

// ReplicationSlot reads the state of the slot named name.
func (q StatsQuery) ReplicationSlot(ctx context.Context, name string) (ReplicationSlotStats, error) {
	var s ReplicationSlotStats
	rows, err := q.db.Query(ctx, replicationSlotSQL, name)
	if err != nil {
		return s, fmt.Errorf("store: read replication slot: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&s.Active, &s.WALStatus, &s.LagBytes, &s.RetainedBytes, &s.SafeWALBytes}, func() error {
		s.Found = true
		return nil
	}); err != nil {
		return ReplicationSlotStats{}, fmt.Errorf("store: read replication slot: %w", err)
	}
	return s, nil
}
