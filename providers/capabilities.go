package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The capability interfaces below are what Evolution API / GOWA users expect
// beyond sending: groups, presence, contact profiles, blocking and per-session
// settings. Each is small and optional; the API discovers them by type
// assertion and answers unsupported_by_provider when the session's provider
// lacks one (the Meta Cloud API has no group management for regular numbers).
// Every method takes the session id; the provider checks that the session is
// usable and returns classified errors (errors.go).

// ErrNotFound is wrapped (in a PermanentError) when the channel has no such
// object: a group the account is not in, a contact without a picture.
var ErrNotFound = errors.New("not found on the channel")

// GroupManager manages WhatsApp groups of a session. Group ids are JIDs
// ("120363…@g.us"); participants are phone digits or JIDs.
type GroupManager interface {
	ListGroups(ctx context.Context, sessionID string) ([]Group, error)
	CreateGroup(ctx context.Context, sessionID string, p CreateGroupParams) (Group, error)
	GroupInfo(ctx context.Context, sessionID, groupID string) (Group, error)
	UpdateParticipants(ctx context.Context, sessionID, groupID string, action ParticipantAction, participants []string) ([]ParticipantResult, error)
	// GroupInviteLink answers the invite link; reset revokes the old one.
	GroupInviteLink(ctx context.Context, sessionID, groupID string, reset bool) (string, error)
	// JoinGroup joins with an invite code or link and answers the group id.
	JoinGroup(ctx context.Context, sessionID, invite string) (string, error)
	LeaveGroup(ctx context.Context, sessionID, groupID string) error
	// UpdateGroup applies the non-nil fields of u.
	UpdateGroup(ctx context.Context, sessionID, groupID string, u GroupUpdate) error
}

// Group describes a group.
type Group struct {
	ID           string             `json:"id" example:"120363041234567890@g.us"`
	Name         string             `json:"name" example:"Equipe de vendas"`
	Description  string             `json:"description,omitempty" example:"Avisos da equipe"`
	Owner        string             `json:"owner,omitempty" example:"5511900000000"`
	CreatedAt    *time.Time         `json:"createdAt,omitempty"`
	Announce     bool               `json:"announce" doc:"Só administradores enviam mensagens"`
	Locked       bool               `json:"locked" doc:"Só administradores editam nome, descrição e foto"`
	Size         int                `json:"size" example:"3"`
	Participants []GroupParticipant `json:"participants,omitempty"`
}

// GroupParticipant is a member of a group.
type GroupParticipant struct {
	// ID is the participant's phone digits when known, else its JID (LID).
	ID         string `json:"id" example:"5511988887777"`
	LID        string `json:"lid,omitempty" example:"123456789012345@lid"`
	Admin      bool   `json:"admin"`
	SuperAdmin bool   `json:"superAdmin,omitempty"`
}

// CreateGroupParams create a group.
type CreateGroupParams struct {
	Name         string
	Participants []string
}

// ParticipantAction changes participants.
type ParticipantAction string

// Participant actions.
const (
	ParticipantAdd     ParticipantAction = "add"
	ParticipantRemove  ParticipantAction = "remove"
	ParticipantPromote ParticipantAction = "promote"
	ParticipantDemote  ParticipantAction = "demote"
)

// Valid reports whether a is a known action.
func (a ParticipantAction) Valid() bool {
	switch a {
	case ParticipantAdd, ParticipantRemove, ParticipantPromote, ParticipantDemote:
		return true
	}
	return false
}

// ParticipantResult is the outcome for one participant (Error is WhatsApp's
// code, e.g. 403 when the contact's privacy forbids being added).
type ParticipantResult struct {
	ID    string `json:"id" example:"5511988887777"`
	Error int    `json:"error,omitempty" doc:"Código do WhatsApp quando falhou para este participante (ex.: 403 privacidade, 409 já no grupo)"`
}

// GroupUpdate changes group properties; nil fields stay as they are.
type GroupUpdate struct {
	Name        *string
	Description *string
	// Photo is a JPEG; an empty non-nil slice removes the picture.
	Photo    []byte
	Announce *bool
	Locked   *bool
}

// ChatPresence is what the account shows in a chat.
type ChatPresence string

// Chat presences.
const (
	PresenceTyping    ChatPresence = "typing"
	PresenceRecording ChatPresence = "recording"
	PresencePaused    ChatPresence = "paused"
)

// PresenceSender shows typing/recording in a chat and subscribes to a
// contact's online presence (reported as change-feed events, topic presence).
type PresenceSender interface {
	SendChatPresence(ctx context.Context, sessionID, to string, state ChatPresence) error
	SubscribePresence(ctx context.Context, tenantID, sessionID, contact string) error
}

// ContactProfiler answers public profile data of a contact.
type ContactProfiler interface {
	// ProfilePicture answers the picture (ErrNotFound when there is none or
	// the contact's privacy hides it).
	ProfilePicture(ctx context.Context, sessionID, contact string, preview bool) (ProfilePicture, error)
	BusinessProfile(ctx context.Context, sessionID, contact string) (BusinessProfile, error)
}

