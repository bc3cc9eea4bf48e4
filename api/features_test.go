package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// featureEnv serves the API over the real sandbox provider (groups,
// presence, profiles, settings, calls) and a Meta-like provider that has
// none of those capabilities.
type featureEnv struct {
	*env
	sb   *sandbox.Provider
	meta *metaLike
}

// metaLike is a Meta-like provider: read marks and "typing" only.
type metaLike struct {
	*fakeProvider
	mu     sync.Mutex
	marks  []providers.MarkReadParams
	typing []bool
}

func (m *metaLike) MarkRead(_ context.Context, p providers.MarkReadParams) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks = append(m.marks, p)
	return nil
}

func (m *metaLike) SetTyping(_ context.Context, _, _ string, typing bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.typing = append(m.typing, typing)
	return nil
}

func newFeatureEnv(t *testing.T) *featureEnv {
	t.Helper()
	ctx := context.Background()
	url := devdbtest.NewDatabase(t)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	feed := supabase.ChangeFeed{Pool: pool}
	sb := sandbox.New(sandbox.Config{Sink: dispatch.NewEvents(pool), NoReceipts: true, Feed: feed, Outbox: feed})
	t.Cleanup(sb.Close)
	ver, err := supabase.NewVerifier(ctx, supabase.VerifierConfig{Issuer: testIssuer, HS256Secret: testHSSecret})
	require.NoError(t, err)
	t.Cleanup(ver.Close)
	meta := &metaLike{fakeProvider: &fakeProvider{typ: zapbase.ProviderMeta, types: []zapbase.MessageType{zapbase.MessageText, zapbase.MessageInteractive}}}
	e := &env{t: t, pool: pool, waker: &recWaker{}, logBuf: &syncBuffer{}}
	e.srv = httptest.NewServer(api.NewHandler(api.Params{
		Pool: pool, Store: store.New(pool), Logger: slogJSON(e.logBuf), Verifier: ver, SendWait: -1,
		Providers: map[zapbase.ProviderType]providers.Provider{zapbase.ProviderSandbox: sb, zapbase.ProviderMeta: meta},
	}))
	t.Cleanup(e.srv.Close)
	return &featureEnv{env: e, sb: sb, meta: meta}
}

// member adds a user with role to tenant and answers its auth headers.
func (e *featureEnv) member(tenantID, clientID, role string) map[string]string {
	e.t.Helper()
	var uid string
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), gen_random_uuid()::text || '@example.com') RETURNING id`).Scan(&uid))
	_, err := e.pool.Exec(context.Background(), `INSERT INTO public.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, $3)`, tenantID, uid, role)
	require.NoError(e.t, err)
	return auth(hsToken(claims(uid, nil)), clientID)
}

func (e *featureEnv) sessionID(tenantID, phone string) string {
	e.t.Helper()
	var id string
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `SELECT id FROM public.whatsapp_sessions WHERE tenant_id = $1 AND phone_number = $2`, tenantID, phone).Scan(&id))
	return id
}

func (e *featureEnv) addSession(tenantID, phone, provider string) string {
	e.t.Helper()
	var id string
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
VALUES ($1, $2, $3, 'connected') RETURNING id`, tenantID, phone, provider).Scan(&id))
	return id
}

