package providers

import (
	"context"
	"time"

	"github.com/zapbase/zapbase"
)

// EventSink receives what happens on a channel. The host implements it over
// the database (dispatch.Events): providers report through it and never
// write public.messages themselves. They call it from their event handlers
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