// ProfilePicture is a contact's or group's picture.
type ProfilePicture struct {
	URL string `json:"url" example:"https://pps.whatsapp.net/v/t61.24694-24/123_456.jpg"`
	ID  string `json:"id,omitempty" example:"1712345678"`
}

// BusinessProfile is a WhatsApp Business account's public profile.
type BusinessProfile struct {
	ID          string   `json:"id" example:"5511988887777"`
	Address     string   `json:"address,omitempty" example:"Av. Paulista, 1000, São Paulo"`
	Email       string   `json:"email,omitempty" example:"contato@exemplo.com.br"`
	Categories  []string `json:"categories,omitempty" example:"[\"Loja de roupas\"]"`
	Description string   `json:"description,omitempty"`
	Websites    []string `json:"websites,omitempty"`
	TimeZone    string   `json:"timeZone,omitempty" example:"America/Sao_Paulo"`
}

// Blocker blocks and unblocks contacts.
type Blocker interface {
	SetBlocked(ctx context.Context, sessionID, contact string, blocked bool) error
	Blocklist(ctx context.Context, sessionID string) ([]string, error)
}

// SessionSettings are the per-session behaviours Evolution API calls
// "instance settings". The host stores them (wa.session_settings); providers
// that act on them implement SettingsApplier.
type SessionSettings struct {
	RejectCalls bool `json:"rejectCalls"`
	// RejectCallMessage is sent to the caller after a rejected call.
	RejectCallMessage string `json:"rejectCallMessage,omitempty"`
	// IgnoreGroups drops inbound group messages.
	IgnoreGroups bool `json:"ignoreGroups"`
	// IgnoreBroadcasts drops status updates and broadcast-list messages.
	IgnoreBroadcasts bool `json:"ignoreBroadcasts"`
	// AlwaysOnline keeps the account shown as online.
	AlwaysOnline bool `json:"alwaysOnline"`
	// AutoRead marks every inbound message read once stored.
	AutoRead bool `json:"autoRead"`
}

// SettingsApplier is told when a session's settings change (and applies
// them at once: always-online presence, call handling...).
type SettingsApplier interface {
	ApplySettings(ctx context.Context, sessionID string, s SessionSettings) error
}

// FeedEvent is a channel event that is not a message row: a call, a
// contact's presence. It goes into the change feed (wa.change_log) for SSE
// and outgoing webhooks.
type FeedEvent struct {
	TenantID  string
	SessionID string
	// Topic is FeedTopicCall, FeedTopicPresence or FeedTopicGroup.
	Topic string
	// Chat is the contact (phone digits or JID) the event belongs to.
	Chat string
	Data map[string]any
}

// Change-feed topics written by providers.
const (
	FeedTopicCall     = "call"
	FeedTopicPresence = "presence"
	// FeedTopicGroup: members joined/left/promoted/demoted, group settings
	// changed, the account joined a group (WhatsApp Web).
	FeedTopicGroup = "group"
)

// FeedSink records FeedEvents durably (supabase.ChangeFeed).
type FeedSink interface {
	RecordEvent(ctx context.Context, e FeedEvent) error
}

// Outbox queues an outbound text as a normal pending row of a session (a
// call-rejection message): it is then sent by the pipeline, durable and
// visible like any message (supabase.ChangeFeed).
type Outbox interface {
	QueueText(ctx context.Context, q QueuedText) error
}

// QueuedText is an outbound text a provider asks the host to send.
type QueuedText struct {
	TenantID, SessionID string
	Provider            string
	To, Text            string
	// Trigger is stored in metadata.trigger (e.g. "call_rejected").
	Trigger string
}

// Poll limits of WhatsApp.
const (
	MaxPollOptions   = 12
	MaxPollNameLen   = 255
	MaxPollOptionLen = 100
)

// Validate checks a poll against WhatsApp's limits; the error text is pt-BR
// (shown to API callers).
func (p *Poll) Validate() error {
	if p == nil || strings.TrimSpace(p.Name) == "" {
		return errors.New("enquete sem pergunta (poll.name)")
	}
	if len([]rune(p.Name)) > MaxPollNameLen {
		return fmt.Errorf("a pergunta da enquete tem no máximo %d caracteres", MaxPollNameLen)
	}
	if len(p.Options) < 2 || len(p.Options) > MaxPollOptions {
		return fmt.Errorf("a enquete precisa de 2 a %d opções", MaxPollOptions)
	}
	seen := map[string]bool{}
	for _, o := range p.Options {
		if strings.TrimSpace(o) == "" || len([]rune(o)) > MaxPollOptionLen {
			return fmt.Errorf("cada opção da enquete tem de 1 a %d caracteres", MaxPollOptionLen)
		}
		if seen[o] {
			return fmt.Errorf("opção repetida na enquete: %s", o)
		}
		seen[o] = true
	}
	if p.SelectableCount < 0 || p.SelectableCount > len(p.Options) {
		return errors.New("poll.selectableCount deve estar entre 0 e o número de opções")
	}
	return nil
}