func TestGroupsOnSandbox(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	tid, uid := e.tenant("grupos", "owner")
	h := auth(hsToken(claims(uid, nil)), "grupos")
	sid := e.sessionID(tid, "5511900000000")
	_, err := e.sb.Initialize(context.Background(), providers.InitializeParams{TenantID: tid, SessionID: sid, PhoneNumber: "5511900000000"})
	require.NoError(t, err)

	r := e.do("POST", "/api/v1/groups", h, map[string]any{"name": "Equipe de vendas", "participants": []string{"5511988887777", "+5511977776666"}})
	require.Equal(t, 200, r.status, string(r.body))
	var g providers.Group
	require.NoError(t, json.Unmarshal(r.body, &g))
	require.Regexp(t, `^120363[0-9]+@g\.us$`, g.ID)
	require.Equal(t, "Equipe de vendas", g.Name)
	require.Equal(t, 3, g.Size)
	require.Equal(t, "5511900000000", g.Participants[0].ID)
	require.True(t, g.Participants[0].SuperAdmin)

	var list api.GroupList
	r = e.do("GET", "/api/v1/groups", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list.Groups, 1)
	require.Equal(t, g.ID, list.Groups[0].ID)

	// Subject, description and settings.
	r = e.do("PATCH", "/api/v1/groups/"+g.ID, h, map[string]any{"name": "Vendas SP", "description": "Metas", "announce": true, "locked": true})
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &g))
	require.Equal(t, "Vendas SP", g.Name)
	require.Equal(t, "Metas", g.Description)
	require.True(t, g.Announce)
	require.True(t, g.Locked)
	e.do("PATCH", "/api/v1/groups/"+g.ID, h, map[string]any{}).problem(t, 422, "invalid_input")
	e.do("PUT", "/api/v1/groups/"+g.ID+"/picture", h, map[string]any{"image": []byte("not a jpeg")}).problem(t, 422, "invalid_input")
	r = e.do("PUT", "/api/v1/groups/"+g.ID+"/picture", h, map[string]any{"image": []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10}})
	require.Equal(t, 204, r.status, string(r.body))

	// Participants: add (one already in), promote, remove.
	var pr api.ParticipantsResponse
	r = e.do("POST", "/api/v1/groups/"+g.ID+"/participants", h, map[string]any{"action": "add", "participants": []string{"5511966665555", "5511988887777"}})
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &pr))
	require.Equal(t, []providers.ParticipantResult{{ID: "5511966665555"}, {ID: "5511988887777", Error: 409}}, pr.Results)
	r = e.do("POST", "/api/v1/groups/"+g.ID+"/participants", h, map[string]any{"action": "promote", "participants": []string{"5511966665555"}})
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("POST", "/api/v1/groups/"+g.ID+"/participants", h, map[string]any{"action": "remove", "participants": []string{"5511977776666"}})
	require.Equal(t, 200, r.status, string(r.body))
	e.do("POST", "/api/v1/groups/"+g.ID+"/participants", h, map[string]any{"action": "kick", "participants": []string{"5511977776666"}}).problem(t, 422, "invalid_input")
	r = e.do("GET", "/api/v1/groups/"+g.ID, h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &g))
	require.Equal(t, 3, g.Size)
	admins := map[string]bool{}
	for _, p := range g.Participants {
		admins[p.ID] = p.Admin
	}
	require.Equal(t, map[string]bool{"5511900000000": true, "5511988887777": false, "5511966665555": true}, admins)

	// Invite link: stable until revoked.
	var link1, link2, link3 api.InviteLink
	r = e.do("GET", "/api/v1/groups/"+g.ID+"/invite-link", h, nil)
	require.NoError(t, json.Unmarshal(r.body, &link1))
	require.Regexp(t, `^https://chat\.whatsapp\.com/[0-9A-Z]+$`, link1.Link)
	r = e.do("GET", "/api/v1/groups/"+g.ID+"/invite-link", h, nil)
	require.NoError(t, json.Unmarshal(r.body, &link2))
	require.Equal(t, link1.Link, link2.Link)
	r = e.do("POST", "/api/v1/groups/"+g.ID+"/invite-link/revoke", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &link3))
	require.NotEqual(t, link1.Link, link3.Link)

	// A second session of the tenant joins by link; with two sessions the
	// session must be named.
	sid2 := e.addSession(tid, "5511900000002", "sandbox")
	_, err = e.sb.Initialize(context.Background(), providers.InitializeParams{TenantID: tid, SessionID: sid2, PhoneNumber: "5511900000002"})
	require.NoError(t, err)
	e.do("GET", "/api/v1/groups", h, nil).problem(t, 422, "invalid_input")
	e.do("POST", "/api/v1/groups/join?from=5511900000002", h, map[string]any{"invite": link1.Link}).problem(t, 422, "provider_rejected")
	var ref api.GroupRef
	r = e.do("POST", "/api/v1/groups/join?from=5511900000002", h, map[string]any{"invite": link3.Link})
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &ref))
	require.Equal(t, g.ID, ref.GroupID)
	r = e.do("POST", "/api/v1/groups/"+g.ID+"/leave?from=5511900000002", h, nil)
	require.Equal(t, 204, r.status, string(r.body))
	e.do("GET", "/api/v1/groups/"+g.ID+"?from=5511900000002", h, nil).problem(t, 404, "not_found")
	r = e.do("GET", "/api/v1/groups/"+g.ID+"?from=5511900000000", h, nil)
	require.Equal(t, 200, r.status, string(r.body))

	// Sending to the group goes through the normal pipeline: a row whose
	// recipient is the group JID.
	r = e.do("POST", "/api/v1/messages/text?wait=false", h, map[string]any{"to": g.ID, "content": "Bom dia, equipe!", "from": "5511900000000"})
	require.Equal(t, 202, r.status, string(r.body))
	var to string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT to_number FROM public.messages WHERE tenant_id = $1 AND direction = 'outbound'`, tid).Scan(&to))
	require.Equal(t, g.ID, to)
	res, err := e.sb.Send(context.Background(), providers.OutboundMessage{TenantID: tid, SessionID: sid, To: g.ID, Type: zapbase.MessageText,
		Content: providers.Content{Text: "oi"}})
	require.NoError(t, err)
	require.NotEmpty(t, res.ProviderMessageID)

	// Members may read but not change groups.
	hm := e.member(tid, "grupos", "member")
	r = e.do("GET", "/api/v1/groups/"+g.ID+"?from=5511900000000", hm, nil)
	require.Equal(t, 200, r.status, string(r.body))
	e.do("POST", "/api/v1/groups?from=5511900000000", hm, map[string]any{"name": "x", "participants": []string{"5511988887777"}}).problem(t, 403, "forbidden")
	e.do("POST", "/api/v1/groups/"+g.ID+"/leave?from=5511900000000", hm, nil).problem(t, 403, "forbidden")

	// Another tenant cannot reach this tenant's sessions or groups.
	tid2, uid2 := e.tenant("outro", "owner")
	h2 := auth(hsToken(claims(uid2, nil)), "outro")
	e.do("GET", "/api/v1/groups?from=5511900000002", h2, nil).problem(t, 404, "session_not_found")
	_, err = e.sb.Initialize(context.Background(), providers.InitializeParams{TenantID: tid2, SessionID: e.sessionID(tid2, "5511900000000"), PhoneNumber: "5511900000000"})
	require.NoError(t, err)
	e.do("GET", "/api/v1/groups/"+g.ID, h2, nil).problem(t, 404, "not_found")
	r = e.do("GET", "/api/v1/groups", h2, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"groups":[]}`, string(r.body))

	// Meta: no group management, no group sends.
	e.addSession(tid2, "5511900000009", "meta_api")
	e.do("POST", "/api/v1/messages/text", h2, map[string]any{"to": g.ID, "content": "oi", "from": "5511900000009"}).problem(t, 422, "unsupported_by_provider")
	e.do("GET", "/api/v1/groups?from=5511900000009", h2, nil).problem(t, 422, "unsupported_by_provider")
	e.do("POST", "/api/v1/groups/join?from=5511900000009", h2, map[string]any{"invite": link3.Link}).problem(t, 422, "unsupported_by_provider")
}

