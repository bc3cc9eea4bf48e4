// Package retention prunes zapbase's internal tables that would otherwise
// grow forever: Idempotency-Key answers (wa.idempotency_keys), processed
// webhook deliveries (wa.webhook_inbox), the audit log (wa.audit_log, kept
// by default) and lease holders of replicas that died without unregistering
// (wa.lease_holders).
//
// # Invariants
//
//   - One replica at a time: a run first takes a session-level advisory lock
//     (pg_try_advisory_lock(LockKey)) on a dedicated connection; a replica
//     that does not get it skips the run. The lock dies with the connection,
//     so a crashed janitor never blocks the others.
//   - No long locks: rows are deleted in bounded batches (BatchSize rows per
//     statement, each statement its own short transaction, FOR UPDATE SKIP
//     LOCKED so rows another transaction holds are left for the next run),
//     with a short pause between batches, until nothing old is left.
//   - Unprocessed webhook deliveries are never deleted, whatever their age:
//     only rows with processed_at set and older than the retention go.
//   - A retention of 0 keeps the table forever (the audit log's default).
//
// Rows are selected with the database clock (now() - retention), so replica
// clocks do not matter.
package retention
