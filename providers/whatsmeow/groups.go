package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// FeatureClient is the part of *whatsmeow.Client behind groups, polls,
// presence, calls and contact profiles. It is kept apart from Client so the
// core seam stays small: a client that lacks it (an older test fake) makes
// these operations answer unsupported_by_provider instead of failing to
// compile. The real client and whatsmeowfake implement it.
type FeatureClient interface {
	GetJoinedGroups(ctx context.Context) ([]*types.GroupInfo, error)
	CreateGroup(ctx context.Context, req whatsmeow.ReqCreateGroup) (*types.GroupInfo, error)
	GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error)
	UpdateGroupParticipants(ctx context.Context, jid types.JID, changes []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error)
	GetGroupInviteLink(ctx context.Context, jid types.JID, reset bool) (string, error)
	JoinGroupWithLink(ctx context.Context, code string) (types.JID, error)
	LeaveGroup(ctx context.Context, jid types.JID) error
	SetGroupName(ctx context.Context, jid types.JID, name string) error
	SetGroupDescription(ctx context.Context, jid types.JID, description string) error
	SetGroupPhoto(ctx context.Context, jid types.JID, avatar []byte) (string, error)
	SetGroupAnnounce(ctx context.Context, jid types.JID, announce bool) error
	SetGroupLocked(ctx context.Context, jid types.JID, locked bool) error

	BuildPollCreation(name string, options []string, selectable int) *waE2E.Message
	DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error)

	SendChatState(ctx context.Context, to types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	SubscribePresence(ctx context.Context, jid types.JID) error
	SendPresence(ctx context.Context, state types.Presence) error
	RejectCall(ctx context.Context, from types.JID, callID string) error

	GetProfilePictureInfo(ctx context.Context, jid types.JID, params *whatsmeow.GetProfilePictureParams) (*types.ProfilePictureInfo, error)
	GetBusinessProfile(ctx context.Context, jid types.JID) (*types.BusinessProfile, error)
	UpdateBlocklist(ctx context.Context, jid types.JID, action events.BlocklistChangeAction) (*types.Blocklist, error)
	GetBlocklist(ctx context.Context) (*types.Blocklist, error)
}

var (
	_ FeatureClient            = (*waClient)(nil)
	_ providers.GroupManager   = (*Provider)(nil)
	_ providers.PresenceSender = (*Provider)(nil)
)

// ---- waClient: FeatureClient over *whatsmeow.Client ----