func TestPollsOnSandbox(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	tid, uid := e.tenant("enquetes", "owner")
	h := auth(hsToken(claims(uid, nil)), "enquetes")
	sid := e.sessionID(tid, "5511900000000")

	e.do("POST", "/api/v1/messages/poll", h, map[string]any{"to": "5511988887777", "name": "Horário?", "options": []string{"Manhã", "Manhã"}}).problem(t, 422, "invalid_input")
	e.do("POST", "/api/v1/messages/send", h, map[string]any{"to": "5511988887777", "type": "poll", "content": map[string]any{"poll": map[string]any{"name": "x", "options": []string{"só uma"}}}}).problem(t, 422, "invalid_input")
	// Meta has no polls (interactive buttons/lists instead).
	e.do("POST", "/api/v1/messages/poll", h, map[string]any{"to": "5511988887777", "name": "Horário?", "options": []string{"Manhã", "Tarde"}, "provider": "meta_api"}).problem(t, 422, "unsupported_message_type")

	r := e.do("POST", "/api/v1/messages/poll", h, map[string]any{"to": "5511988887777", "from": "5511900000000", "name": "Horário?", "options": []string{"Manhã", "Tarde", "Noite"}})
	require.Equal(t, 202, r.status, string(r.body))
	pollRow := r.json(t)["messageId"].(string)
	var typ string
	var content providers.Content
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT message_type, content FROM public.messages WHERE id = $1`, pollRow).Scan(&typ, &content))
	require.Equal(t, "poll", typ)
	require.Equal(t, &providers.Poll{Name: "Horário?", Options: []string{"Manhã", "Tarde", "Noite"}}, content.Poll)
	// The sandbox sends it (dispatch would call this).
	res, err := e.sb.Send(context.Background(), providers.OutboundMessage{TenantID: tid, SessionID: sid, To: "5511988887777", Type: zapbase.MessagePoll, Content: content})
	require.NoError(t, err)

	vote := func(from string, opts ...string) {
		_, err := e.sb.SimulatePollVote(context.Background(), sandbox.VoteParams{TenantID: tid, SessionID: sid, From: from, To: "5511900000000",
			PollMessageID: res.ProviderMessageID, PollRowID: pollRow, Options: opts})
		require.NoError(t, err)
	}
	vote("5511988887777", "Manhã")
	vote("5511977776666", "Tarde")
	vote("5511988887777", "Noite") // changed their vote
	vote("5511966665555", "Tarde")
	vote("5511966665555") // withdrew

	var out api.PollResults
	r = e.do("GET", "/api/v1/messages/"+pollRow+"/poll-votes", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Equal(t, "Horário?", out.Name)
	require.Equal(t, []api.PollOptionCount{{Option: "Manhã", Votes: 0}, {Option: "Tarde", Votes: 1}, {Option: "Noite", Votes: 1}}, out.Options)
	require.Len(t, out.Voters, 2)
	var votes int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM public.messages WHERE tenant_id = $1 AND message_type = 'poll_vote'
 AND content -> 'pollVote' ->> 'pollRowId' = $2`, tid, pollRow).Scan(&votes))
	require.Equal(t, 5, votes)

	// Another tenant cannot see the poll.
	_, uid2 := e.tenant("outro", "owner")
	e.do("GET", "/api/v1/messages/"+pollRow+"/poll-votes", auth(hsToken(claims(uid2, nil)), "outro"), nil).problem(t, 404, "not_found")
}

