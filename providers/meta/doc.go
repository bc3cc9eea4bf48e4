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
//   - Inbound media (media.go). Download errors are classified with the
//     table of sends (ClassifyMedia → Classify): rate limits (4, 80007,
//     130429 arrive as HTTP 400), token errors (190, 401), 5xx, an
//     unknown code marked is_transient and transport failures are
//     retried. The row is stored at once with content.mediaId and error
//     media_download_pending; the inbox retries the payload with backoff
//     while Meta keeps the id (MediaLifetime, 7 days) and the retry fills
//     content.mediaUrl and clears the error. A permanent error ends as
//     media_download_failed; RedownloadMedia fetches it again later.
//     file_size is read as a string or a number. Transfers stream (the
//     download goes to a MediaStreamStore, the upload is a multipart pipe)
//     under a deadline scaled to the size (transferDeadline), not the 30 s
//     of JSON calls, and extend the inbox lease while they run.
//   - Webhook body. Meta batches up to 3 MB: the handler reads at most
//     Params.WebhookMaxBytes (default 4 MiB) and the server must mount it
//     with the same limit (WebhookMaxBytes), or the API's 1 MiB wins.
//   - Unrouted deliveries. A payload naming no number or WABA we know has
//     no secret to verify it: it is answered 200 (a non-200 is retried for
//     7 days), counted in wa.meta_unrouted_webhooks (entry, field, event;
//     the body is not kept) and never processed. account_update PARTNER_*,
//     AD_ACCOUNT_LINKED and MM_LITE_TERMS_SIGNED name the WABA in
//     value.waba_info.waba_id (entry.id is the business portfolio) and are
//     routed by it; PARTNER_APP_UNINSTALLED/PARTNER_REMOVED are auth_lost.
//   - Identities. system user_changed_user_id re-keys the contact from its
//     old BSUID to system.user_id (parent_user_id kept), so one contact
//     keeps one row and one window; user_changed_number may carry the new
//     BSUID too.
//   - Groups. messages[].group_id makes an inbound row a group message
//     (metadata.isGroup, chat = group id, from = participant) and opens no
//     1:1 window; a send to a group id goes out with recipient_type group,
//     without the window check; statuses of group sends (recipient_type
//     group, group_id) move the group message's row.
//   - Templates and preferences (fields.go). message_template_status_update,
//     message_template_quality_update and template_category_update fill
//     wa.meta_templates (mirrored in session_data.metaTemplates); a send of
//     a PAUSED template is refused with template_paused, of a DISABLED/
//     REJECTED/DELETED one with template_disabled, before Meta is called.
//     user_preferences stop/resume (and a failed status 131050) fill
//     wa.meta_opt_outs; a template known to be MARKETING (from the
//     webhooks or the pricing category of an earlier send) to an opted-out
//     customer is refused with marketing_opted_out. Unknown templates are
//     sent: Meta stays the judge.
//   - Pricing. statuses[].pricing (and conversation, on older webhook
//     versions) is stored on the outbound row (public.messages.pricing:
//     {category, pricing, conversation}), so cost per category is a query
//     over the tenant's own rows.
//   - Sends. Interactive button, list, cta_url, flow,
//     location_request_message, product, product_list, catalog_message and
//     call_permission_request go out in Meta's own shape; template
//     components header, body, button, carousel (cards with card_index)
//     and limited_time_offer. Graph API default version v26.0.
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