func (c *waClient) GetJoinedGroups(ctx context.Context) ([]*types.GroupInfo, error) {
	return c.cli.GetJoinedGroups(ctx)
}
func (c *waClient) CreateGroup(ctx context.Context, req whatsmeow.ReqCreateGroup) (*types.GroupInfo, error) {
	return c.cli.CreateGroup(ctx, req)
}
func (c *waClient) GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error) {
	return c.cli.GetGroupInfo(ctx, jid)
}
func (c *waClient) UpdateGroupParticipants(ctx context.Context, jid types.JID, changes []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	return c.cli.UpdateGroupParticipants(ctx, jid, changes, action)
}
func (c *waClient) GetGroupInviteLink(ctx context.Context, jid types.JID, reset bool) (string, error) {
	return c.cli.GetGroupInviteLink(ctx, jid, reset)
}
func (c *waClient) JoinGroupWithLink(ctx context.Context, code string) (types.JID, error) {
	return c.cli.JoinGroupWithLink(ctx, code)
}
func (c *waClient) LeaveGroup(ctx context.Context, jid types.JID) error {
	return c.cli.LeaveGroup(ctx, jid)
}
func (c *waClient) SetGroupName(ctx context.Context, jid types.JID, name string) error {
	return c.cli.SetGroupName(ctx, jid, name)
}
func (c *waClient) SetGroupDescription(ctx context.Context, jid types.JID, description string) error {
	return c.cli.SetGroupDescription(ctx, jid, description)
}
func (c *waClient) SetGroupPhoto(ctx context.Context, jid types.JID, avatar []byte) (string, error) {
	return c.cli.SetGroupPhoto(ctx, jid, avatar)
}
func (c *waClient) SetGroupAnnounce(ctx context.Context, jid types.JID, announce bool) error {
	return c.cli.SetGroupAnnounce(ctx, jid, announce)
}
func (c *waClient) SetGroupLocked(ctx context.Context, jid types.JID, locked bool) error {
	return c.cli.SetGroupLocked(ctx, jid, locked)
}
func (c *waClient) BuildPollCreation(name string, options []string, selectable int) *waE2E.Message {
	return c.cli.BuildPollCreation(name, options, selectable)
}
func (c *waClient) DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
	return c.cli.DecryptPollVote(ctx, vote)
}
func (c *waClient) SendChatState(ctx context.Context, to types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	return c.cli.SendChatPresence(ctx, to, state, media)
}
func (c *waClient) SubscribePresence(ctx context.Context, jid types.JID) error {
	return c.cli.SubscribePresence(ctx, jid)
}
func (c *waClient) SendPresence(ctx context.Context, state types.Presence) error {
	return c.cli.SendPresence(ctx, state)
}
func (c *waClient) RejectCall(ctx context.Context, from types.JID, callID string) error {
	return c.cli.RejectCall(ctx, from, callID)
}
func (c *waClient) GetProfilePictureInfo(ctx context.Context, jid types.JID, params *whatsmeow.GetProfilePictureParams) (*types.ProfilePictureInfo, error) {
	return c.cli.GetProfilePictureInfo(ctx, jid, params)
}
func (c *waClient) GetBusinessProfile(ctx context.Context, jid types.JID) (*types.BusinessProfile, error) {
	return c.cli.GetBusinessProfile(ctx, jid)
}
func (c *waClient) UpdateBlocklist(ctx context.Context, jid types.JID, action events.BlocklistChangeAction) (*types.Blocklist, error) {
	return c.cli.UpdateBlocklist(ctx, jid, action)
}
func (c *waClient) GetBlocklist(ctx context.Context) (*types.Blocklist, error) {
	return c.cli.GetBlocklist(ctx)
}

// ---- helpers ----

// featureClient returns the connected client of a session this replica
// drives, with the FeatureClient methods.
func (p *Provider) featureClient(sessionID string) (*session, FeatureClient, error) {
	s, c, err := p.usableSession(sessionID)
	if err != nil {
		return nil, nil, err
	}
	fc, ok := c.(FeatureClient)
	if !ok {
		return nil, nil, &providers.PermanentError{Code: string(zapbase.CodeUnsupportedByProvider),
			Reason: "Este cliente do WhatsApp Web não oferece esta operação.", Err: providers.ErrUnsupported}
	}
	return s, fc, nil
}

// classifyFeatureError translates errors of group, profile and presence
// calls; what is not specific to them is classified as a send error.
func classifyFeatureError(op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", op, err)
	notFound := func(reason string) error {
		return &providers.PermanentError{Code: "not_found", Reason: reason, Err: errors.Join(providers.ErrNotFound, err)}
	}
	switch {
	case errors.Is(err, whatsmeow.ErrGroupNotFound):
		return notFound("Grupo não encontrado.")
	case errors.Is(err, whatsmeow.ErrNotInGroup):
		return notFound("Esta sessão não participa do grupo.")
	case errors.Is(err, whatsmeow.ErrProfilePictureNotSet), errors.Is(err, whatsmeow.ErrProfilePictureUnauthorized):
		return notFound("O contato não tem foto de perfil visível para esta sessão.")
	case errors.Is(err, whatsmeow.ErrInviteLinkInvalid):
		return &providers.PermanentError{Code: "invite_link_invalid", Reason: "Link de convite inválido.", Err: err}
	case errors.Is(err, whatsmeow.ErrInviteLinkRevoked):
		return &providers.PermanentError{Code: "invite_link_revoked", Reason: "O link de convite foi revogado.", Err: err}
	case errors.Is(err, whatsmeow.ErrGroupInviteLinkUnauthorized), errors.Is(err, whatsmeow.ErrIQNotAuthorized),
		errors.Is(err, whatsmeow.ErrIQForbidden):
		return &providers.PermanentError{Code: "group_not_admin", Reason: "A sessão precisa ser administradora do grupo para isso.", Err: err}
	}
	return classifySendError(err, nil)
}

func invalidInput(reason string, err error) error {
	return &providers.PermanentError{Code: CodeInvalidRecipient, Reason: reason, Err: err}
}

