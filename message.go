package zapbase

import "fmt"

// Direction tells whether a message goes to WhatsApp (outbound) or came from it (inbound).
type Direction string

// Message directions.
const (
	DirectionOutbound Direction = "outbound"
	DirectionInbound  Direction = "inbound"
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == DirectionOutbound || d == DirectionInbound }

// MessageType is the canonical kind of a message's content.
type MessageType string

// Message types understood by the pipeline. Providers declare which ones they
// support through their capabilities.
const (
	MessageText        MessageType = "text"
	MessageImage       MessageType = "image"
	MessageVideo       MessageType = "video"
	MessageAudio       MessageType = "audio"
	MessageVoice       MessageType = "voice"
	MessageDocument    MessageType = "document"
	MessageSticker     MessageType = "sticker"
	MessageLocation    MessageType = "location"
	MessageContacts    MessageType = "contacts"
	MessageTemplate    MessageType = "template"
	MessageInteractive MessageType = "interactive"
	MessageReaction    MessageType = "reaction"
	MessageReadMark    MessageType = "read_mark"
	MessageSystem      MessageType = "system"
	MessageUnsupported MessageType = "unsupported"
	// MessagePoll is a poll (WhatsApp Web); MessagePollVote is a contact's
	// decrypted vote on one, inbound only, tied to the poll's row.
	MessagePoll     MessageType = "poll"
	MessagePollVote MessageType = "poll_vote"
	// MessageUndecryptable: an inbound message WhatsApp delivered but the
	// device could not decrypt yet ("aguardando mensagem"); the row is
	// updated in place when the retry brings the content.
	MessageUndecryptable MessageType = "undecryptable"
)

// MessageTypes lists every message type, in documentation order.
var MessageTypes = []MessageType{
	MessageText, MessageImage, MessageVideo, MessageAudio, MessageVoice, MessageDocument,
	MessageSticker, MessageLocation, MessageContacts, MessageTemplate, MessageInteractive,
	MessageReaction, MessageReadMark, MessageSystem, MessageUnsupported, MessageUndecryptable,
	MessagePoll, MessagePollVote,
}

// Valid reports whether t is a known message type.
func (t MessageType) Valid() bool {
	for _, k := range MessageTypes {
		if k == t {
			return true
		}
	}
	return false
}

// IsMedia reports whether the type carries a media payload.
func (t MessageType) IsMedia() bool {
	switch t {
	case MessageImage, MessageVideo, MessageAudio, MessageVoice, MessageDocument, MessageSticker:
		return true
	}
	return false
}

// Status is the delivery state of a message. Outbound messages walk
//
//	pending → sending → sent → delivered → read → played
//
// and may end failed. Inbound messages are received (and read once marked).
// The order is monotonic: see CanTransition. The database enforces the same
// rules (migration 000002, function wa.status_transition_allowed).
type Status string

// Message states.
const (
	StatusPending   Status = "pending"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusPlayed    Status = "played"
	StatusFailed    Status = "failed"
	StatusReceived  Status = "received"
)

// Statuses lists every status.
var Statuses = []Status{
	StatusPending, StatusSending, StatusSent, StatusDelivered, StatusRead, StatusPlayed,
	StatusFailed, StatusReceived,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, k := range Statuses {
		if k == s {
			return true
		}
	}
	return false
}

// Terminal reports whether no further work is scheduled for a message in
// state s. Receipts may still advance a terminal outbound row (sent →
// delivered …), but dispatch never touches it again.
func (s Status) Terminal() bool {
	switch s {
	case StatusSent, StatusDelivered, StatusRead, StatusPlayed, StatusFailed, StatusReceived:
		return true
	}
	return false
}

// rank orders the receipt states; higher ranks never move back to lower ones.
func (s Status) rank() int {
	switch s {
	case StatusPending:
		return 0
	case StatusSending:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusPlayed:
		return 5
	}
	return -1
}

// CanTransition reports whether a message may move from one status to
// another. A transition to the same status is not a transition (duplicates
// are no-ops, reported false). The rules:
//
//   - pending → sending (claim) or failed (refused before sending);
//   - sending → pending (retry or lease recovery), sent, failed, and any
//     receipt state (a receipt can overtake the provider's own ack);
//   - sent/delivered/read/played only move forward; read may skip delivered;
//   - failed may follow sent (asynchronous provider failures) but not
//     delivered, read or played; failed is final;
//   - inbound: received → read.
func CanTransition(from, to Status) bool {
	if from == to {
		return false
	}
	switch from {
	case StatusPending:
		return to == StatusSending || to == StatusFailed
	case StatusSending:
		return to == StatusPending || to == StatusFailed || to.rank() > StatusSending.rank()
	case StatusSent:
		return to == StatusFailed || to.rank() > from.rank()
	case StatusDelivered, StatusRead:
		return to.rank() > from.rank()
	case StatusReceived:
		return to == StatusRead
	}
	return false // played, failed and unknown states are final
}

// ProviderType names a WhatsApp channel. The API keeps the original spec's
// name "baileys" for WhatsApp Web, although the implementation is whatsmeow.
type ProviderType string

// Provider types. Auto is only valid on a message: dispatch resolves it.
const (
	ProviderBaileys ProviderType = "baileys"
	ProviderMeta    ProviderType = "meta_api"
	ProviderSandbox ProviderType = "sandbox"
	ProviderAuto    ProviderType = "auto"
)

// Valid reports whether p is a known provider type (auto included).
func (p ProviderType) Valid() bool {
	switch p {
	case ProviderBaileys, ProviderMeta, ProviderSandbox, ProviderAuto:
		return true
	}
	return false
}

// Concrete reports whether p names a real channel (not auto).
func (p ProviderType) Concrete() bool { return p.Valid() && p != ProviderAuto }

// ParseProviderType converts a string into a ProviderType.
func ParseProviderType(s string) (ProviderType, error) {
	p := ProviderType(s)
	if !p.Valid() {
		return "", fmt.Errorf("parse provider type %q: %w", s, ErrInvalidProvider)
	}
	return p, nil
}