func TestChatPresenceAndReadOnSandbox(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	ctx := context.Background()
	tid, uid := e.tenant("conversas", "member")
	h := auth(hsToken(claims(uid, nil)), "conversas")
	sid := e.sessionID(tid, "5511900000000")

	for _, st := range []string{"typing", "recording", "paused"} {
		r := e.do("POST", "/api/v1/chats/5511988887777/presence", h, map[string]any{"state": st})
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, providers.ChatPresence(st), e.sb.ChatPresenceOf(sid, "5511988887777"))
	}
	e.do("POST", "/api/v1/chats/5511988887777/presence", h, map[string]any{"state": "dancing"}).problem(t, 422, "invalid_input")

	// Subscriptions report the contact's presence to the change feed.
	r := e.do("POST", "/api/v1/chats/5511988887777/presence/subscribe", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	var data map[string]any
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT data FROM wa.change_log WHERE tenant_id = $1 AND topic = 'presence' AND session_id = $2 AND chat = '5511988887777'`, tid, sid).Scan(&data))
	require.Equal(t, map[string]any{"contact": "5511988887777", "available": true}, data)

	// Read marks: all unread of the chat, then explicit ids.
	var ids []string
	for i := range 3 {
		id, err := e.sb.SimulateInbound(ctx, sandbox.InboundParams{TenantID: tid, SessionID: sid, From: "5511988887777", To: "5511900000000",
			Content: providers.Content{Text: fmt.Sprintf("oi %d", i)}})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	_, err := e.sb.SimulateInbound(ctx, sandbox.InboundParams{TenantID: tid, SessionID: sid, From: "5511977776666", To: "5511900000000", Content: providers.Content{Text: "outro"}})
	require.NoError(t, err)
	var rr api.ReadResponse
	r = e.do("POST", "/api/v1/chats/5511988887777/read", h, map[string]any{"messageIds": []string{ids[0]}})
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &rr))
	require.Equal(t, 1, rr.Marked)
	r = e.do("POST", "/api/v1/chats/5511988887777/read", h, map[string]any{})
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &rr))
	require.ElementsMatch(t, ids[1:], rr.MessageIDs)
	var read, received int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'read'), count(*) FILTER (WHERE status = 'received')
  FROM public.messages WHERE tenant_id = $1 AND direction = 'inbound'`, tid).Scan(&read, &received))
	require.Equal(t, 3, read)
	require.Equal(t, 1, received)
	marked := e.sb.MarkedRead()
	require.Len(t, marked, 2)
	require.Equal(t, []string{ids[0]}, marked[0].ProviderMessageIDs)
	r = e.do("POST", "/api/v1/chats/5511988887777/read", h, map[string]any{})
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"to":"5511988887777","marked":0,"messageIds":[]}`, string(r.body))
	e.do("POST", "/api/v1/chats/5511988887777/read", h, map[string]any{"messageIds": []string{"NOPE"}}).problem(t, 404, "not_found")

	// Meta: read marks and typing work, recording and subscriptions do not.
	metaSID := e.addSession(tid, "5511900000009", "meta_api")
	_, err = e.pool.Exec(ctx, `INSERT INTO public.messages (tenant_id, session_id, message_id, direction, from_number, to_number, message_type, status, provider)