// parseGroupJID accepts "120363…@g.us" or the bare id digits.
func parseGroupJID(id string) (types.JID, error) {
	id = strings.TrimSpace(id)
	if !strings.Contains(id, "@") {
		id += "@" + types.GroupServer
	}
	j, err := types.ParseJID(id)
	if err != nil || j.Server != types.GroupServer || j.User == "" {
		return types.EmptyJID, invalidInput("Grupo inválido: use o JID do grupo (…@g.us).", fmt.Errorf("parse group %q: %v", id, err))
	}
	return j, nil
}

func parseContacts(list []string) ([]types.JID, error) {
	out := make([]types.JID, 0, len(list))
	for _, c := range list {
		j, err := parseRecipient(c)
		if err != nil || j.Server == types.GroupServer {
			return nil, invalidInput(fmt.Sprintf("Participante inválido: %s.", c), fmt.Errorf("parse participant %q: %v", c, err))
		}
		out = append(out, j)
	}
	return out, nil
}

// contactID is how zapbase names a contact: phone digits when known, else
// the JID (a LID).
func contactID(j, pn types.JID) string {
	switch {
	case !pn.IsEmpty():
		return pn.User
	case j.Server == types.DefaultUserServer:
		return j.User
	}
	return j.ToNonAD().String()
}

func mapGroup(g *types.GroupInfo) providers.Group {
	out := providers.Group{
		ID: g.JID.String(), Name: g.Name, Description: g.Topic, Announce: g.IsAnnounce, Locked: g.IsLocked,
		Size: g.ParticipantCount,
	}
	if !g.OwnerJID.IsEmpty() || !g.OwnerPN.IsEmpty() {
		out.Owner = contactID(g.OwnerJID, g.OwnerPN)
	}
	if !g.GroupCreated.IsZero() {
		t := g.GroupCreated
		out.CreatedAt = &t
	}
	for _, gp := range g.Participants {
		mp := providers.GroupParticipant{ID: contactID(gp.JID, gp.PhoneNumber), Admin: gp.IsAdmin || gp.IsSuperAdmin, SuperAdmin: gp.IsSuperAdmin}
		if !gp.LID.IsEmpty() {
			mp.LID = gp.LID.String()
		} else if gp.JID.Server == types.HiddenUserServer {
			mp.LID = gp.JID.String()
		}
		out.Participants = append(out.Participants, mp)
	}
	if out.Size < len(out.Participants) {
		out.Size = len(out.Participants)
	}
	return out
}

// ---- providers.GroupManager ----

// ListGroups implements providers.GroupManager.
func (p *Provider) ListGroups(ctx context.Context, sessionID string) ([]providers.Group, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return nil, err
	}
	gs, err := c.GetJoinedGroups(ctx)
	if err != nil {
		return nil, classifyFeatureError("list groups", err)
	}
	out := make([]providers.Group, 0, len(gs))
	for _, g := range gs {
		out = append(out, mapGroup(g))
	}
	return out, nil
}

// CreateGroup implements providers.GroupManager.
func (p *Provider) CreateGroup(ctx context.Context, sessionID string, cp providers.CreateGroupParams) (providers.Group, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return providers.Group{}, err
	}
	members, err := parseContacts(cp.Participants)
	if err != nil {
		return providers.Group{}, err
	}
	g, err := c.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: cp.Name, Participants: members})
	if err != nil {
		return providers.Group{}, classifyFeatureError("create group", err)
	}
	return mapGroup(g), nil
}

// GroupInfo implements providers.GroupManager.
func (p *Provider) GroupInfo(ctx context.Context, sessionID, groupID string) (providers.Group, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return providers.Group{}, err
	}
	j, err := parseGroupJID(groupID)
	if err != nil {
		return providers.Group{}, err
	}
	g, err := c.GetGroupInfo(ctx, j)
	if err != nil {
		return providers.Group{}, classifyFeatureError("group info", err)
	}
	return mapGroup(g), nil
}

