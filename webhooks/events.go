package webhooks

import "slices"

// Event types a subscription may ask for: the topics of wa.change_log.
const (
	EventMessageReceived = "message.received" // an inbound message arrived
	EventAIReply         = "ai.reply"         // an AI agent queued a reply
	EventMessageStatus   = "message.status"   // an outbound message changed status (sent, delivered, read, failed...)
	EventMessageUpdated  = "message.updated"  // a message's content changed (edit, revoke)
	EventSessionState    = "session.state"    // a session's state changed (connected, logged_out...)
	EventSessionQR       = "session.qr"       // a WhatsApp Web session shows a new QR or pairing code
	EventCall            = "call"             // an incoming call (WhatsApp Web)
	EventPresence        = "presence"         // a contact's presence (typing, online)
)

// Events lists every event type, in documentation order.
var Events = []string{
	EventMessageReceived, EventMessageStatus, EventSessionState, EventSessionQR, EventAIReply,
	EventCall, EventMessageUpdated, EventPresence,
}

// ValidEvent reports whether e is a known event type.
func ValidEvent(e string) bool { return slices.Contains(Events, e) }
