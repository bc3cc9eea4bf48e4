package providers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/zapbase/zapbase"
)

// EventSink receives what happens on a channel. The host implements it over
// the database (dispatch.Events): providers report through it and never
// write public.* themselves (they hold no pool; what they read, and their
// own wa.* tables, go through narrow store interfaces declared in their
// packages). They call it from their event handlers
// and must not block longer than the write takes. A nil error means the
// event is durable (providers may then acknowledge it to the channel).
type EventSink interface {
	// Receipt applies a delivery receipt under the monotonic state machine.
	Receipt(ctx context.Context, r Receipt) error
	// Inbound records an inbound message (idempotent on provider id).
	Inbound(ctx context.Context, m InboundMessage) error
	// SessionState persists a session's lifecycle state.
	SessionState(ctx context.Context, sessionID string, s SessionState) error
	// BindProviderID stores the channel's id on an outbound row that lacks
	// it (a send whose answer was lost, correlated later by the channel).
	BindProviderID(ctx context.Context, p BindProviderIDParams) error
	// MarkInboundError makes a failure attached to an inbound message
	// visible on its row (a media download that failed, an unsupported
	// message).
	MarkInboundError(ctx context.Context, p MarkInboundErrorParams) error

	// RecordPricing merges a Meta status's pricing (and conversation) into
	// the outbound row of the wamid and returns what the row sent (the zero
	// value when there is no such row).
	RecordPricing(ctx context.Context, p RecordPricingParams) (PricingResult, error)
	// SetInboundMedia stores a media downloaded after its Meta inbound row
	// was written, clearing a media download error of the row.
	SetInboundMedia(ctx context.Context, p SetInboundMediaParams) error
	// MergeSessionData merges a JSON object into a session's session_data
	// (non-secret, member-readable: Meta's quality rating).
	MergeSessionData(ctx context.Context, sessionID string, data json.RawMessage) error
	// PasskeyState persists a passkey state with its WebAuthn options in one
	// write (SessionState knows nothing of passkey_request).
	PasskeyState(ctx context.Context, sessionID string, s SessionState) error
	// FillUndecryptable replaces the placeholder row of a WhatsApp Web
	// message that arrived undecryptable with its real content and hands it
	// to the agents again; false when no placeholder row matched.
	FillUndecryptable(ctx context.Context, m InboundMessage) (bool, error)
	// ApplyEdit replaces the text or caption of a message's row, keeping the
	// previous content in its history; false when no such row (or a newer
	// edit won).
	ApplyEdit(ctx context.Context, p ApplyEditParams) (bool, error)
	// ApplyRevoke marks a WhatsApp Web message deleted for everyone; false
	// when no such row (or already deleted).
	ApplyRevoke(ctx context.Context, p ApplyRevokeParams) (bool, error)
	// MarkInboundRead marks a received WhatsApp Web message read (the
	// session's auto-read).
	MarkInboundRead(ctx context.Context, tenantID, providerMessageID string) error
}

// RecordPricingParams name an outbound Meta message and its pricing record
// (a JSON object of pricing, category, conversation).
type RecordPricingParams struct {
	TenantID          string
	ProviderMessageID string
	Pricing           json.RawMessage
}

// PricingResult is what the priced row sent: its type and, for a template,
// the template's name and language.
type PricingResult struct {
	MessageType      zapbase.MessageType
	TemplateName     string
	TemplateLanguage string
}

// SetInboundMediaParams name an inbound Meta message, its media (MediaURL,
// MediaPath, SizeBytes, MimeType) and the error codes that the media
// clears from the row.
type SetInboundMediaParams struct {
	TenantID          string
	ProviderMessageID string
	Media             Content
	ClearErrorCodes   [2]string
}

// ApplyEditParams are an edit of a message: its new text (or caption).
type ApplyEditParams struct {
	TenantID          string
	Provider          zapbase.ProviderType
	ProviderMessageID string
	Direction         zapbase.Direction
	Text              string
	At                time.Time
}

// ApplyRevokeParams name a WhatsApp Web message deleted for everyone.
type ApplyRevokeParams struct {
	TenantID          string
	ProviderMessageID string
	Direction         zapbase.Direction
	At                time.Time
}

// BindProviderIDParams name an outbound row and the channel's id for it.
type BindProviderIDParams struct {
	TenantID          string
	RowID             string
	ProviderMessageID string
}

// MarkInboundErrorParams name an inbound message by its channel id and the
// failure to record (Reason in pt-BR).
type MarkInboundErrorParams struct {
	TenantID          string
	Provider          zapbase.ProviderType
	ProviderMessageID string
	Code              string
	Reason            string
}

// Receipt reports a status change of outbound messages.
type Receipt struct {
	TenantID           string
	SessionID          string
	Provider           zapbase.ProviderType
	ProviderMessageIDs []string
	Status             zapbase.Status
	Timestamp          time.Time
	// Recipient as the channel reports it (for contact linking).
	Recipient string
	// ErrorCode/ErrorReason for failed receipts (pt-BR reason).
	ErrorCode   string
	ErrorReason string
}

// InboundMessage is a message received from a contact.
type InboundMessage struct {
	TenantID          string
	SessionID         string
	Provider          zapbase.ProviderType
	ProviderMessageID string
	// From is the contact (phone number when known).
	From string
	// FromAlt is the contact's other identifier (LID, BSUID) when known.
	FromAlt  string
	PushName string
	// To is the session's number.
	To        string
	Type      zapbase.MessageType
	Content   Content
	Timestamp time.Time
	IsGroup   bool
	Chat      string
	// FromMe marks messages sent by the account owner from another device.
	FromMe bool
}