// UpdateParticipants implements providers.GroupManager.
func (p *Provider) UpdateParticipants(ctx context.Context, sessionID, groupID string, action providers.ParticipantAction, participants []string) ([]providers.ParticipantResult, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return nil, err
	}
	j, err := parseGroupJID(groupID)
	if err != nil {
		return nil, err
	}
	members, err := parseContacts(participants)
	if err != nil {
		return nil, err
	}
	if !action.Valid() {
		return nil, invalidInput("Ação inválida: use add, remove, promote ou demote.", fmt.Errorf("action %q", action))
	}
	res, err := c.UpdateGroupParticipants(ctx, j, members, whatsmeow.ParticipantChange(action))
	if err != nil {
		return nil, classifyFeatureError("update participants", err)
	}
	out := make([]providers.ParticipantResult, 0, len(res))
	for _, r := range res {
		out = append(out, providers.ParticipantResult{ID: contactID(r.JID, r.PhoneNumber), Error: r.Error})
	}
	return out, nil
}

// GroupInviteLink implements providers.GroupManager.
func (p *Provider) GroupInviteLink(ctx context.Context, sessionID, groupID string, reset bool) (string, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return "", err
	}
	j, err := parseGroupJID(groupID)
	if err != nil {
		return "", err
	}
	link, err := c.GetGroupInviteLink(ctx, j, reset)
	return link, classifyFeatureError("group invite link", err)
}

// InviteLinkPrefix starts every WhatsApp group invite link.
const InviteLinkPrefix = "https://chat.whatsapp.com/"

// JoinGroup implements providers.GroupManager.
func (p *Provider) JoinGroup(ctx context.Context, sessionID, invite string) (string, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return "", err
	}
	code := strings.TrimPrefix(strings.TrimSpace(invite), InviteLinkPrefix)
	if code == "" || strings.ContainsAny(code, "/ ") {
		return "", &providers.PermanentError{Code: "invite_link_invalid", Reason: "Link de convite inválido.", Err: fmt.Errorf("invite %q", invite)}
	}
	j, err := c.JoinGroupWithLink(ctx, code)
	if err != nil {
		return "", classifyFeatureError("join group", err)
	}
	return j.String(), nil
}

// LeaveGroup implements providers.GroupManager.
func (p *Provider) LeaveGroup(ctx context.Context, sessionID, groupID string) error {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return err
	}
	j, err := parseGroupJID(groupID)
	if err != nil {
		return err
	}
	return classifyFeatureError("leave group", c.LeaveGroup(ctx, j))
}

// UpdateGroup implements providers.GroupManager.
func (p *Provider) UpdateGroup(ctx context.Context, sessionID, groupID string, u providers.GroupUpdate) error {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return err
	}
	j, err := parseGroupJID(groupID)
	if err != nil {
		return err
	}
	if u.Name != nil {
		if err := c.SetGroupName(ctx, j, *u.Name); err != nil {
			return classifyFeatureError("set group name", err)
		}
	}
	if u.Description != nil {
		if err := c.SetGroupDescription(ctx, j, *u.Description); err != nil {
			return classifyFeatureError("set group description", err)
		}
	}
	if u.Photo != nil {
		if _, err := c.SetGroupPhoto(ctx, j, u.Photo); err != nil {
			return classifyFeatureError("set group photo", err)
		}
	}
	if u.Announce != nil {
		if err := c.SetGroupAnnounce(ctx, j, *u.Announce); err != nil {
			return classifyFeatureError("set group announce", err)
		}
	}
	if u.Locked != nil {
		if err := c.SetGroupLocked(ctx, j, *u.Locked); err != nil {
			return classifyFeatureError("set group locked", err)
		}
	}
	return nil
}

// ---- providers.PresenceSender ----

// SendChatPresence implements providers.PresenceSender.
func (p *Provider) SendChatPresence(ctx context.Context, sessionID, to string, state providers.ChatPresence) error {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return err
	}
	j, err := parseRecipient(to)
	if err != nil {
		return invalidInput("Destinatário inválido.", err)
	}
	st, media := types.ChatPresencePaused, types.ChatPresenceMediaText
	switch state {
	case providers.PresenceTyping:
		st = types.ChatPresenceComposing
	case providers.PresenceRecording:
		st, media = types.ChatPresenceComposing, types.ChatPresenceMediaAudio
	case providers.PresencePaused:
	default:
		return invalidInput("Estado inválido: use typing, recording ou paused.", fmt.Errorf("presence %q", state))
	}
	return classifyFeatureError("send chat presence", c.SendChatState(ctx, j, st, media))
}