VALUES ($1, $2, 'wamid.IN1', 'inbound', '5511988887777', '5511900000009', 'text', 'received', 'meta_api')`, tid, metaSID)
	require.NoError(t, err)
	r = e.do("POST", "/api/v1/chats/5511988887777/read?from=5511900000009", h, map[string]any{})
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"to":"5511988887777","marked":1,"messageIds":["wamid.IN1"]}`, string(r.body))
	r = e.do("POST", "/api/v1/chats/5511988887777/presence?from=5511900000009", h, map[string]any{"state": "typing"})
	require.Equal(t, 200, r.status, string(r.body))
	e.meta.mu.Lock()
	require.Equal(t, []providers.MarkReadParams{{TenantID: tid, SessionID: metaSID, Chat: "5511988887777", ProviderMessageIDs: []string{"wamid.IN1"}}}, e.meta.marks)
	require.Equal(t, []bool{true}, e.meta.typing)
	e.meta.mu.Unlock()
	e.do("POST", "/api/v1/chats/5511988887777/presence?from=5511900000009", h, map[string]any{"state": "recording"}).problem(t, 422, "unsupported_by_provider")
	e.do("POST", "/api/v1/chats/5511988887777/presence/subscribe?from=5511900000009", h, nil).problem(t, 422, "unsupported_by_provider")
}

func TestSessionSettingsAndCallsOnSandbox(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	ctx := context.Background()
	tid, uid := e.tenant("ajustes", "admin")
	h := auth(hsToken(claims(uid, nil)), "ajustes")
	sid := e.sessionID(tid, "5511900000000")
	path := "/api/v1/sessions/5511900000000/settings"

	r := e.do("GET", path, h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"rejectCalls":false,"rejectCallMessage":"","ignoreGroups":false,"ignoreBroadcasts":false,"alwaysOnline":false,"autoRead":false}`, string(r.body))

	r = e.do("PUT", path, h, `{"rejectCalls": true, "rejectCallMessage": "Não atendemos ligações; mande mensagem.", "ignoreGroups": true}`)
	require.Equal(t, 200, r.status, string(r.body))
	// Merge patch: absent fields keep their value, null resets.
	r = e.do("PATCH", path, h, `{"alwaysOnline": true, "ignoreGroups": null}`)
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"rejectCalls":true,"rejectCallMessage":"Não atendemos ligações; mande mensagem.","ignoreGroups":false,"ignoreBroadcasts":false,"alwaysOnline":true,"autoRead":false}`, string(r.body))
	r = e.do("GET", path, h, nil)
	require.JSONEq(t, `{"rejectCalls":true,"rejectCallMessage":"Não atendemos ligações; mande mensagem.","ignoreGroups":false,"ignoreBroadcasts":false,"alwaysOnline":true,"autoRead":false}`, string(r.body))
	require.Equal(t, providers.SessionSettings{RejectCalls: true, RejectCallMessage: "Não atendemos ligações; mande mensagem.", AlwaysOnline: true}, e.sb.Settings(sid))

	e.do("PUT", path, h, `{"rejectCall": true}`).problem(t, 422, "invalid_input")
	e.do("PUT", path, h, `{"autoRead": "sim"}`).problem(t, 422, "invalid_input")
	e.do("PUT", "/api/v1/sessions/5511900000001/settings", h, `{"autoRead": true}`).problem(t, 404, "session_not_found")
	hm := e.member(tid, "ajustes", "member")
	e.do("PUT", path, hm, `{"autoRead": true}`).problem(t, 403, "forbidden")
	r = e.do("GET", path, hm, nil)
	require.Equal(t, 200, r.status, string(r.body))

	// Another tenant's session with the same number is a different session.
	_, uid2 := e.tenant("outro", "owner")
	r = e.do("GET", path, auth(hsToken(claims(uid2, nil)), "outro"), nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Contains(t, string(r.body), `"rejectCalls":false`)

	// A call is rejected, the message queued as a normal outbound row and
	// the call recorded in the change feed.
	res, err := e.sb.SimulateCall(ctx, sandbox.CallParams{TenantID: tid, SessionID: sid, From: "5511988887777", CallID: "CALL1"})
	require.NoError(t, err)
	require.Equal(t, sandbox.CallResult{CallID: "CALL1", Rejected: true, MessageQueued: true}, res)
	var text, status, trigger string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT content ->> 'text', status, metadata ->> 'trigger' FROM public.messages
 WHERE tenant_id = $1 AND session_id = $2 AND direction = 'outbound' AND to_number = '5511988887777'`, tid, sid).Scan(&text, &status, &trigger))
	require.Equal(t, "Não atendemos ligações; mande mensagem.", text)
	require.Equal(t, "pending", status)
	require.Equal(t, "call_rejected", trigger)
	var data map[string]any
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT data FROM wa.change_log WHERE tenant_id = $1 AND topic = 'call' AND chat = '5511988887777'`, tid).Scan(&data))
	require.Equal(t, "CALL1", data["call_id"])
	require.Equal(t, true, data["rejected"])
	require.Equal(t, "offer", data["event"])
}

