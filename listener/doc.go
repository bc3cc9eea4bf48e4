// Package listener consumes PostgreSQL logical replication (pgoutput) for
// public.messages and wakes the dispatcher with the ids of inserted rows.
//
// The listener is the low-latency path of three (see ARCHITECTURE §1): the
// Supabase webhook and the periodic reconciliation scan cover what it
// misses. It only wakes: dispatch always claims rows from the table.
//
// # Slot and publication
//
// The listener uses a permanent logical slot (default "zapbase"; a name
// containing "realtime" is refused because Supabase Realtime drops such
// slots) and its own publication (default "zapbase_messages") on
// public.messages with publish = 'insert', so the sidecar never receives
// its own status UPDATEs. Both are created when missing; EnsurePublication
// is exported so `migrate`/`doctor` can create the publication through a
// pool. The replication connection must be direct (Supavisor does not carry
// replication) and its role needs the REPLICATION attribute.
//
// # The ack contract
//
// Changes arrive as transactions (Begin, Relation, Insert…, Commit). The
// unit of acknowledgement is a transaction's end LSN. A transaction's ids
// go to Handler.HandleInserts; several transactions that arrive together
// are grouped into one call (up to MaxBatch ids; the first id waits at
// most BatchWait, 2 ms, for company; while the handler is busy ids accumulate),
// and a transaction larger than MaxBatch is split over several calls.
//
//   - The listener reports to the server (standby status update, flush
//     position) only the safe LSN: every row of every transaction ending at
//     or before it was accepted by a HandleInserts call that returned nil.
//     A failed call is retried with backoff; nothing behind it is acked.
//   - When nothing is pending, in flight or half-received, the safe LSN
//     moves to the WAL end of the latest keepalive. Without this an idle
//     slot pins all WAL written to other tables.
//   - Status updates go out at least every StatusInterval (≤ 10 s, well
//     inside wal_sender_timeout), after each accepted batch, and at once
//     when the server sets ReplyRequested. Stop sends a last one.
//   - A reader goroutine keeps receiving while the handler runs, so a busy
//     dispatcher never starves keepalives. When MaxPending ids wait, reading
//     pauses (the server buffers) while status updates continue.
//
// PostgreSQL resends everything after the acknowledged position when a
// session restarts, so delivery is at-least-once: handlers must be
// idempotent (dispatch claims with WHERE status = 'pending').
//
// # States
//
//	stopped ──Start──▶ connecting ──slot acquired──▶ leader
//	                      ▲   │                        │
//	                      │   └──slot active (55006)──▶ standby ──retry──┐
//	                      └──────────error / backoff──────────────────────┘
//
// The slot is the leader lock of the change stream: only one process may
// stream it, so on several replicas one is leader and the others stand by,
// retrying every StandbyRetry (with jitter), and take over when the leader's
// walsender goes away.
//
// # Failure handling
//
//   - Connection lost, server restarted, protocol error: the session ends
//     and the listener reconnects with capped exponential backoff and
//     jitter (ReconnectMin..ReconnectMax), logging attempt and delay. The
//     server resumes from the slot's confirmed position.
//   - Slot missing (dropped, lost in an upgrade or restore) or invalidated
//     (wal_status = 'lost', after exceeding max_slot_wal_keep_size): it is
//     (dropped and) recreated, then OnResyncFunc runs before streaming, so
//     dispatch can scan the table for rows the stream will never carry.
//     OnResyncFunc also runs when the slot is created the first time.
//   - A slot of the same name that is not a pgoutput logical slot of this
//     database is never touched: the listener logs and retries.
//   - Start fails only when the server refuses the configuration (bad
//     credentials, missing REPLICATION attribute, wal_level not logical,
//     publication not creatable); an unreachable server is retried.
package listener