// SubscribePresence implements providers.PresenceSender: the contact's
// online/offline changes arrive as change-feed events (topic presence).
// WhatsApp only reports them while the account itself is online.
func (p *Provider) SubscribePresence(ctx context.Context, tenantID, sessionID, contact string) error {
	s, c, err := p.featureClient(sessionID)
	if err != nil {
		return err
	}
	if tenantID != s.tenantID {
		return &providers.PermanentError{Code: "session_not_found", Reason: "Sessão não encontrada.", Err: errSessionNotFound}
	}
	j, err := parseRecipient(contact)
	if err != nil || j.Server == types.GroupServer {
		return invalidInput("Contato inválido.", fmt.Errorf("parse contact %q: %v", contact, err))
	}
	return classifyFeatureError("subscribe presence", c.SubscribePresence(ctx, j))
}

// recordPresence puts a presence event into the change feed.
func (s *session) recordPresence(evt any) {
	var fe providers.FeedEvent
	switch e := evt.(type) {
	case *events.Presence:
		data := map[string]any{"contact": contactID(e.From, types.EmptyJID), "available": !e.Unavailable}
		if !e.LastSeen.IsZero() {
			data["last_seen"] = e.LastSeen.UTC().Format(time.RFC3339)
		}
		fe = providers.FeedEvent{Chat: contactID(e.From, types.EmptyJID), Data: data}
	case *events.ChatPresence:
		state := string(e.State)
		if e.State == types.ChatPresenceComposing {
			state = string(providers.PresenceTyping)
			if e.Media == types.ChatPresenceMediaAudio {
				state = string(providers.PresenceRecording)
			}
		}
		chat := contactID(e.Chat, types.EmptyJID)
		if e.IsGroup {
			chat = e.Chat.ToNonAD().String()
		}
		fe = providers.FeedEvent{Chat: chat, Data: map[string]any{"contact": contactID(e.Sender, pnOnly(e.SenderAlt)), "chat": chat, "state": state, "is_group": e.IsGroup}}
	default:
		return
	}
	fe.Topic = providers.FeedTopicPresence
	s.recordFeed(fe)
}

// recordGroupEvent puts group changes (members joined, left, promoted or
// demoted; name, description and settings changed; this account joined a
// group) into the change feed, topic group: what "welcome new member" flows
// react to.
func (s *session) recordGroupEvent(evt any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	c := s.currentClient()
	contacts := func(js []types.JID) []string {
		out := make([]string, 0, len(js))
		for _, j := range js {
			pn := pnOnly(j)
			if pn.IsEmpty() && j.Server == types.HiddenUserServer && c != nil {
				if got, err := c.GetPNForLID(ctx, j.ToNonAD()); err == nil {
					pn = got
				}
			}
			out = append(out, contactID(j, pn))
		}
		return out
	}
	var data map[string]any
	var group types.JID
	switch e := evt.(type) {
	case *events.GroupInfo:
		group = e.JID
		data = map[string]any{"event": "update"}
		if e.Sender != nil {
			pn := types.EmptyJID
			if e.SenderPN != nil {
				pn = *e.SenderPN
			}
			data["by"] = contactID(*e.Sender, pn)
		}
		for k, js := range map[string][]types.JID{"joined": e.Join, "left": e.Leave, "promoted": e.Promote, "demoted": e.Demote} {
			if len(js) > 0 {
				data[k] = contacts(js)
			}
		}
		if e.Name != nil {
			data["name"] = e.Name.Name
		}
		if e.Topic != nil {
			data["description"] = e.Topic.Topic
		}
		if e.Announce != nil {
			data["announce"] = e.Announce.IsAnnounce
		}
		if e.Locked != nil {
			data["locked"] = e.Locked.IsLocked
		}
		if e.NewInviteLink != nil {
			data["invite_link_changed"] = true
		}
		if e.JoinReason != "" {
			data["join_reason"] = e.JoinReason
		}
	case *events.JoinedGroup:
		group = e.JID
		data = map[string]any{"event": "joined", "name": e.Name}
		if e.Reason != "" {
			data["reason"] = e.Reason
		}
	default:
		return
	}
	data["group"] = group.String()
	s.recordFeed(providers.FeedEvent{Topic: providers.FeedTopicGroup, Chat: group.String(), Data: data})
}