func TestContactProfilesOnSandbox(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	tid, uid := e.tenant("contatos", "owner")
	h := auth(hsToken(claims(uid, nil)), "contatos")

	var pic api.ProfilePictureOutput
	r := e.do("GET", "/api/v1/contacts/5511988887777/profile-picture?preview=true", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &pic))
	require.Equal(t, "5511988887777", pic.Contact)
	require.Equal(t, "https://sandbox.zapbase.invalid/pp/5511988887777.jpg?type=preview", pic.URL)
	e.do("GET", "/api/v1/contacts/5511988887770/profile-picture", h, nil).problem(t, 404, "not_found")

	var bp providers.BusinessProfile
	r = e.do("GET", "/api/v1/contacts/5511988887771/business-profile", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &bp))
	require.Equal(t, "5511988887771", bp.ID)
	require.Equal(t, []string{"Loja de roupas"}, bp.Categories)
	e.do("GET", "/api/v1/contacts/5511988887777/business-profile", h, nil).problem(t, 404, "not_found")

	r = e.do("POST", "/api/v1/contacts/5511988887777/block", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"contact":"5511988887777","blocked":true}`, string(r.body))
	r = e.do("POST", "/api/v1/contacts/+5511977776666/block", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("POST", "/api/v1/contacts/5511977776666/unblock", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("GET", "/api/v1/contacts/blocklist", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"contacts":["5511988887777"]}`, string(r.body))
	e.do("POST", "/api/v1/contacts/5511988887777/unblock", e.member(tid, "contatos", "member"), nil).problem(t, 403, "forbidden")

	e.addSession(tid, "5511900000009", "meta_api")
	e.do("GET", "/api/v1/contacts/5511988887777/profile-picture?from=5511900000009", h, nil).problem(t, 422, "unsupported_by_provider")
	e.do("POST", "/api/v1/contacts/5511988887777/block?from=5511900000009", h, nil).problem(t, 422, "unsupported_by_provider")
}

