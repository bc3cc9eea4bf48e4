// Package meta is the Meta WhatsApp Cloud API provider (provider type
// meta_api): a Graph API client over net/http, per-session credentials
// sealed in wa.session_secrets, sends of every canonical message type,
// error classification, and the signed webhook ingest with its inbox.
//
// # Decisions
//
//   - Credentials. Initialize's Options JSON ({"phoneNumberId","wabaId",
//     "accessToken","appSecret","verifyToken"}) is sealed with secret.Box
//     (AES-256-GCM, AAD = session id, key id stored for rotation). Only the
//     two public ids go to whatsapp_sessions.session_data. wa.meta_numbers
//     routes a phone_number_id (or WABA id) to its session and holds a
//     sha256 of the verify token for the GET handshake.
//   - Background verification. Initialize stores the session (state
//     connecting) and returns; GET /{phone-number-id} runs in the
//     background and sets connected, auth_lost (190), blocked (368, 131031,
//     133010…), pairing_failed (unknown id, number mismatch) or unreachable
//     (retried with capped exponential backoff and jitter).
//   - Errors are classified on error.code only (Classify): throughput codes
//     pace the number, 131056 paces one recipient for 4^n s, 190 and
//     permission codes are auth-lost (session state persisted, no retry
//     with the same token), account blocks stop the session, 5xx and
//     transport failures retry — except a failure after the request was
//     written, which is ambiguous (Meta has no idempotency key). Every
//     send carries biz_opaque_callback_data "zapbase:<row id>", so a status
//     webhook can still bind the wamid to a row whose send answer was lost.
//   - Service window. wa.meta_contacts links wa_id and BSUID into one
//     contact and keeps the customer's last inbound time; free-form sends
//     outside 24 h are refused before calling Meta (template_required).
//     Contacts are keyed on the wa_id Meta returns (Brazil's ninth digit),
//     and window lookups accept both forms of a Brazilian mobile number.
//   - Webhooks. The handler verifies X-Hub-Signature-256 over the exact raw
//     bytes against the app secret of every known number the payload
//     names (one POST comes from one app), in constant time, then stores
//     the raw body in wa.webhook_inbox (dedupe key: sha256 of the body)
//     before answering 200. Inserts from concurrent requests are
//     group-committed. A payload naming none of our numbers cannot be
//     verified and is refused (401) like a bad signature.
//   - Processing. Start runs a processor that claims inbox rows with FOR
//     UPDATE SKIP LOCKED and a lease, applies every entry/change/status/
//     message (batches, several numbers), and retries failed rows with
//     backoff. Everything it does is idempotent: inbound rows are unique on
//     the wamid, receipts go through the monotonic state machine, contact
//     updates are upserts. Unknown message types become "unsupported"
//     placeholders keeping the raw message; errors attached to inbound
//     messages (131051, 131052) are written to the row's error_code and
//     error_reason; inbound media is fetched (GET /{media-id}, then the URL
//     with the bearer token) into a MediaStore, and a failed download is
//     recorded on the row, not dropped.
//   - Account webhooks (account.go). account_update names a WABA, not a
//     number: its state applies to every session of the WABA. A ban
//     (DISABLED_UPDATE/DISABLE) is banned, a messaging ACCOUNT_RESTRICTION
//     is blocked until its expiration (state_until; usableSession lets the
//     number send again after it), ACCOUNT_DELETED is logged_out, and
//     REINSTATE re-runs the background verification of banned sessions.
//     Warnings (ACCOUNT_VIOLATION, SCHEDULE_FOR_DISABLE) and other events
//     are logged and acknowledged. phone_number_quality_update is recorded
//     in session_data.metaQuality without changing the state.
package meta
