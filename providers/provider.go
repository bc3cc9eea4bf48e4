// Package providers is the seam between dispatch and the WhatsApp channels.
//
// A Provider sends canonical messages for many sessions (tenants' numbers) of
// one provider type. What a provider can do beyond sending is discovered by
// type assertion on small capability interfaces (SessionManager, ReadMarker,
// TypingIndicator, MediaUploader, IDGenerator, and in capabilities.go
// GroupManager, PresenceSender, ContactProfiler, Blocker, SettingsApplier), so
// the API can refuse an unsupported combination up front. Providers report what happens on the
// channel (receipts, inbound messages, session state) to an EventSink that the
// host implements over the database.
//
// Errors returned by providers are already classified (see errors.go):
// dispatch decides retries with errors.As, never by message text. Vendor types
// (whatsmeow, Graph API payloads) never cross this package.
package providers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/zapbase/zapbase"
)

// Provider sends messages on one provider type.
type Provider interface {
	// Type names the channel.
	Type() zapbase.ProviderType
	// Capabilities tells what the channel supports.
	Capabilities() Capabilities
	// Send delivers msg to the channel and returns once the channel accepted
	// it (WhatsApp server ack / Graph API 200). It must be safe for concurrent
	// use across sessions. Errors are classified (errors.go).
	Send(ctx context.Context, msg OutboundMessage) (SendResult, error)
}

// Capabilities describes what a provider supports.
type Capabilities struct {
	MessageTypes []zapbase.MessageType `json:"messageTypes"`
	// CallerMessageIDs: Send honours OutboundMessage.ProviderMessageID, so a
	// resend after a crash reuses the id (whatsmeow, sandbox). Providers that
	// assign ids themselves (Meta) cannot deduplicate a repeated send.
	CallerMessageIDs bool `json:"callerMessageIds"`
	ReadReceipts     bool `json:"readReceipts"`
	Typing           bool `json:"typing"`
	// ServiceWindow: free-form messages are allowed only within 24 h of the
	// contact's last inbound message (Meta); templates are needed outside.
	ServiceWindow bool `json:"serviceWindow"`
	// MaxMediaBytes is the largest media the channel accepts (0: unknown).
	MaxMediaBytes int64 `json:"maxMediaBytes,omitempty"`
}

// Supports reports whether t is among the supported message types.
func (c Capabilities) Supports(t zapbase.MessageType) bool {
	for _, k := range c.MessageTypes {
		if k == t {
			return true
		}
	}
	return false
}

// OutboundMessage is one message to send.
type OutboundMessage struct {
	// RowID is the messages.id of the row being sent.
	RowID     string
	TenantID  string
	SessionID string
	// From is the session's phone number.
	From string
	// To is the recipient: phone number in international digits, a WhatsApp
	// JID, or a provider-specific contact id (LID, BSUID).
	To   string
	Type zapbase.MessageType
	// Content is the canonical content (see Content).
	Content Content
	// ProviderMessageID is set by dispatch before the first attempt when the
	// provider supports caller ids (IDGenerator); resends reuse it.
	ProviderMessageID string
	// Attempt counts sends of this row, starting at 1.
	Attempt int
}

// SendResult is what the channel answered.
type SendResult struct {
	ProviderMessageID string
	// RecipientID is the channel's id for the contact (Meta's wa_id, which
	// may differ from the input number; a LID for WhatsApp Web).
	RecipientID string
	Timestamp   time.Time
}

