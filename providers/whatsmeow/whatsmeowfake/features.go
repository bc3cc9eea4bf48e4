package whatsmeowfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	wm "github.com/zapbase/zapbase/providers/whatsmeow"
)

// The fake's groups, presence, calls and contact profiles: enough state for
// end-to-end tests of the API over a "paired" device. Groups live in the
// fake device; invite links work between devices of the same Devices.

var _ wm.FeatureClient = (*Client)(nil)

type groupStore struct {
	mu      sync.Mutex
	groups  map[types.JID]*types.GroupInfo
	invites map[string]types.JID
	members map[types.JID]map[types.JID]bool // device → groups
	blocked map[types.JID]map[types.JID]bool
}

var (
	storesMu sync.Mutex
	stores   = map[*Devices]*groupStore{}
)

func (c *Client) store() *groupStore {
	storesMu.Lock()
	defer storesMu.Unlock()
	s := stores[c.d]
	if s == nil {
		s = &groupStore{groups: map[types.JID]*types.GroupInfo{}, invites: map[string]types.JID{},
			members: map[types.JID]map[types.JID]bool{}, blocked: map[types.JID]map[types.JID]bool{}}
		stores[c.d] = s
	}
	return s
}

func (c *Client) own() types.JID { return c.jid.ToNonAD() }

func (c *Client) loggedIn() error {
	if !c.IsLoggedIn() {
		return whatsmeow.ErrNotLoggedIn
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

func cloneGroup(g *types.GroupInfo) *types.GroupInfo {
	cp := *g
	cp.Participants = append([]types.GroupParticipant(nil), g.Participants...)
	cp.ParticipantCount = len(cp.Participants)
	return &cp
}

// GetJoinedGroups answers the device's groups.
func (c *Client) GetJoinedGroups(ctx context.Context) ([]*types.GroupInfo, error) {
	if err := c.loggedIn(); err != nil {
		return nil, err
	}
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*types.GroupInfo
	for j := range s.members[c.own()] {
		out = append(out, cloneGroup(s.groups[j]))
	}
	return out, nil
}

// CreateGroup creates a group with the device as super admin.
func (c *Client) CreateGroup(ctx context.Context, req whatsmeow.ReqCreateGroup) (*types.GroupInfo, error) {
	if err := c.loggedIn(); err != nil {
		return nil, err
	}
	g := &types.GroupInfo{JID: types.NewJID("120363"+randHex(6)[:12], types.GroupServer), OwnerJID: c.own(), OwnerPN: c.own(),
		GroupName: types.GroupName{Name: req.Name}, GroupCreated: time.Now().Truncate(time.Second)}
	g.JID.User = strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'F' {
			return '0' + (r - 'A')
		}
		return r
	}, g.JID.User)
	g.Participants = append(g.Participants, types.GroupParticipant{JID: c.own(), PhoneNumber: c.own(), IsAdmin: true, IsSuperAdmin: true})
	for _, p := range req.Participants {
		g.Participants = append(g.Participants, types.GroupParticipant{JID: p, PhoneNumber: p})
	}
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[g.JID] = g
	if s.members[c.own()] == nil {
		s.members[c.own()] = map[types.JID]bool{}
	}
	s.members[c.own()][g.JID] = true
	return cloneGroup(g), nil
}

func (s *groupStore) group(dev, jid types.JID) (*types.GroupInfo, error) {
	g, ok := s.groups[jid]
	if !ok {
		return nil, whatsmeow.ErrGroupNotFound
	}
	if !s.members[dev][jid] {
		return nil, whatsmeow.ErrNotInGroup
	}
	return g, nil
}

// GetGroupInfo answers a group the device is in.
func (c *Client) GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error) {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.group(c.own(), jid)
	if err != nil {
		return nil, err
	}
	return cloneGroup(g), nil
}

// UpdateGroupParticipants changes participants (409: already in, 404: not in).
func (c *Client) UpdateGroupParticipants(ctx context.Context, jid types.JID, changes []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.group(c.own(), jid)
	if err != nil {
		return nil, err
	}
	var out []types.GroupParticipant
	for _, j := range changes {
		i := -1
		for k, p := range g.Participants {
			if p.JID == j {
				i = k
			}
		}
		r := types.GroupParticipant{JID: j, PhoneNumber: j}
		switch {
		case action == whatsmeow.ParticipantChangeAdd && i >= 0:
			r.Error = 409
		case action == whatsmeow.ParticipantChangeAdd:
			g.Participants = append(g.Participants, types.GroupParticipant{JID: j, PhoneNumber: j})
		case i < 0:
			r.Error = 404
		case action == whatsmeow.ParticipantChangeRemove:
			g.Participants = append(g.Participants[:i], g.Participants[i+1:]...)
		case action == whatsmeow.ParticipantChangePromote:
			g.Participants[i].IsAdmin = true
		case action == whatsmeow.ParticipantChangeDemote:
			g.Participants[i].IsAdmin, g.Participants[i].IsSuperAdmin = false, false
		}
		out = append(out, r)
	}
	return out, nil
}

// GetGroupInviteLink answers (or resets) the group's link.
func (c *Client) GetGroupInviteLink(ctx context.Context, jid types.JID, reset bool) (string, error) {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.group(c.own(), jid); err != nil {
		return "", err
	}
	code := ""
	for k, v := range s.invites {
		if v == jid {
			code = k
		}
	}
	if code == "" || reset {
		delete(s.invites, code)
		code = randHex(11)
		s.invites[code] = jid
	}
	return wm.InviteLinkPrefix + code, nil
}

