// Package whatsmeow is the WhatsApp Web provider (API name "baileys"), built
// on go.mau.fi/whatsmeow, pinned to an exact recent pseudo-version in go.mod
// (WhatsApp rejects old builds as "client outdated").
//
// # Store
//
// One whatsmeow sqlstore Container serves every tenant's device (OpenStore).
// Its tables live in schema whatsmeow of the same database, selected with
// search_path on that *sql.DB (pgx stdlib); the schema is never granted to
// anon/authenticated: it holds Signal private keys. whatsapp_sessions.device_jid
// links a session to its device. UseRetryMessageStore keeps sent messages so
// retry receipts work after a restart. That container is the only database
// handle the package opens itself (its own connection pool from the database
// URL: whatsmeow's schema, not ours); the product's tables are reached
// through Config.DB (a ChannelStore, store.WhatsAppWeb) for reads and the
// wa.* tables, and through Config.Sink for every write to public.*.
//
// # Leases
//
// At most one replica drives a device (two connections would get
// StreamReplaced). LeaseManager keeps wa.session_leases: every replica
// registers in wa.lease_holders, acquires up to ceil(sessions / live
// replicas) of the paired sessions, renews every Tick (TTL/3), and sheds one
// extra per tick when replicas join. A replica stops driving a lease at
// renewal start + TTL − SafetyMargin on its own clock, which is always before
// the database lets another replica take it (see LeaseManager). A crashed
// replica's sessions move after at most TTL + Tick (20 s by default).
//
// Dispatch integration: claim baileys rows only for owned sessions, with
// Provider.Owns(sessionID) or the SQL condition
// wa.session_owned_by(session_id, holder); wake the owner of a row this
// replica cannot send with WakeOwner (pg_notify on the holder's channel);
// the owner calls Config.OnWakeFunc(sessionID), also right after it acquires
// a lease, so rows queued while nobody drove the session are picked up.
//
// # Events
//
// whatsmeow event handlers only persist or enqueue: receipts and session
// states are written through the providers.EventSink at once; messages go
// to a per-session queue whose worker downloads media (MediaStore) and writes
// the inbound row. History sync is not imported.
//
// # Sending
//
// Dispatch generates the id (NewMessageID, WhatsApp Web format "3EB0…") and
// stores it before sending; Send passes it to whatsmeow so a resend reuses
// it. Errors are classified at this edge (errors.go).
//
// Before the first send to a phone number the provider asks IsOnWhatsApp
// for every form of it (Brazil's ninth digit, brazil.go) and caches the
// answer per session in wa.recipient_resolutions (resolve.go); a number
// without an account fails with code not_on_whatsapp. The JID a message
// actually went to (SendResponse.Chat, usually the LID) is recorded there
// and answered as SendResult.RecipientID.
//
// # Changes after arrival
//
// Undecryptable messages become 'undecryptable' rows filled in place by the
// retry; edits (ProtocolMessage and SecretEncryptedMessage forms) and
// deletions for everyone update the target row (edits.go). Passkey linking
// (passkey.go) and the client version fetched at start (version.go) complete
// the late-2026 WhatsApp Web support.
package whatsmeow