// Content is the canonical message content stored in messages.content and
// accepted by the API. Only the fields of the message's type are used.
type Content struct {
	Text       string `json:"text,omitempty"`
	PreviewURL bool   `json:"previewUrl,omitempty"`
	// ReplyTo is the provider message id being quoted.
	ReplyTo string `json:"replyTo,omitempty"`

	// Media (image, video, audio, voice, document, sticker).
	MediaURL  string `json:"mediaUrl,omitempty"`
	MediaID   string `json:"mediaId,omitempty"`
	MediaPath string `json:"mediaPath,omitempty"` // path in the media store
	MimeType  string `json:"mimeType,omitempty"`
	Caption   string `json:"caption,omitempty"`
	Filename  string `json:"filename,omitempty"`
	SizeBytes int64  `json:"sizeBytes,omitempty"`
	Seconds   int    `json:"seconds,omitempty"`

	// Location.
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`

	// Reaction: Emoji on TargetMessageID ("" removes the reaction).
	Emoji           string `json:"emoji,omitempty"`
	TargetMessageID string `json:"targetMessageId,omitempty"`

	Contacts    []ContactCard   `json:"contacts,omitempty"`
	Template    *Template       `json:"template,omitempty"`
	Interactive json.RawMessage `json:"interactive,omitempty"`

	// Poll is a poll (message type poll); PollVote a contact's vote on one
	// (poll_vote, inbound only).
	Poll     *Poll     `json:"poll,omitempty"`
	PollVote *PollVote `json:"pollVote,omitempty"`

	// Raw keeps provider-specific inbound data that has no canonical field.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// ContactCard is a shared contact.
type ContactCard struct {
	Name   string   `json:"name"`
	Phones []string `json:"phones,omitempty"`
	Emails []string `json:"emails,omitempty"`
	Org    string   `json:"org,omitempty"`
	VCard  string   `json:"vcard,omitempty"`
}

// Poll is a poll: a question and its options.
type Poll struct {
	Name    string   `json:"name" example:"Qual horário prefere?"`
	Options []string `json:"options" example:"[\"Manhã\",\"Tarde\"]"`
	// SelectableCount is how many options a contact may pick (0 or 1: one).
	SelectableCount int `json:"selectableCount,omitempty" example:"1"`
}

// PollVote is a contact's (decrypted) vote. A later vote of the same contact
// replaces the earlier one; an empty selection withdraws it.
type PollVote struct {
	// PollMessageID is the provider id of the poll message.
	PollMessageID string `json:"pollMessageId"`
	// PollRowID is the messages.id of the poll's row, when it is known.
	PollRowID string `json:"pollRowId,omitempty"`
	// SelectedOptions are the chosen option names.
	SelectedOptions []string `json:"selectedOptions"`
	// UnknownHashes are SHA-256 hashes (hex) of choices matching no known
	// option (the poll's row is missing).
	UnknownHashes []string `json:"unknownHashes,omitempty"`
}

// Template is a pre-approved message template (Meta).
type Template struct {
	Name       string            `json:"name"`
	Language   string            `json:"language"`
	Components []json.RawMessage `json:"components,omitempty"`
}

// IDGenerator is implemented by providers that accept caller-chosen message
// ids: dispatch stores the id with the claim before sending.
type IDGenerator interface {
	NewMessageID() string
}

// StableIDGenerator is implemented by providers whose caller-chosen ids can
// be derived from the message row: the same row always gets the same id.
// Dispatch then writes its claims with asynchronous commit (no WAL flush
// wait on the latency path): a claim lost in a database crash is redone
// with the very id the channel may already have seen, and the channel
// deduplicates it, as it does for a resend after a process crash.
type StableIDGenerator interface {
	MessageIDFor(rowID string) string
}

// ReadMarker marks inbound messages as read.
type ReadMarker interface {
	MarkRead(ctx context.Context, p MarkReadParams) error
}

// MarkReadParams names the messages to mark.
type MarkReadParams struct {
	TenantID           string
	SessionID          string
	Chat               string
	Sender             string
	ProviderMessageIDs []string
	// Typing also shows the typing indicator (Meta's mark-read + typing).
	Typing bool
}

// TypingIndicator shows or clears "typing…" in a chat.
type TypingIndicator interface {
	SetTyping(ctx context.Context, sessionID, to string, typing bool) error
}

// MediaUploader uploads media ahead of sending and returns a provider media id.
type MediaUploader interface {
	UploadMedia(ctx context.Context, sessionID string, mimeType string, data []byte) (mediaID string, err error)
}

// NumberChecker tells which phone numbers have a WhatsApp account, and the
// number WhatsApp knows them by (Brazil's ninth digit).
type NumberChecker interface {
	CheckNumbers(ctx context.Context, sessionID string, numbers []string) ([]NumberCheck, error)
}

// NumberCheck is the answer for one number given to CheckNumbers.
type NumberCheck struct {
	// Input is the number as given.
	Input string `json:"input"`
	// Valid is false when Input is not an international phone number.
	Valid bool `json:"valid"`
	// Number is Input as international digits.
	Number     string `json:"number,omitempty"`
	OnWhatsApp bool   `json:"onWhatsApp"`
	// WhatsAppNumber is the number WhatsApp knows (with or without the
	// ninth digit); messages to Number go there.
	WhatsAppNumber string `json:"whatsAppNumber,omitempty"`
	JID            string `json:"jid,omitempty"`
	// Cached reports that the answer came from the session's cache.
	Cached bool `json:"cached"`
}

// MessageEditor edits a message already sent (WhatsApp Web: text within
// WhatsApp's edit window).
type MessageEditor interface {
	EditMessage(ctx context.Context, p EditParams) (SendResult, error)
}

// EditParams name the message to edit and its new text.
type EditParams struct {
	TenantID, SessionID string
	// Chat is the message's recipient (to_number).
	Chat              string
	ProviderMessageID string
	// Type is the message's type; Text replaces its text.
	Type zapbase.MessageType
	Text string
}

// MessageRevoker deletes a sent message for everyone.
type MessageRevoker interface {
	RevokeMessage(ctx context.Context, p RevokeParams) error
}

// RevokeParams name the message to delete.
type RevokeParams struct {
	TenantID, SessionID string
	Chat                string
	ProviderMessageID   string
}

// PasskeyResponder completes a pairing that asked for a passkey
// (state StatePasskeyRequired) with the browser's WebAuthn assertion, the
// JSON of the PublicKeyCredential that navigator.credentials.get() returned.
type PasskeyResponder interface {
	SendPasskeyResponse(ctx context.Context, sessionID string, credential json.RawMessage) (SessionState, error)
	// ConfirmPasskey confirms that the code of StatePasskeyConfirmation
	// matches the one on the phone, finishing the pairing.
	ConfirmPasskey(ctx context.Context, sessionID string) (SessionState, error)
}

// SessionManager is implemented by providers with a session lifecycle.
type SessionManager interface {
	// Initialize starts (or resumes) the session and answers its state; for
	// WhatsApp Web the state may carry a QR code or pairing code.
	Initialize(ctx context.Context, p InitializeParams) (SessionState, error)
	// Status answers the current state of a session.
	Status(ctx context.Context, sessionID string) (SessionState, error)
	// Disconnect closes the session; Logout also unlinks the device / forgets
	// the credentials.
	Disconnect(ctx context.Context, sessionID string, logout bool) error
}

// InitializeParams start a session.
type InitializeParams struct {
	TenantID    string
	SessionID   string
	PhoneNumber string
	// PairWithCode asks for a phone-number pairing code instead of a QR code.
	PairWithCode bool
	// Options carries provider-specific setup (Meta credentials…).
	Options json.RawMessage
}

// SessionState is the lifecycle state of a session as persisted in
// whatsapp_sessions.state.
type SessionState struct {
	State    string     `json:"state"`
	Reason   string     `json:"reason,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	QRCode   string     `json:"qrCode,omitempty"`
	PairCode string     `json:"pairCode,omitempty"`
	JID      string     `json:"jid,omitempty"`
	// PasskeyRequest holds the WebAuthn request options (the publicKey of
	// navigator.credentials.get) while State is StatePasskeyRequired.
	PasskeyRequest json.RawMessage `json:"passkeyRequest,omitempty"`
	// PasskeyCode is the code to compare with the phone's in state
	// StatePasskeyConfirmation.
	PasskeyCode string `json:"passkeyCode,omitempty"`
}

// Session states shared by providers.
const (
	StateDisconnected   = "disconnected"
	StateConnecting     = "connecting"
	StatePairing        = "pairing"
	StateConnected      = "connected"
	StateLoggedOut      = "logged_out"
	StateBanned         = "banned"
	StateTimelocked     = "timelocked"
	StateOutdated       = "outdated"
	StateStreamReplaced = "stream_replaced"
	StateAuthLost       = "auth_lost"
	StateUnreachable    = "unreachable"
	StateBlocked        = "blocked"
	StatePairingFailed  = "pairing_failed"
	// StatePasskeyRequired: WhatsApp asks the account's passkey to link the
	// device; SessionState.PasskeyRequest carries the WebAuthn options.
	StatePasskeyRequired = "passkey_required"
	// StatePasskeyConfirmation: the passkey was accepted; the code shown in
	// SessionState.PasskeyCode must match the phone's.
	StatePasskeyConfirmation = "passkey_confirmation"
)

// Usable reports whether a session in state s can send now.
func Usable(state string) bool { return state == StateConnected }