// JoinGroupWithLink joins a group of another fake device.
func (c *Client) JoinGroupWithLink(ctx context.Context, code string) (types.JID, error) {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	jid, ok := s.invites[code]
	if !ok {
		return types.EmptyJID, whatsmeow.ErrInviteLinkInvalid
	}
	if s.members[c.own()] == nil {
		s.members[c.own()] = map[types.JID]bool{}
	}
	s.members[c.own()][jid] = true
	g := s.groups[jid]
	g.Participants = append(g.Participants, types.GroupParticipant{JID: c.own(), PhoneNumber: c.own()})
	return jid, nil
}

// LeaveGroup leaves a group.
func (c *Client) LeaveGroup(ctx context.Context, jid types.JID) error {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.group(c.own(), jid)
	if err != nil {
		return err
	}
	delete(s.members[c.own()], jid)
	for i, p := range g.Participants {
		if p.JID == c.own() {
			g.Participants = append(g.Participants[:i], g.Participants[i+1:]...)
			break
		}
	}
	return nil
}

func (c *Client) editGroup(jid types.JID, edit func(g *types.GroupInfo)) error {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.group(c.own(), jid)
	if err != nil {
		return err
	}
	edit(g)
	return nil
}

// SetGroupName renames a group.
func (c *Client) SetGroupName(ctx context.Context, jid types.JID, name string) error {
	return c.editGroup(jid, func(g *types.GroupInfo) { g.Name = name })
}

// SetGroupDescription changes a group's description.
func (c *Client) SetGroupDescription(ctx context.Context, jid types.JID, d string) error {
	return c.editGroup(jid, func(g *types.GroupInfo) { g.Topic = d })
}

// SetGroupPhoto accepts any picture.
func (c *Client) SetGroupPhoto(ctx context.Context, jid types.JID, avatar []byte) (string, error) {
	return "1", c.editGroup(jid, func(*types.GroupInfo) {})
}

// SetGroupAnnounce changes who may send.
func (c *Client) SetGroupAnnounce(ctx context.Context, jid types.JID, announce bool) error {
	return c.editGroup(jid, func(g *types.GroupInfo) { g.IsAnnounce = announce })
}

// SetGroupLocked changes who may edit.
func (c *Client) SetGroupLocked(ctx context.Context, jid types.JID, locked bool) error {
	return c.editGroup(jid, func(g *types.GroupInfo) { g.IsLocked = locked })
}

// BuildPollCreation builds a poll as whatsmeow does.
func (c *Client) BuildPollCreation(name string, options []string, selectable int) *waE2E.Message {
	opts := make([]*waE2E.PollCreationMessage_Option, len(options))
	for i, o := range options {
		opts[i] = &waE2E.PollCreationMessage_Option{OptionName: proto.String(o)}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String(name), Options: opts, SelectableOptionsCount: proto.Uint32(uint32(selectable))},
		MessageContextInfo:  &waE2E.MessageContextInfo{MessageSecret: secret},
	}
}

// DecryptPollVote cannot decrypt (the fake keeps no secrets).
func (c *Client) DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
	return nil, whatsmeow.ErrOriginalMessageSecretNotFound
}

// SendChatState accepts chat presence.
func (c *Client) SendChatState(ctx context.Context, to types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	return c.loggedIn()
}

// SubscribePresence reports the contact online at once.
func (c *Client) SubscribePresence(ctx context.Context, jid types.JID) error {
	if err := c.loggedIn(); err != nil {
		return err
	}
	go c.emit(&events.Presence{From: jid})
	return nil
}

// SendPresence accepts the account's presence.
func (c *Client) SendPresence(ctx context.Context, state types.Presence) error { return c.loggedIn() }

// RejectCall accepts rejections.
func (c *Client) RejectCall(ctx context.Context, from types.JID, callID string) error {
	return c.loggedIn()
}

// GetProfilePictureInfo: every contact has a picture.
func (c *Client) GetProfilePictureInfo(ctx context.Context, jid types.JID, params *whatsmeow.GetProfilePictureParams) (*types.ProfilePictureInfo, error) {
	if err := c.loggedIn(); err != nil {
		return nil, err
	}
	return &types.ProfilePictureInfo{URL: "https://pps.whatsapp.net/fake/" + jid.User + ".jpg", ID: "1"}, nil
}

// GetBusinessProfile: no contact is a business account.
func (c *Client) GetBusinessProfile(ctx context.Context, jid types.JID) (*types.BusinessProfile, error) {
	return nil, c.loggedIn()
}

// UpdateBlocklist blocks or unblocks.
func (c *Client) UpdateBlocklist(ctx context.Context, jid types.JID, action events.BlocklistChangeAction) (*types.Blocklist, error) {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[c.own()] == nil {
		s.blocked[c.own()] = map[types.JID]bool{}
	}
	if action == events.BlocklistChangeActionBlock {
		s.blocked[c.own()][jid] = true
	} else {
		delete(s.blocked[c.own()], jid)
	}
	return c.blocklistLocked(s), nil
}

// GetBlocklist answers the blocked contacts.
func (c *Client) GetBlocklist(ctx context.Context) (*types.Blocklist, error) {
	s := c.store()
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.blocklistLocked(s), nil
}

func (c *Client) blocklistLocked(s *groupStore) *types.Blocklist {
	bl := &types.Blocklist{}
	for j := range s.blocked[c.own()] {
		bl.JIDs = append(bl.JIDs, j)
	}
	return bl
}
