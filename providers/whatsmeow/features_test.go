package whatsmeow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/zapbase/zapbase/store"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

func TestGroupManagement(t *testing.T) {
	t.Parallel()
	_, p, c, _, id := featureSession(t)
	ctx := context.Background()
	created := time.Unix(1767225600, 0).UTC()
	gid := types.NewJID("120363041234567890", types.GroupServer)
	c.groups = []*types.GroupInfo{{
		JID: gid, OwnerJID: types.NewJID("111", types.HiddenUserServer), OwnerPN: types.NewJID(ownPN, types.DefaultUserServer),
		GroupName: types.GroupName{Name: "Vendas"}, GroupTopic: types.GroupTopic{Topic: "Metas"},
		GroupAnnounce: types.GroupAnnounce{IsAnnounce: true}, GroupCreated: created, ParticipantCount: 3,
		Participants: []types.GroupParticipant{
			{JID: types.NewJID(ownPN, types.DefaultUserServer), IsAdmin: true, IsSuperAdmin: true},
			{JID: types.NewJID("123456789012345", types.HiddenUserServer), LID: types.NewJID("123456789012345", types.HiddenUserServer),
				PhoneNumber: types.NewJID(contactPN, types.DefaultUserServer)},
			{JID: types.NewJID("999", types.HiddenUserServer)},
		},
	}}

	gs, err := p.ListGroups(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []providers.Group{{
		ID: gid.String(), Name: "Vendas", Description: "Metas", Owner: ownPN, CreatedAt: &created, Announce: true, Size: 3,
		Participants: []providers.GroupParticipant{
			{ID: ownPN, Admin: true, SuperAdmin: true},
			{ID: contactPN, LID: "123456789012345@lid"},
			{ID: "999@lid", LID: "999@lid"},
		},
	}}, gs)

	g, err := p.GroupInfo(ctx, id, "120363041234567890")
	require.NoError(t, err)
	require.Equal(t, "Vendas", g.Name)
	_, err = p.GroupInfo(ctx, id, "120363000000000099@g.us")
	require.ErrorIs(t, err, providers.ErrNotFound)
	_, err = p.GroupInfo(ctx, id, "5511999998888@s.whatsapp.net")
	var perm *providers.PermanentError
	require.ErrorAs(t, err, &perm)
	require.Equal(t, CodeInvalidRecipient, perm.Code)

	ng, err := p.CreateGroup(ctx, id, providers.CreateGroupParams{Name: "Novo", Participants: []string{"+55 11 97777-6666", contactLID}})
	require.NoError(t, err)
	require.Equal(t, "120363000000000001@g.us", ng.ID)
	require.Equal(t, []types.JID{types.NewJID(contactPN, types.DefaultUserServer), types.NewJID("123456789012345", types.HiddenUserServer)}, c.created[0].Participants)

	res, err := p.UpdateParticipants(ctx, id, gid.String(), providers.ParticipantAdd, []string{"5511966665555", "5511955554444"})
	require.NoError(t, err)
	require.Equal(t, []providers.ParticipantResult{{ID: "5511966665555"}, {ID: "5511955554444", Error: 403}}, res)
	_, err = p.UpdateParticipants(ctx, id, gid.String(), providers.ParticipantDemote, []string{"5511966665555"})
	require.NoError(t, err)
	require.Equal(t, []whatsmeow.ParticipantChange{whatsmeow.ParticipantChangeAdd, whatsmeow.ParticipantChangeDemote}, c.snapshot().participants)

	link, err := p.GroupInviteLink(ctx, id, gid.String(), true)
	require.NoError(t, err)
	require.Equal(t, "https://chat.whatsapp.com/NEWCODE", link)
	joined, err := p.JoinGroup(ctx, id, "https://chat.whatsapp.com/ABC123")
	require.NoError(t, err)
	require.Equal(t, "120363000000000002@g.us", joined)
	require.Equal(t, []string{"ABC123"}, c.joined)
	_, err = p.JoinGroup(ctx, id, "REVOKED")
	require.ErrorAs(t, err, &perm)
	require.Equal(t, "invite_link_revoked", perm.Code)

	name, desc, off := "Vendas SP", "", false
	require.NoError(t, p.UpdateGroup(ctx, id, gid.String(), providers.GroupUpdate{Name: &name, Description: &desc, Announce: &off, Photo: []byte{0xFF, 0xD8}}))
	require.NoError(t, p.LeaveGroup(ctx, id, gid.String()))
	require.Equal(t, []string{"name Vendas SP", "description ", "photo", "announce off", "leave " + gid.String()}, c.snapshot().setters)

	// A session this replica does not drive is unavailable, not an error
	// of the group.
	_, err = p.ListGroups(ctx, "00000000-0000-0000-0000-000000000000")
	var unav *providers.SessionUnavailableError
	require.ErrorAs(t, err, &unav)
}

