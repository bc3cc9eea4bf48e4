// Package dispatch turns outbound message rows into provider sends and
// provider events back into rows.
//
// Postgres is the queue. A client inserts a row in public.messages with
// status pending; the listener (logical replication), the Supabase webhook
// and the periodic reconciler only *wake* the dispatcher, which always
// claims from the table. Every step is a row update, so any process may
// crash at any point and the rows say what is left to do.
//
// # States
//
//	pending ──claim──▶ sending ──provider accepted──▶ sent ─▶ delivered ─▶ read ─▶ played
//	   ▲                  │                             │
//	   └──retry/defer─────┤                             └──▶ failed (asynchronous, e.g. Meta 131047)
//	                      └──permanent/ambiguous/exhausted──▶ failed
//
// The rules live in SQL (migration 000002, wa.status_transition_allowed,
// enforced by a trigger) and in zapbase.CanTransition; a test walks every
// pair against both. Receipts (Events.Receipt) only move rows forward: late,
// duplicated or out-of-order receipts match nothing. read may skip
// delivered; failed may follow sent but not delivered/read; failed is final.
//
// # Claims
//
// Wake(ids) claims the given rows that are outbound, pending and due, and
// returns once the claim committed: the listener acknowledges the LSN after
// Wake returns. Rows not claimable (inbound, already claimed, not due,
// leased elsewhere) are simply handled. The reconciler (every
// ReconcileInterval ±10%, and on demand with Resync after the listener lost
// its slot) claims both due pending rows and rows stuck in sending past
// claim_expires_at (a crashed owner), locking them with FOR UPDATE SKIP
// LOCKED, so several replicas scan concurrently without claiming a row twice.
//
// A claim is a read and one UPDATE (claim.go): the read returns the
// candidates with what routing needs (and, once per tenant, its settings and
// sessions with their leases); routing runs once, in Go (route.go); the
// UPDATE sets status sending, claimed_by (Config.Owner), claim_expires_at
// (now + ClaimTTL) and attempts+1, and stores the decision: provider,
// session_id, from_number and — for providers that accept caller ids
// (providers.IDGenerator) — a provider message id generated before the
// statement. So the id is durable before any send, and a resend after a
// crash reuses it (WhatsApp deduplicates by id). A message is never sent
// with a claim closer to expiry than SendTimeout + 5 s; it is put back
// instead.
//
// Providers with stable ids (providers.StableIDGenerator: WhatsApp Web, the
// sandbox) derive the id from the row, so a claim whose rows all have one
// commits asynchronously (synchronous_commit off for that transaction: no
// WAL flush wait between the insert and the send). If the database crashes
// before such a claim reaches disk, the row is pending again and its next
// claim sends the same id, which the channel deduplicates — the same
// outcome as a process crash mid-send. Claims with a row for a provider
// without caller ids (Meta) stay synchronous.
//
// The change stream can announce a transaction a moment before it is
// visible to other sessions (the inserting backend flushes its commit record,
// which wakes the walsender, before it leaves the proc array). HandleInserts
// therefore claims again, at once, rows that became visible after its
// claim's snapshot, and retries rows not visible yet for a short while
// (retryInvisible, metric source listener_retry), instead of leaving them to
// the next scan.
//
// Every status write checks status = 'sending' AND claimed_by = owner, so a
// late outcome from an owner that lost its claim (or a row a receipt already
// moved forward) changes nothing. Multi-row writes lock rows in id order
// (claims, status writes, receipts), so concurrent writers wait instead of
// deadlocking.
//
// Recovered claims (expired) of providers WITHOUT caller ids (Meta) are not
// resent: the previous owner may have sent them, and Meta has no idempotency
// key. They end failed with code ambiguous_send and a pt-BR reason. Rows that
// were never routed (provider still auto) are sent normally.
//
// # Routing
//
// session_id set: that session (active, matching an explicit provider).
// Provider concrete: the tenant's active sessions of that provider. Provider
// auto: all its active sessions, preferring settings.preferredProvider, else
// tenants.default_provider. A usable (connected) session of a registered
// provider wins; with none usable the row goes back to pending with
// error_code session_unavailable after SessionRetryDelay, without burning an
// attempt, until SessionWaitMax after its creation, when it fails
// session_unavailable. No candidate session at all: failed at once (nothing
// could ever send it). The first send pins provider and session on the row:
// retries reuse them, so a resend never switches channel (the provider id
// belongs to one channel).
//
// WhatsApp Web leases: with Config.LeaseHolder set, claims of baileys rows
// that name a session require holder = LeaseHolder on a valid
// wa.session_leases row. Rows routed to a baileys session leased by another
// replica are put back with provider and session stored (so only the holder
// claims them next), the attempt given back, and Deps.HandoffFunc is called
// so the lease manager can wake the holder (e.g. pg_notify); otherwise the
// holder's reconciler finds them on its next scan.
//
// # Order, parallelism, pacing
//
// Claimed rows are sorted by insertion order (messages.seq) and queued per
// chat (tenant, session, recipient): a chat sends one message at a time, in
// order; chats and tenants run in parallel on reused runner goroutines,
// bounded by Config.Workers concurrent provider calls. When a message of a chat is put back (retry, rate limit, session
// down), the chat is held until that time, so its later messages go back too
// and the reconciler re-claims them in order (next_attempt_at, created_at).
// Guarantee: order per chat within a replica. Across replicas, two
// reconcilers may claim different rows of one chat; the listener wakes only
// one replica, so in steady state one replica sends a chat.
//
// Pacing uses token buckets (golang.org/x/time/rate) per tenant
// (Config.TenantRate, default unlimited; tenants.settings.dispatch.
// messagesPerSecond) and per number (DefaultNumberRates: meta_api 80/s,
// baileys 1/s, sandbox unlimited; settings.dispatch.numberMessagesPerSecond;
// whatsapp_sessions.session_data.messagesPerSecond wins). A wait longer than
// MaxPaceWait puts the message back instead of holding memory and its claim.
//
// # Failures
//
// Providers return classified errors; dispatch decides with errors.As:
//
//   - RetryableError: back to pending at After, else capped exponential
//     backoff with jitter (BackoffBase·2^(attempt-1) ≤ BackoffMax, ±20%);
//     after MaxAttempts sends: failed retries_exhausted.
//   - RateLimitedError: back to pending at After, attempt given back; the
//     Scope (number, recipient pair, tenant) is held until then.
//   - PermanentError: failed with the provider's code and pt-BR reason
//     (unsupported_message_type when it wraps providers.ErrUnsupported).
//   - AuthLostError: the session is marked auth_lost (EventSink.SessionState),
//     the number is held, the message goes back to pending after
//     AuthLostDelay without burning an attempt; it then waits for the session
//     like any unusable session (and fails after SessionWaitMax).
//   - SessionUnavailableError: back to pending at Until (or
//     SessionRetryDelay), attempt given back, number held.
//   - AmbiguousError: failed ambiguous_send — never resent blindly. A
//     provider without caller ids whose call ends in a context timeout is
//     treated as ambiguous.
//   - Unclassified errors are logged and retried like RetryableError.
//
// # Batching
//
// Claims are batched by construction (one read and one UPDATE per wake or
// scan; the listener passes what arrived within 2 ms). The status writer
// waits up to FlushWait (5 ms) for company before writing a small batch.
// Outcomes go to one writer goroutine that flushes what accumulated while
// its previous write ran (group commit, up to FlushMax rows per UPDATE …
// FROM unnest), retrying while the database is unreachable for up to half
// the claim TTL; after that the reconciler owns the rows. sent_at is the
// provider's accept time.
//
// # Parts
//
// The claimer (claimer.go, claim.go) brings rows in; routing (route.go)
// decides once where each goes; the scheduler (scheduler.go, pacing.go)
// keeps chats in order, holds and paces them and calls the provider; the
// completer (completer.go, outcome.go) decides what a send's result means
// and writes outcomes in batches. dispatcher.go holds the state they share
// and the lifecycle.
//
// # Lifecycle
//
// Start pings the database and starts the reconciler (which scans at once)
// and the writer; the
// dispatcher lives until Stop (not until Start's ctx ends). Stop stops
// claiming, puts queued unsent messages back to pending (attempt given
// back), waits for in-flight sends up to DrainTimeout (then cancels them),
// writes every outcome and returns; it is idempotent.
//
// WaitFinal(rowID) serves the API's synchronous sends: it returns when the
// row leaves pending/sending, woken by this process's writes and polling the
// database otherwise (another replica may send it).
//
// HandleInserts is the listener's handler: Wake for outbound rows, and the
// InboundHandler (the AI runtime) for inbound rows not yet ai_processed.
package dispatch
