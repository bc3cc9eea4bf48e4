package whatsmeow

import (
	"context"
	"sync"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase/providers"
)

// featFake is a fakeClient with the FeatureClient methods: it records the
// calls and answers what the test configured, with whatsmeow's own types
// and errors.
type featFake struct {
	*fakeClient

	fmu          sync.Mutex
	groups       []*types.GroupInfo
	groupErr     error
	created      []whatsmeow.ReqCreateGroup
	participants []whatsmeow.ParticipantChange
	changed      [][]types.JID
	setters      []string
	joined       []string
	votes        map[string][][]byte // voter JID → selected option hashes
	lidFails     bool                // decrypting with a LID sender fails (PN/LID migration)
	decrypts     []types.JID
	chatStates   []types.ChatPresence
	subscribed   []types.JID
	presences    []types.Presence
	rejected     []string
	picture      *types.ProfilePictureInfo
	pictureErr   error
	business     *types.BusinessProfile
	blocklist    []events.BlocklistChangeAction
}

var _ FeatureClient = (*featFake)(nil)

func (f *featFake) record(s string) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.setters = append(f.setters, s)
}

func (f *featFake) GetJoinedGroups(ctx context.Context) ([]*types.GroupInfo, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	return f.groups, f.groupErr
}
func (f *featFake) CreateGroup(ctx context.Context, req whatsmeow.ReqCreateGroup) (*types.GroupInfo, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.created = append(f.created, req)
	g := &types.GroupInfo{JID: types.NewJID("120363000000000001", types.GroupServer), GroupName: types.GroupName{Name: req.Name}}
	for _, p := range req.Participants {
		g.Participants = append(g.Participants, types.GroupParticipant{JID: p, PhoneNumber: p})
	}
	return g, nil
}
func (f *featFake) GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	for _, g := range f.groups {
		if g.JID == jid {
			return g, nil
		}
	}
	if f.groupErr != nil {
		return nil, f.groupErr
	}
	return nil, whatsmeow.ErrGroupNotFound
}
func (f *featFake) UpdateGroupParticipants(ctx context.Context, jid types.JID, changes []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.participants = append(f.participants, action)
	f.changed = append(f.changed, changes)
	out := make([]types.GroupParticipant, 0, len(changes))
	for i, c := range changes {
		gp := types.GroupParticipant{JID: c}
		if i == 1 {
			gp.Error = 403
		}
		out = append(out, gp)
	}
	return out, nil
}
func (f *featFake) GetGroupInviteLink(ctx context.Context, jid types.JID, reset bool) (string, error) {
	if reset {
		return InviteLinkPrefix + "NEWCODE", nil
	}
	return InviteLinkPrefix + "OLDCODE", nil
}
func (f *featFake) JoinGroupWithLink(ctx context.Context, code string) (types.JID, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.joined = append(f.joined, code)
	if code == "REVOKED" {
		return types.EmptyJID, whatsmeow.ErrInviteLinkRevoked
	}
	return types.NewJID("120363000000000002", types.GroupServer), nil
}
func (f *featFake) LeaveGroup(ctx context.Context, jid types.JID) error {
	f.record("leave " + jid.String())
	return nil
}
func (f *featFake) SetGroupName(ctx context.Context, jid types.JID, name string) error {
	f.record("name " + name)
	return nil
}
func (f *featFake) SetGroupDescription(ctx context.Context, jid types.JID, d string) error {
	f.record("description " + d)
	return nil
}
func (f *featFake) SetGroupPhoto(ctx context.Context, jid types.JID, avatar []byte) (string, error) {
	f.record("photo")
	return "1", nil
}
func (f *featFake) SetGroupAnnounce(ctx context.Context, jid types.JID, announce bool) error {
	if announce {
		f.record("announce on")
	} else {
		f.record("announce off")
	}
	return nil
}
func (f *featFake) SetGroupLocked(ctx context.Context, jid types.JID, locked bool) error {
	if locked {
		f.record("locked on")
	} else {
		f.record("locked off")
	}
	return nil
}

