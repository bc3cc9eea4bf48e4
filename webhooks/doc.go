// Package webhooks delivers a tenant's events to its own HTTP endpoints
// (n8n, Typebot, Make, a backend without supabase-js): outgoing webhooks.
//
// # Where events come from
//
// wa.change_log (migration 000110) is written by statement-level triggers
// on public.messages and public.whatsapp_sessions, in the writer's own
// transaction: nothing on the message hot path knows webhooks exist. The
// Fanout reads it asynchronously.
//
// # Fan-out (Fanout)
//
// One statement per step (store.WebhookCursorQuery.FanOut):
//
//  1. lock the single cursor row wa.webhook_cursor FOR UPDATE SKIP LOCKED —
//     one replica fans out at a time, the others skip the step — but only
//     when some subscription is active: with none, a step is one probe of a
//     partial index and nothing else;
//  2. read the next feed rows after the cursor's (txid, id), in (txid, id)
//     order, only those whose txid is below pg_snapshot_xmin of the current
//     snapshot (their transactions are over, so no row can still appear
//     before them);
//  3. insert one wa.webhook_deliveries row per (feed row, matching active
//     subscription: tenant, event type, optional session, active_since),
//     with the payload built from the current message/session row joined
//     now (the event's own status and error come from the feed row);
//  4. move the cursor to the last row read.
//
// Deliveries and cursor commit together: a crash anywhere re-reads the same
// rows, never skips or duplicates. While no subscription is active the
// cursor is moved to the end of the feed every IdleAdvance, so the first
// subscription does not make the fan-out walk days of history.
//
// # Delivery (Deliverer)
//
// States: pending → sending → delivered | dead; sending → pending on a
// failed attempt.
//
// A claim is one statement (store.WebhookDeliveryQuery.Claim): due pending
// rows and sending rows whose lease expired (a claim moves next_attempt_at
// to the lease deadline, so one index condition finds both), FOR UPDATE
// SKIP LOCKED, of active subscriptions, and only the oldest open delivery
// of each (subscription, conversation): a delivery is not attempted while
// an older one of the same chat and subscription is pending or being sent,
// so receivers see a conversation in order. Claims carry an owner unique per process life and
// a lease longer than an attempt can take, so a crashed owner's rows are
// taken over and a live owner's never are. Outcomes only apply while the
// claim is still the writer's.
//
// An attempt POSTs the stored body with X-Zapbase-Timestamp and
// X-Zapbase-Signature = "sha256=" + hex(HMAC-SHA256(secret,
// "<timestamp>.<body>")); the secret is stored sealed by package secret.
// 2xx: delivered. 410 Gone: dead, and the subscription is switched off
// (disabled_reason "gone"). Anything else (other statuses, timeouts,
// refused connections, refused targets): pending again after a "full
// jitter" backoff — uniform in [0, min(MaxDelay, BaseDelay·2^(n-1))],
// Retry-After honoured on 429/503 — until RetryFor after the delivery was
// created, then dead. Dead deliveries stay visible in the delivery log;
// Replay queues a copy (same event id, new delivery id).
//
// Delivery is at least once: an attempt the receiver handled but whose
// answer was lost (timeout, crash) is sent again. Receivers dedupe on the
// event id (payload "id", header X-Zapbase-Event-Id).
//
// # SSRF
//
// Subscription URLs are checked when stored (scheme, no credentials,
// address literals and localhost names), and every connection is checked
// when dialled: names are resolved by the dialer and only addresses outside
// the private, loopback, link-local, CGNAT, multicast, IPv4-mapped and
// other special ranges are dialled (the checked address itself, so DNS
// rebinding cannot swap it), the socket's peer is checked again in the
// dialer's Control, environment proxies are ignored, redirects are limited
// to MaxRedirects (each dialled through the same checks), attempts are
// bounded by connect and total timeouts and only ResponsePrefixBytes of an
// answer are read and stored. Operators open ranges or host names with
// ZAPBASE_WEBHOOK_ALLOW_PRIVATE (zapbase dev opens loopback).
package webhooks