func TestGroupMessagesCarryTheParticipantAndGroupSendsAreAccepted(t *testing.T) {
	t.Parallel()
	f, p, c, sink, id := featureSession(t)
	gid := types.NewJID("120363041234567890", types.GroupServer)
	c.emit(&events.Message{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: gid, Sender: types.NewJID("123456789012345", types.HiddenUserServer),
			SenderAlt: types.NewJID(contactPN, types.DefaultUserServer), IsGroup: true},
		ID: "3EB0GROUP1", PushName: "Ana", Timestamp: time.Now(),
	}, Message: &waE2E.Message{Conversation: proto.String("bom dia, grupo")}})
	sink.waitInbound(t)
	var from string
	var meta map[string]any
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT from_number, metadata FROM public.messages WHERE message_id = '3EB0GROUP1'`).Scan(&from, &meta))
	require.Equal(t, contactPN, from, "the participant, as phone digits")
	require.Equal(t, gid.String(), meta["chat"])
	require.Equal(t, true, meta["isGroup"])
	require.Equal(t, contactLID, meta["fromAlt"])

	res, err := p.Send(context.Background(), providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: gid.String(),
		Type: zapbase.MessageText, Content: providers.Content{Text: "Olá, grupo!"}, ProviderMessageID: "3EB0OUTGROUP"})
	require.NoError(t, err)
	require.Equal(t, "3EB0OUTGROUP", res.ProviderMessageID)
	c.mu.Lock()
	require.Equal(t, gid, c.sent[0].To)
	c.mu.Unlock()
}

func TestPollSendAndDecryptedVotes(t *testing.T) {
	t.Parallel()
	f, p, c, sink, id := featureSession(t)
	ctx := context.Background()
	poll := &providers.Poll{Name: "Horário?", Options: []string{"Manhã", "Tarde", "Noite"}}
	_, err := p.Send(ctx, providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: contactPN, Type: zapbase.MessagePoll,
		Content: providers.Content{Poll: &providers.Poll{Name: "x", Options: []string{"só uma"}}}, ProviderMessageID: "3EB0BADPOLL"})
	var perm *providers.PermanentError
	require.ErrorAs(t, err, &perm)
	require.Equal(t, CodeInvalidContent, perm.Code)

	_, err = p.Send(ctx, providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: contactPN, Type: zapbase.MessagePoll,
		Content: providers.Content{Poll: poll}, ProviderMessageID: "3EB0POLL1"})
	require.NoError(t, err)
	c.mu.Lock()
	sent := c.sent[0].Msg
	c.mu.Unlock()
	require.Equal(t, "Horário?", sent.GetPollCreationMessage().GetName())
	require.Len(t, sent.GetPollCreationMessage().GetOptions(), 3)
	require.Len(t, sent.GetMessageContextInfo().GetMessageSecret(), 32)

	// The poll's row, as dispatch leaves it after the send.
	content, _ := json.Marshal(providers.Content{Poll: poll})
	var pollRow string
	require.NoError(t, f.pool.QueryRow(ctx, `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, message_type, content, status, provider)
