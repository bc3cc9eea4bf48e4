package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// The simulator's groups, presence, contact profiles, blocklist, settings
// and calls, so `zapbase dev` and the API tests exercise every endpoint
// without a phone. Deterministic rules for contacts:
//
//   - numbers ending in 0 have no (visible) profile picture;
//   - numbers ending in 1 are WhatsApp Business accounts (business profile);
//   - every other number has a picture at https://sandbox.zapbase.invalid/pp/<number>.jpg.

var (
	_ providers.GroupManager    = (*Provider)(nil)
	_ providers.PresenceSender  = (*Provider)(nil)
	_ providers.ContactProfiler = (*Provider)(nil)
	_ providers.Blocker         = (*Provider)(nil)
	_ providers.SettingsApplier = (*Provider)(nil)
)

// features is the simulator's state beyond sending; it has its own lock.
type features struct {
	mu       sync.Mutex
	groups   map[string]*sbGroup        // by group id
	member   map[string]map[string]bool // session id → group ids it is in
	invites  map[string]string          // invite code → group id
	blocked  map[string]map[string]bool // session id → contacts
	settings map[string]providers.SessionSettings
	presence map[string]providers.ChatPresence // session|chat → last presence sent
	subs     map[string]map[string]bool        // session id → subscribed contacts
}

type sbGroup struct {
	g      providers.Group
	invite string
}

func (p *Provider) feat() *features {
	p.featOnce.Do(func() {
		p.features = &features{groups: map[string]*sbGroup{}, member: map[string]map[string]bool{}, invites: map[string]string{},
			blocked: map[string]map[string]bool{}, settings: map[string]providers.SessionSettings{},
			presence: map[string]providers.ChatPresence{}, subs: map[string]map[string]bool{}}
	})
	return p.features
}

func permanent(code, reason string, err error) error {
	return &providers.PermanentError{Code: code, Reason: reason, Err: err}
}

func notFound(reason string) error {
	return permanent("not_found", reason, fmt.Errorf("sandbox: %w", providers.ErrNotFound))
}

// usable refuses operations on a session the simulator knows is down.
func (p *Provider) usable(sessionID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.sessions[sessionID]; ok && !providers.Usable(st.State) {
		return &providers.SessionUnavailableError{State: st.State, Err: fmt.Errorf("sandbox session %s is %s", sessionID, st.State)}
	}
	return nil
}

// ownNumber is the session's number as Initialize saw it ("" if unknown).
func (p *Provider) ownNumber(sessionID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.TrimSuffix(p.sessions[sessionID].JID, "@sandbox")
}

// normContact validates a contact (digits with optional +, or a user JID)
// and answers its canonical form.
func normContact(c string) (string, error) {
	c = strings.TrimPrefix(strings.TrimSpace(c), "+")
	if strings.HasSuffix(c, "@s.whatsapp.net") {
		c = strings.TrimSuffix(c, "@s.whatsapp.net")
	}
	if !recipientPattern.MatchString(c) || strings.HasSuffix(c, "@g.us") {
		return "", permanent("invalid_recipient", "Contato inválido: informe o número com DDI e DDD.", fmt.Errorf("sandbox: invalid contact %q", c))
	}
	return c, nil
}

func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

func randomCode() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:22]
}

func (f *features) groupOf(sessionID, groupID string) (*sbGroup, error) {
	if !strings.HasSuffix(groupID, "@g.us") {
		groupID += "@g.us"
	}
	g, ok := f.groups[groupID]
	if !ok || !f.member[sessionID][groupID] {
		return nil, notFound("Grupo não encontrado.")
	}
	return g, nil
}

func copyGroup(g providers.Group) providers.Group {
	g.Participants = slices.Clone(g.Participants)
	g.Size = len(g.Participants)
	return g
}