// BuildPollCreation builds the same message as whatsmeow's (a random secret
// in MessageContextInfo).
func (f *featFake) BuildPollCreation(name string, options []string, selectable int) *waE2E.Message {
	opts := make([]*waE2E.PollCreationMessage_Option, len(options))
	for i, o := range options {
		opts[i] = &waE2E.PollCreationMessage_Option{OptionName: proto.String(o)}
	}
	return &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String(name), Options: opts, SelectableOptionsCount: proto.Uint32(uint32(selectable))},
		MessageContextInfo:  &waE2E.MessageContextInfo{MessageSecret: make([]byte, 32)},
	}
}

func (f *featFake) DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	sender := vote.Info.Sender.ToNonAD()
	f.decrypts = append(f.decrypts, sender)
	if f.lidFails && sender.Server == types.HiddenUserServer {
		return nil, whatsmeow.ErrOriginalMessageSecretNotFound
	}
	sel, ok := f.votes[sender.String()]
	if !ok {
		return nil, whatsmeow.ErrOriginalMessageSecretNotFound
	}
	return &waE2E.PollVoteMessage{SelectedOptions: sel}, nil
}
func (f *featFake) SendChatState(ctx context.Context, to types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	if media == types.ChatPresenceMediaAudio {
		state += "/audio"
	}
	f.chatStates = append(f.chatStates, state)
	return nil
}
func (f *featFake) SubscribePresence(ctx context.Context, jid types.JID) error {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.subscribed = append(f.subscribed, jid)
	return nil
}
func (f *featFake) SendPresence(ctx context.Context, state types.Presence) error {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.presences = append(f.presences, state)
	return nil
}
func (f *featFake) RejectCall(ctx context.Context, from types.JID, callID string) error {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.rejected = append(f.rejected, callID+" "+from.String())
	return nil
}
func (f *featFake) GetProfilePictureInfo(ctx context.Context, jid types.JID, params *whatsmeow.GetProfilePictureParams) (*types.ProfilePictureInfo, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	return f.picture, f.pictureErr
}
func (f *featFake) GetBusinessProfile(ctx context.Context, jid types.JID) (*types.BusinessProfile, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	return f.business, nil
}
func (f *featFake) UpdateBlocklist(ctx context.Context, jid types.JID, action events.BlocklistChangeAction) (*types.Blocklist, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.blocklist = append(f.blocklist, action)
	return &types.Blocklist{JIDs: []types.JID{jid}}, nil
}
func (f *featFake) GetBlocklist(ctx context.Context) (*types.Blocklist, error) {
	return &types.Blocklist{JIDs: []types.JID{types.NewJID(contactPN, types.DefaultUserServer), types.NewJID("98765", types.HiddenUserServer)}}, nil
}

func (f *featFake) snapshot() featFake {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	return featFake{setters: append([]string(nil), f.setters...), rejected: append([]string(nil), f.rejected...),
		presences: append([]types.Presence(nil), f.presences...), chatStates: append([]types.ChatPresence(nil), f.chatStates...),
		decrypts: append([]types.JID(nil), f.decrypts...), participants: append([]whatsmeow.ParticipantChange(nil), f.participants...),
		subscribed: append([]types.JID(nil), f.subscribed...), blocklist: append([]events.BlocklistChangeAction(nil), f.blocklist...)}
}

// featureSession starts a provider driving one paired session whose client
// is a featFake, and waits until it is connected.
func featureSession(t *testing.T, mutate ...func(*Config)) (*fixture, *Provider, *featFake, *signalSink, string) {
	t.Helper()
	f := newFixture(t)
	jid := ownPN + ":7@s.whatsapp.net"
	id := f.addSession(t, ownPN, jid)
	fc := &featFake{fakeClient: newFakeClient(), votes: map[string][][]byte{}}
	sink := newSignalSink(f.pool)
	p := f.provider(t, &fakeDevices{}, sink, append([]func(*Config){func(c *Config) {
		c.NewClientFunc = func(ctx context.Context, j string) (Client, error) {
			if j != jid {
				return nil, ErrDeviceNotFound
			}
			return fc, nil
		}
	}}, mutate...)...)
	fc.waitConnect(t)
	fc.login(ownPN)
	fc.emit(&events.Connected{})
	sink.waitState(t, providers.StateConnected)
	return f, p, fc, sink, id
}