VALUES ($1, $2, '3EB0POLL1', 'outbound', $3, 'poll', $4, 'sent', 'baileys') RETURNING id::text`, f.tenant, id, contactPN, content).Scan(&pollRow))

	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	pn := types.NewJID(contactPN, types.DefaultUserServer)
	lid := types.NewJID("123456789012345", types.HiddenUserServer)
	c.fmu.Lock()
	c.votes[pn.String()] = [][]byte{hash("Tarde"), hash("Opção apagada")}
	c.lidFails = true
	c.fmu.Unlock()
	update := &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String("3EB0POLL1"), FromMe: proto.Bool(true), RemoteJID: proto.String(pn.String())},
		Vote:                   &waE2E.PollEncValue{EncPayload: []byte("x"), EncIV: []byte("y")},
	}}
	// The vote arrives addressed by LID; the secret was made for the PN.
	c.emit(&events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: lid, Sender: lid, SenderAlt: pn},
		ID: "3EB0VOTE1", Timestamp: time.Now()}, Message: update})
	sink.waitInbound(t)
	r := f.inboundRow(t, "3EB0VOTE1")
	require.Equal(t, "poll_vote", r.Type)
	require.Equal(t, &providers.PollVote{PollMessageID: "3EB0POLL1", PollRowID: pollRow, SelectedOptions: []string{"Tarde"},
		UnknownHashes: []string{hex.EncodeToString(hash("Opção apagada"))}}, r.Content.PollVote)
	require.Equal(t, []types.JID{lid, pn}, c.snapshot().decrypts, "retried with the other identity")
	var from string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT from_number FROM public.messages WHERE message_id = '3EB0VOTE1'`).Scan(&from))
	require.Equal(t, contactPN, from)

	// A vote that cannot be decrypted is kept as a placeholder.
	c.emit(&events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: pn, Sender: types.NewJID("5511955554444", types.DefaultUserServer)},
		ID: "3EB0VOTE2", Timestamp: time.Now()}, Message: update})
	sink.waitInbound(t)
	r = f.inboundRow(t, "3EB0VOTE2")
	require.Equal(t, "unsupported", r.Type)
	require.JSONEq(t, `{"event":"poll_vote","error":"decrypt_failed"}`, string(r.Content.Raw))

	// Received polls are rows of type poll.
	c.emit(msgEvent("3EB0POLLIN", &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Almoço?"),
		Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Sim")}, {OptionName: proto.String("Não")}}}}))
	sink.waitInbound(t)
	r = f.inboundRow(t, "3EB0POLLIN")
	require.Equal(t, "poll", r.Type)
	require.Equal(t, &providers.Poll{Name: "Almoço?", Options: []string{"Sim", "Não"}}, r.Content.Poll)
}

func TestSettingsCallsAndPresence(t *testing.T) {
	t.Parallel()
	f, p, c, sink, id := featureSession(t)
	ctx := context.Background()
	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, f.pool.QueryRow(ctx, q, args...).Scan(&n))
		return n
	}
	_, err := f.pool.Exec(ctx, `INSERT INTO wa.session_settings (session_id, tenant_id, reject_calls, reject_call_message, ignore_groups, ignore_broadcasts, auto_read)
VALUES ($1, $2, true, 'Não atendemos ligações.', true, true, true)`, id, f.tenant)
	require.NoError(t, err)
	st, err := LoadSettings(ctx, store.New(f.pool).SessionSettings(), f.tenant, id)
	require.NoError(t, err)
	require.NoError(t, p.ApplySettings(ctx, id, st))
	require.Equal(t, []types.Presence{types.PresenceUnavailable}, c.snapshot().presences)

	// Group and status messages are dropped; a direct message is stored
	// and marked read.
	c.emit(&events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: types.NewJID("120363041234567890", types.GroupServer),
		Sender: types.NewJID(contactPN, types.DefaultUserServer), IsGroup: true}, ID: "3EB0IGNGROUP", Timestamp: time.Now()},
		Message: &waE2E.Message{Conversation: proto.String("grupo")}})
	c.emit(&events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: types.StatusBroadcastJID,
		Sender: types.NewJID(contactPN, types.DefaultUserServer)}, ID: "3EB0IGNSTATUS", Timestamp: time.Now()},
		Message: &waE2E.Message{Conversation: proto.String("status")}})
	c.emit(msgEvent("3EB0DIRECT", &waE2E.Message{Conversation: proto.String("oi")}))
	m := sink.waitInbound(t)
	require.Equal(t, "3EB0DIRECT", m.ProviderMessageID)
	require.Eventually(t, func() bool {
		return count(`SELECT count(*) FROM public.messages WHERE message_id = '3EB0DIRECT' AND status = 'read'`) == 1
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, count(`SELECT count(*) FROM public.messages WHERE message_id IN ('3EB0IGNGROUP', '3EB0IGNSTATUS')`))
	c.mu.Lock()
	require.Equal(t, [][]string{{"3EB0DIRECT"}}, c.marked)
	c.mu.Unlock()

	// A call is rejected, the message queued and the call recorded.
	caller := types.NewJID(contactPN, types.DefaultUserServer)
	c.emit(&events.CallOffer{BasicCallMeta: types.BasicCallMeta{From: caller, CallCreator: caller, CallID: "CALL-1", Timestamp: time.Now()}})
	require.Equal(t, []string{"CALL-1 " + caller.String()}, c.snapshot().rejected)
	var data map[string]any
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT data FROM wa.change_log WHERE tenant_id = $1 AND session_id = $2 AND topic = 'call' AND chat = $3`,
		f.tenant, id, contactPN).Scan(&data))
	require.Equal(t, map[string]any{"event": "offer", "call_id": "CALL-1", "from": contactPN, "video": false, "rejected": true,
		"timestamp": data["timestamp"]}, data)
	require.Equal(t, 1, count(`SELECT count(*) FROM public.messages WHERE tenant_id = $1 AND session_id = $2 AND direction = 'outbound'
 AND to_number = $3 AND status = 'pending' AND content ->> 'text' = 'Não atendemos ligações.' AND metadata ->> 'trigger' = 'call_rejected'`, f.tenant, id, contactPN))
	c.emit(&events.CallTerminate{BasicCallMeta: types.BasicCallMeta{From: caller, CallCreator: caller, CallID: "CALL-1"}, Reason: "timeout"})
	require.Equal(t, 2, count(`SELECT count(*) FROM wa.change_log WHERE tenant_id = $1 AND topic = 'call'`, f.tenant))

	// Presence of contacts goes to the change feed.
	require.NoError(t, p.SubscribePresence(ctx, f.tenant, id, contactPN))
	require.Equal(t, []types.JID{caller}, c.snapshot().subscribed)
	c.emit(&events.Presence{From: caller, Unavailable: false})
	c.emit(&events.ChatPresence{MessageSource: types.MessageSource{Chat: caller, Sender: caller}, State: types.ChatPresenceComposing, Media: types.ChatPresenceMediaAudio})
	rows, err := f.pool.Query(ctx, `SELECT data FROM wa.change_log WHERE tenant_id = $1 AND topic = 'presence' ORDER BY id`, f.tenant)
	require.NoError(t, err)
	var got []map[string]any
	for rows.Next() {
		var d map[string]any
		require.NoError(t, rows.Scan(&d))
		got = append(got, d)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []map[string]any{
		{"contact": contactPN, "available": true},
		{"contact": contactPN, "chat": contactPN, "state": "recording", "is_group": false},
	}, got)

	// Chat presence states map to WhatsApp's.
	for _, s := range []providers.ChatPresence{providers.PresenceTyping, providers.PresenceRecording, providers.PresencePaused} {
		require.NoError(t, p.SendChatPresence(ctx, id, contactPN, s))
	}
	require.Equal(t, []types.ChatPresence{types.ChatPresenceComposing, types.ChatPresenceComposing + "/audio", types.ChatPresencePaused}, c.snapshot().chatStates)
	require.Error(t, p.SendChatPresence(ctx, id, contactPN, "dancing"))

	// Always online: the account shows available at once.
	st.AlwaysOnline = true
	_, err = f.pool.Exec(ctx, `UPDATE wa.session_settings SET always_online = true WHERE session_id = $1`, id)
	require.NoError(t, err)
	require.NoError(t, p.ApplySettings(ctx, id, st))
	require.Equal(t, []types.Presence{types.PresenceUnavailable, types.PresenceAvailable}, c.snapshot().presences)
}

func TestContactProfilesAndBlocking(t *testing.T) {
	t.Parallel()
	_, p, c, _, id := featureSession(t)
	ctx := context.Background()
	c.picture = &types.ProfilePictureInfo{URL: "https://pps.whatsapp.net/v/x.jpg", ID: "17"}
	pic, err := p.ProfilePicture(ctx, id, contactPN, false)
	require.NoError(t, err)
	require.Equal(t, providers.ProfilePicture{URL: "https://pps.whatsapp.net/v/x.jpg", ID: "17"}, pic)
	c.fmu.Lock()
	c.picture, c.pictureErr = nil, whatsmeow.ErrProfilePictureUnauthorized
	c.fmu.Unlock()
	_, err = p.ProfilePicture(ctx, id, contactPN, false)
	require.ErrorIs(t, err, providers.ErrNotFound)

	_, err = p.BusinessProfile(ctx, id, contactPN)
	require.ErrorIs(t, err, providers.ErrNotFound)
	c.fmu.Lock()
	c.business = &types.BusinessProfile{JID: types.NewJID(contactPN, types.DefaultUserServer), Email: "a@b.com.br",
		Categories: []types.Category{{ID: "1", Name: "Loja"}}, ProfileOptions: map[string]string{"website": "https://loja.com.br"}}
	c.fmu.Unlock()
	bp, err := p.BusinessProfile(ctx, id, contactPN)
	require.NoError(t, err)
	require.Equal(t, providers.BusinessProfile{ID: contactPN, Email: "a@b.com.br", Categories: []string{"Loja"}, Websites: []string{"https://loja.com.br"}}, bp)

	require.NoError(t, p.SetBlocked(ctx, id, contactPN, true))
	require.NoError(t, p.SetBlocked(ctx, id, contactPN, false))
	require.Equal(t, []events.BlocklistChangeAction{events.BlocklistChangeActionBlock, events.BlocklistChangeActionUnblock}, c.snapshot().blocklist)
	list, err := p.Blocklist(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{contactPN, "98765@lid"}, list)
	err = p.SetBlocked(ctx, id, "120363041234567890@g.us", true)
	require.True(t, errors.As(err, new(*providers.PermanentError)))
}

// A client without the FeatureClient methods answers unsupported.
func TestFeaturesUnsupportedWithoutFeatureClient(t *testing.T) {
	t.Parallel()
	_, p, _, _, id := connectedSession(t)
	_, err := p.ListGroups(context.Background(), id)
	require.ErrorIs(t, err, providers.ErrUnsupported)
	var perm *providers.PermanentError
	require.ErrorAs(t, err, &perm)
	require.Equal(t, string(zapbase.CodeUnsupportedByProvider), perm.Code)
}

func TestGroupEventsGoToTheChangeFeed(t *testing.T) {
	t.Parallel()
	f, _, c, _, id := featureSession(t)
	ctx := context.Background()
	gid := types.NewJID("120363041234567890", types.GroupServer)
	admin, adminPN := types.NewJID("111", types.HiddenUserServer), types.NewJID(ownPN, types.DefaultUserServer)
	name := &types.GroupName{Name: "Vendas SP"}
	c.emit(&events.GroupInfo{JID: gid, Sender: &admin, SenderPN: &adminPN, Name: name,
		Join:    []types.JID{types.NewJID(contactPN, types.DefaultUserServer), types.NewJID("999", types.HiddenUserServer)},
		Promote: []types.JID{types.NewJID(contactPN, types.DefaultUserServer)}})
	c.emit(&events.JoinedGroup{Reason: "invite", GroupInfo: types.GroupInfo{JID: gid, GroupName: types.GroupName{Name: "Vendas SP"}}})
	rows, err := f.pool.Query(ctx, `SELECT chat, data FROM wa.change_log WHERE tenant_id = $1 AND session_id = $2 AND topic = 'group' ORDER BY id`, f.tenant, id)
	require.NoError(t, err)
	var got []map[string]any
	for rows.Next() {
		var chat string
		var d map[string]any
		require.NoError(t, rows.Scan(&chat, &d))
		require.Equal(t, gid.String(), chat)
		got = append(got, d)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []map[string]any{
		{"event": "update", "group": gid.String(), "by": ownPN, "name": "Vendas SP",
			"joined": []any{contactPN, "999@lid"}, "promoted": []any{contactPN}},
		{"event": "joined", "group": gid.String(), "name": "Vendas SP", "reason": "invite"},
	}, got)
}