func TestSandboxSimulationEndpoints(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	ctx := context.Background()
	tid, uid := e.tenant("simulacao", "owner")
	h := auth(hsToken(claims(uid, nil)), "simulacao")
	base := "/api/v1/sandbox/5511900000000"
	group := "120363041234567890@g.us"

	r := e.do("PUT", "/api/v1/sessions/5511900000000/settings", h, `{"ignoreGroups": true, "rejectCalls": true}`)
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("POST", base+"/inbound", h, map[string]any{"from": "5511988887777", "text": "no grupo", "group": group})
	require.Equal(t, 200, r.status, string(r.body))
	require.JSONEq(t, `{"ignored":true}`, string(r.body))
	r = e.do("PUT", "/api/v1/sessions/5511900000000/settings", h, `{"ignoreGroups": false}`)
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("POST", base+"/inbound", h, map[string]any{"from": "5511988887777", "text": "no grupo", "group": group})
	require.Equal(t, 200, r.status, string(r.body))
	var from string
	var meta map[string]any
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT from_number, metadata FROM public.messages WHERE tenant_id = $1 AND direction = 'inbound'`, tid).Scan(&from, &meta))
	require.Equal(t, "5511988887777", from)
	require.Equal(t, map[string]any{"chat": group, "isGroup": true}, meta)

	// The simulator forgot (a restart): the stored settings still apply.
	require.NoError(t, e.sb.ApplySettings(ctx, e.sessionID(tid, "5511900000000"), providers.SessionSettings{}))
	r = e.do("POST", base+"/calls", h, map[string]any{"from": "5511977776666", "video": true})
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, true, r.json(t)["rejected"])
	var n int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM wa.change_log WHERE tenant_id = $1 AND topic = 'call' AND (data ->> 'video')::boolean`, tid).Scan(&n))
	require.Equal(t, 1, n)

	r = e.do("POST", "/api/v1/messages/poll", h, map[string]any{"to": group, "name": "Almoço?", "options": []string{"Sim", "Não"}})
	require.Equal(t, 202, r.status, string(r.body))
	poll := r.json(t)["messageId"].(string)
	e.do("POST", base+"/poll-votes", h, map[string]any{"from": "5511988887777", "messageId": poll, "options": []string{"Talvez"}}).problem(t, 422, "invalid_input")
	r = e.do("POST", base+"/poll-votes", h, map[string]any{"from": "5511988887777", "messageId": poll, "options": []string{"Sim"}})
	require.Equal(t, 200, r.status, string(r.body))
	r = e.do("GET", "/api/v1/messages/"+poll+"/poll-votes", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	var res api.PollResults
	require.NoError(t, json.Unmarshal(r.body, &res))
	require.Equal(t, []api.PollOptionCount{{Option: "Sim", Votes: 1}, {Option: "Não", Votes: 0}}, res.Options)

	// Only sandbox sessions, only the tenant's.
	e.addSession(tid, "5511900000009", "meta_api")
	e.do("POST", "/api/v1/sandbox/5511900000009/calls", h, map[string]any{"from": "5511977776666"}).problem(t, 422, "unsupported_by_provider")
	_, uid2 := e.tenant("outro", "owner")
	e.do("POST", base+"/poll-votes", auth(hsToken(claims(uid2, nil)), "outro"), map[string]any{"from": "5511988887777", "messageId": poll, "options": []string{"Sim"}}).problem(t, 404, "not_found")
}

func TestOpenAPIDocumentsTheNewEndpoints(t *testing.T) {
	t.Parallel()
	e := newFeatureEnv(t)
	r := e.do("GET", "/openapi.json", nil, nil)
	require.Equal(t, 200, r.status)
	var doc struct {
		Paths map[string]map[string]struct {
			Summary     string `json:"summary"`
			Description string `json:"description"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	want := map[string][]string{
		"/api/v1/groups":                              {"get", "post"},
		"/api/v1/groups/{groupId}":                    {"get", "patch"},
		"/api/v1/groups/{groupId}/picture":            {"put", "delete"},
		"/api/v1/groups/{groupId}/participants":       {"post"},
		"/api/v1/groups/{groupId}/invite-link":        {"get"},
		"/api/v1/groups/{groupId}/invite-link/revoke": {"post"},
		"/api/v1/groups/join":                         {"post"},
		"/api/v1/groups/{groupId}/leave":              {"post"},
		"/api/v1/chats/{to}/presence":                 {"post"},
		"/api/v1/chats/{to}/presence/subscribe":       {"post"},
		"/api/v1/chats/{to}/read":                     {"post"},
		"/api/v1/messages/poll":                       {"post"},
		"/api/v1/messages/{messageId}/poll-votes":     {"get"},
		"/api/v1/contacts/{contact}/profile-picture":  {"get"},
		"/api/v1/contacts/{contact}/business-profile": {"get"},
		"/api/v1/contacts/{contact}/block":            {"post"},
		"/api/v1/contacts/{contact}/unblock":          {"post"},
		"/api/v1/contacts/blocklist":                  {"get"},
		"/api/v1/sessions/{phoneNumber}/settings":     {"get", "put", "patch"},
		"/api/v1/sandbox/{phoneNumber}/calls":         {"post"},
		"/api/v1/sandbox/{phoneNumber}/inbound":       {"post"},
		"/api/v1/sandbox/{phoneNumber}/poll-votes":    {"post"},
	}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			require.True(t, ok, "%s %s missing", m, path)
			require.NotEmpty(t, op.Summary, "%s %s", m, path)
		}
	}
}