// ListGroups implements providers.GroupManager.
func (p *Provider) ListGroups(ctx context.Context, sessionID string) ([]providers.Group, error) {
	if err := p.usable(sessionID); err != nil {
		return nil, err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []providers.Group{}
	for id := range f.member[sessionID] {
		out = append(out, copyGroup(f.groups[id].g))
	}
	slices.SortFunc(out, func(a, b providers.Group) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// CreateGroup implements providers.GroupManager.
func (p *Provider) CreateGroup(ctx context.Context, sessionID string, cp providers.CreateGroupParams) (providers.Group, error) {
	if err := p.usable(sessionID); err != nil {
		return providers.Group{}, err
	}
	if strings.TrimSpace(cp.Name) == "" || len([]rune(cp.Name)) > 100 {
		return providers.Group{}, permanent("invalid_content", "O nome do grupo deve ter de 1 a 100 caracteres.", errors.New("sandbox: bad group name"))
	}
	now := time.Now().UTC().Truncate(time.Second)
	own := p.ownNumber(sessionID)
	g := providers.Group{ID: "120363" + randomDigits(12) + "@g.us", Name: cp.Name, Owner: own, CreatedAt: &now}
	if own != "" {
		g.Participants = append(g.Participants, providers.GroupParticipant{ID: own, Admin: true, SuperAdmin: true})
	}
	for _, c := range cp.Participants {
		id, err := normContact(c)
		if err != nil {
			return providers.Group{}, err
		}
		g.Participants = append(g.Participants, providers.GroupParticipant{ID: id})
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[g.ID] = &sbGroup{g: g}
	if f.member[sessionID] == nil {
		f.member[sessionID] = map[string]bool{}
	}
	f.member[sessionID][g.ID] = true
	return copyGroup(g), nil
}

// GroupInfo implements providers.GroupManager.
func (p *Provider) GroupInfo(ctx context.Context, sessionID, groupID string) (providers.Group, error) {
	if err := p.usable(sessionID); err != nil {
		return providers.Group{}, err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.groupOf(sessionID, groupID)
	if err != nil {
		return providers.Group{}, err
	}
	return copyGroup(g.g), nil
}

// UpdateParticipants implements providers.GroupManager. Per participant it
// answers WhatsApp's codes: 409 already in the group, 404 not in it.
func (p *Provider) UpdateParticipants(ctx context.Context, sessionID, groupID string, action providers.ParticipantAction, participants []string) ([]providers.ParticipantResult, error) {
	if err := p.usable(sessionID); err != nil {
		return nil, err
	}
	if !action.Valid() {
		return nil, permanent("invalid_content", "Ação inválida: use add, remove, promote ou demote.", fmt.Errorf("sandbox: action %q", action))
	}
	ids := make([]string, 0, len(participants))
	for _, c := range participants {
		id, err := normContact(c)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.groupOf(sessionID, groupID)
	if err != nil {
		return nil, err
	}
	out := make([]providers.ParticipantResult, 0, len(ids))
	for _, id := range ids {
		i := slices.IndexFunc(g.g.Participants, func(gp providers.GroupParticipant) bool { return gp.ID == id })
		r := providers.ParticipantResult{ID: id}
		switch {
		case action == providers.ParticipantAdd && i >= 0:
			r.Error = 409
		case action == providers.ParticipantAdd:
			g.g.Participants = append(g.g.Participants, providers.GroupParticipant{ID: id})
		case i < 0:
			r.Error = 404
		case action == providers.ParticipantRemove:
			g.g.Participants = slices.Delete(g.g.Participants, i, i+1)
		case action == providers.ParticipantPromote:
			g.g.Participants[i].Admin = true
		case action == providers.ParticipantDemote:
			g.g.Participants[i].Admin, g.g.Participants[i].SuperAdmin = false, false
		}
		out = append(out, r)
	}
	return out, nil
}

// GroupInviteLink implements providers.GroupManager.
func (p *Provider) GroupInviteLink(ctx context.Context, sessionID, groupID string, reset bool) (string, error) {
	if err := p.usable(sessionID); err != nil {
		return "", err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.groupOf(sessionID, groupID)
	if err != nil {
		return "", err
	}
	if g.invite == "" || reset {
		delete(f.invites, g.invite)
		g.invite = randomCode()
		f.invites[g.invite] = g.g.ID
	}
	return "https://chat.whatsapp.com/" + g.invite, nil
}

// JoinGroup implements providers.GroupManager (links of this simulator's
// groups only).
func (p *Provider) JoinGroup(ctx context.Context, sessionID, invite string) (string, error) {
	if err := p.usable(sessionID); err != nil {
		return "", err
	}
	code := strings.TrimPrefix(strings.TrimSpace(invite), "https://chat.whatsapp.com/")
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.invites[code]
	if !ok {
		return "", permanent("invite_link_invalid", "Link de convite inválido ou revogado.", errors.New("sandbox: unknown invite"))
	}
	if f.member[sessionID] == nil {
		f.member[sessionID] = map[string]bool{}
	}
	f.member[sessionID][id] = true
	g := f.groups[id]
	if own := p.ownNumber(sessionID); own != "" && !slices.ContainsFunc(g.g.Participants, func(gp providers.GroupParticipant) bool { return gp.ID == own }) {
		g.g.Participants = append(g.g.Participants, providers.GroupParticipant{ID: own})
	}
	return id, nil
}

// LeaveGroup implements providers.GroupManager.
func (p *Provider) LeaveGroup(ctx context.Context, sessionID, groupID string) error {
	if err := p.usable(sessionID); err != nil {
		return err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.groupOf(sessionID, groupID)
	if err != nil {
		return err
	}
	delete(f.member[sessionID], g.g.ID)
	if own := p.ownNumber(sessionID); own != "" {
		g.g.Participants = slices.DeleteFunc(g.g.Participants, func(gp providers.GroupParticipant) bool { return gp.ID == own })
	}
	return nil
}

// UpdateGroup implements providers.GroupManager.
func (p *Provider) UpdateGroup(ctx context.Context, sessionID, groupID string, u providers.GroupUpdate) error {
	if err := p.usable(sessionID); err != nil {
		return err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.groupOf(sessionID, groupID)
	if err != nil {
		return err
	}
	if u.Name != nil {
		g.g.Name = *u.Name
	}
	if u.Description != nil {
		g.g.Description = *u.Description
	}
	if u.Announce != nil {
		g.g.Announce = *u.Announce
	}
	if u.Locked != nil {
		g.g.Locked = *u.Locked
	}
	return nil
}

// SendChatPresence implements providers.PresenceSender (see ChatPresenceOf).
func (p *Provider) SendChatPresence(ctx context.Context, sessionID, to string, state providers.ChatPresence) error {
	if err := p.usable(sessionID); err != nil {
		return err
	}
	f := p.feat()
	f.mu.Lock()
	f.presence[sessionID+"|"+to] = state
	f.mu.Unlock()
	p.mu.Lock()
	p.typing[sessionID+"|"+to] = state == providers.PresenceTyping || state == providers.PresenceRecording
	p.mu.Unlock()
	return nil
}

// ChatPresenceOf answers the last presence sent in the chat with to.
func (p *Provider) ChatPresenceOf(sessionID, to string) providers.ChatPresence {
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.presence[sessionID+"|"+to]
}

// SubscribePresence implements providers.PresenceSender: the simulated
// contact is online at once, reported to the change feed (topic presence).
func (p *Provider) SubscribePresence(ctx context.Context, tenantID, sessionID, contact string) error {
	if err := p.usable(sessionID); err != nil {
		return err
	}
	id, err := normContact(contact)
	if err != nil {
		return err
	}
	f := p.feat()
	f.mu.Lock()
	if f.subs[sessionID] == nil {
		f.subs[sessionID] = map[string]bool{}
	}
	f.subs[sessionID][id] = true
	f.mu.Unlock()
	return p.SimulatePresence(ctx, PresenceParams{SessionID: sessionID, TenantID: tenantID, Contact: id, Available: true})
}

// PresenceParams describe a contact's simulated presence change.
type PresenceParams struct {
	TenantID, SessionID string
	Contact             string
	Available           bool
}

// SimulatePresence reports a contact's presence to the change feed.
func (p *Provider) SimulatePresence(ctx context.Context, pp PresenceParams) error {
	if p.cfg.Feed == nil || pp.TenantID == "" {
		return nil
	}
	return p.cfg.Feed.RecordEvent(ctx, providers.FeedEvent{TenantID: pp.TenantID, SessionID: pp.SessionID,
		Topic: providers.FeedTopicPresence, Chat: pp.Contact,
		Data: map[string]any{"contact": pp.Contact, "available": pp.Available}})
}

// ProfilePicture implements providers.ContactProfiler.
func (p *Provider) ProfilePicture(ctx context.Context, sessionID, contact string, preview bool) (providers.ProfilePicture, error) {
	if err := p.usable(sessionID); err != nil {
		return providers.ProfilePicture{}, err
	}
	id := strings.TrimPrefix(strings.TrimSpace(contact), "+")
	if !recipientPattern.MatchString(id) {
		return providers.ProfilePicture{}, permanent("invalid_recipient", "Contato inválido.", fmt.Errorf("sandbox: invalid contact %q", contact))
	}
	if strings.HasSuffix(id, "0") {
		return providers.ProfilePicture{}, notFound("O contato não tem foto de perfil visível para esta sessão.")
	}
	kind := "full"
	if preview {
		kind = "preview"
	}
	return providers.ProfilePicture{URL: "https://sandbox.zapbase.invalid/pp/" + strings.TrimSuffix(id, "@g.us") + ".jpg?type=" + kind, ID: "1700000000"}, nil
}

// BusinessProfile implements providers.ContactProfiler.
func (p *Provider) BusinessProfile(ctx context.Context, sessionID, contact string) (providers.BusinessProfile, error) {
	if err := p.usable(sessionID); err != nil {
		return providers.BusinessProfile{}, err
	}
	id, err := normContact(contact)
	if err != nil {
		return providers.BusinessProfile{}, err
	}
	if !strings.HasSuffix(id, "1") {
		return providers.BusinessProfile{}, notFound("O contato não é uma conta comercial.")
	}
	return providers.BusinessProfile{ID: id, Address: "Av. Paulista, 1000, São Paulo - SP", Email: "contato@exemplo.com.br",
		Categories: []string{"Loja de roupas"}, Description: "Conta comercial simulada pelo sandbox.",
		Websites: []string{"https://exemplo.com.br"}, TimeZone: "America/Sao_Paulo"}, nil
}

// SetBlocked implements providers.Blocker.
func (p *Provider) SetBlocked(ctx context.Context, sessionID, contact string, blocked bool) error {
	if err := p.usable(sessionID); err != nil {
		return err
	}
	id, err := normContact(contact)
	if err != nil {
		return err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blocked[sessionID] == nil {
		f.blocked[sessionID] = map[string]bool{}
	}
	if blocked {
		f.blocked[sessionID][id] = true
	} else {
		delete(f.blocked[sessionID], id)
	}
	return nil
}

// Blocklist implements providers.Blocker.
func (p *Provider) Blocklist(ctx context.Context, sessionID string) ([]string, error) {
	if err := p.usable(sessionID); err != nil {
		return nil, err
	}
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for id := range f.blocked[sessionID] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// ApplySettings implements providers.SettingsApplier.
func (p *Provider) ApplySettings(ctx context.Context, sessionID string, s providers.SessionSettings) error {
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings[sessionID] = s
	return nil
}

// Settings answers the settings last applied to a session.
func (p *Provider) Settings(sessionID string) providers.SessionSettings {
	f := p.feat()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings[sessionID]
}

// CallParams describe a simulated incoming call.
type CallParams struct {
	TenantID, SessionID string
	// From is the caller's number.
	From  string
	Video bool
	// CallID defaults to a fresh id.
	CallID string
}

// CallResult tells what the simulator did with a call.
type CallResult struct {
	CallID   string `json:"callId"`
	Rejected bool   `json:"rejected"`
	// MessageQueued: the rejection message became a pending outbound row.
	MessageQueued bool `json:"messageQueued"`
}

// SimulateCall makes a contact call the session. With reject-calls set the
// call is rejected and the optional message queued through the Outbox; the
// call is recorded in the change feed (topic call) either way.
func (p *Provider) SimulateCall(ctx context.Context, cp CallParams) (CallResult, error) {
	from, err := normContact(cp.From)
	if err != nil {
		return CallResult{}, err
	}
	res := CallResult{CallID: cp.CallID}
	if res.CallID == "" {
		res.CallID = randomCode()
	}
	st := p.Settings(cp.SessionID)
	data := map[string]any{"event": "offer", "call_id": res.CallID, "from": from, "video": cp.Video,
		"timestamp": time.Now().UTC().Format(time.RFC3339)}
	if st.RejectCalls {
		res.Rejected = true
		data["rejected"] = true
		if st.RejectCallMessage != "" && p.cfg.Outbox != nil {
			if err := p.cfg.Outbox.QueueText(ctx, providers.QueuedText{TenantID: cp.TenantID, SessionID: cp.SessionID,
				Provider: string(zapbase.ProviderSandbox), To: from, Text: st.RejectCallMessage, Trigger: "call_rejected"}); err != nil {
				return res, fmt.Errorf("sandbox simulate call: %w", err)
			}
			res.MessageQueued = true
		}
	}
	if p.cfg.Feed != nil {
		if err := p.cfg.Feed.RecordEvent(ctx, providers.FeedEvent{TenantID: cp.TenantID, SessionID: cp.SessionID,
			Topic: providers.FeedTopicCall, Chat: from, Data: data}); err != nil {
			return res, fmt.Errorf("sandbox simulate call: %w", err)
		}
	}
	return res, nil
}

// VoteParams describe a contact's simulated poll vote.
type VoteParams struct {
	TenantID, SessionID string
	From, To            string
	// PollMessageID is the poll's provider id; PollRowID its messages.id.
	PollMessageID, PollRowID string
	Options                  []string
}

// SimulatePollVote records a contact's vote as a poll_vote row, as a real
// channel's decrypted vote would be.
func (p *Provider) SimulatePollVote(ctx context.Context, vp VoteParams) (string, error) {
	opts := vp.Options
	if opts == nil {
		opts = []string{}
	}
	return p.SimulateInbound(ctx, InboundParams{TenantID: vp.TenantID, SessionID: vp.SessionID, From: vp.From, To: vp.To,
		Type: zapbase.MessagePollVote, Content: providers.Content{TargetMessageID: vp.PollMessageID,
			PollVote: &providers.PollVote{PollMessageID: vp.PollMessageID, PollRowID: vp.PollRowID, SelectedOptions: opts}}})
}
