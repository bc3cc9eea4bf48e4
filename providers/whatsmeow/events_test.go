package whatsmeow

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/util/jsontime"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase/providers"
)

type memMedia struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (m *memMedia) Put(ctx context.Context, tenantID, name, mime string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	m.files[tenantID+"/"+name] = data
	return "https://storage.test/" + tenantID + "/" + name, nil
}

const (
	ownPN      = "5511988887777"
	contactPN  = "5511977776666"
	contactLID = "123456789012345@lid"
)

// connectedSession starts a provider driving one paired session and waits
// until the fake device reports connected.
func connectedSession(t *testing.T, mutate ...func(*Config)) (*fixture, *Provider, *fakeClient, *signalSink, string) {
	t.Helper()
	f := newFixture(t)
	jid := ownPN + ":7@s.whatsapp.net"
	id := f.addSession(t, ownPN, jid)
	devices := &fakeDevices{}
	c := devices.add(jid)
	sink := newSignalSink(f.pool)
	p := f.provider(t, devices, sink, mutate...)
	c.waitConnect(t)
	c.login(ownPN)
	c.emit(&events.Connected{})
	sink.waitState(t, providers.StateConnected)
	return f, p, c, sink, id
}

func msgEvent(id string, m *waE2E.Message) *events.Message {
	lid, _ := types.ParseJID(contactLID)
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{
				Chat: lid, Sender: lid, SenderAlt: types.NewJID(contactPN, types.DefaultUserServer),
				AddressingMode: types.AddressingModeLID,
			},
			ID: id, PushName: "Maria", Timestamp: time.Unix(1767225600, 0),
		},
		Message: m,
	}
}

type row struct {
	Type, Status, From string
	Content            providers.Content
	Meta               map[string]any
}

func (f *fixture) inboundRow(t *testing.T, messageID string) row {
	t.Helper()
	var r row
	var content, meta []byte
	require.NoError(t, f.pool.QueryRow(context.Background(), `
SELECT message_type, status, coalesce(from_number, ''), content, metadata FROM public.messages
 WHERE tenant_id = $1 AND direction = 'inbound' AND provider = 'baileys' AND message_id = $2`, f.tenant, messageID).
		Scan(&r.Type, &r.Status, &r.From, &content, &meta))
	require.NoError(t, json.Unmarshal(content, &r.Content))
	require.NoError(t, json.Unmarshal(meta, &r.Meta))
	return r
}

func TestInboundMessagesBecomeRows(t *testing.T) {
	t.Parallel()
	media := &memMedia{}
	f, _, c, sink, sessionID := connectedSession(t, func(cfg *Config) { cfg.Media = media })
	c.download = []byte("jpeg-bytes")
	lat, lng := -23.55, -46.63

	cases := []struct {
		id    string
		msg   *waE2E.Message
		check func(t *testing.T, r row)
	}{
		{"3EB0TEXT", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("oi"),
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0QUOTED")}}},
			func(t *testing.T, r row) {
				require.Equal(t, "text", r.Type)
				require.Equal(t, "received", r.Status)
				require.Equal(t, contactPN, r.From)
				require.Equal(t, "oi", r.Content.Text)
				require.Equal(t, "3EB0QUOTED", r.Content.ReplyTo)
				require.Equal(t, contactLID, r.Meta["fromAlt"])
				require.Equal(t, "Maria", r.Meta["pushName"])
			}},
		{"3EB0IMG", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/jpeg"), Caption: proto.String("foto"),
			DirectPath: proto.String("/v/x"), MediaKey: []byte("k"), FileSHA256: []byte("s"), FileEncSHA256: []byte("e"), FileLength: proto.Uint64(10)}},
			func(t *testing.T, r row) {
				require.Equal(t, "image", r.Type)
				require.Equal(t, "foto", r.Content.Caption)
				require.Equal(t, "https://storage.test/"+f.tenant+"/3EB0IMG.jpg", r.Content.MediaURL)
				require.Equal(t, []byte("jpeg-bytes"), media.files[f.tenant+"/3EB0IMG.jpg"])
			}},
		{"3EB0VOICE", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true), Seconds: proto.Uint32(4)}},
			func(t *testing.T, r row) {
				require.Equal(t, "voice", r.Type)
				require.Equal(t, 4, r.Content.Seconds)
				require.Contains(t, r.Content.MediaURL, "3EB0VOICE.ogg")
			}},
		{"3EB0LOC", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: &lat, DegreesLongitude: &lng, Name: proto.String("Sé")}},
			func(t *testing.T, r row) {
				require.Equal(t, "location", r.Type)
				require.InDelta(t, lat, *r.Content.Latitude, 1e-9)
				require.Equal(t, "Sé", r.Content.Name)
			}},
		{"3EB0VCARD", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("João"),
			Vcard: proto.String("BEGIN:VCARD\nVERSION:3.0\nFN:João\nTEL;type=CELL;waid=5511955554444:+55 11 95555-4444\nEND:VCARD")}},
			func(t *testing.T, r row) {
				require.Equal(t, "contacts", r.Type)
				require.Equal(t, "João", r.Content.Contacts[0].Name)
				require.Equal(t, []string{"+55 11 95555-4444"}, r.Content.Contacts[0].Phones)
			}},
		{"3EB0REACT", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍"),
			Key: &waCommon.MessageKey{ID: proto.String("3EB0TARGET"), FromMe: proto.Bool(true)}}},
			func(t *testing.T, r row) {
				require.Equal(t, "reaction", r.Type)
				require.Equal(t, "👍", r.Content.Emoji)
				require.Equal(t, "3EB0TARGET", r.Content.TargetMessageID)
			}},
		{"3EB0REVOKE", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
			Key: &waCommon.MessageKey{ID: proto.String("3EB0NEVERSTORED")}}},
			func(t *testing.T, r row) {
				// A target this session never stored: kept as a system row.
				require.Equal(t, "system", r.Type)
				require.Equal(t, "3EB0NEVERSTORED", r.Content.TargetMessageID)
				require.JSONEq(t, `{"event":"revoke"}`, string(r.Content.Raw))
			}},
		{"3EB0EDIT", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
			Key: &waCommon.MessageKey{ID: proto.String("3EB0NEVERSTORED")}, EditedMessage: &waE2E.Message{Conversation: proto.String("oi!")}}},
			func(t *testing.T, r row) {
				require.Equal(t, "system", r.Type)
				require.Equal(t, "oi!", r.Content.Text)
				require.JSONEq(t, `{"event":"edit"}`, string(r.Content.Raw))
			}},
		{"3EB0POLL", &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Almoço?"),
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Sim")}, {OptionName: proto.String("Não")}}}},
			func(t *testing.T, r row) {
				require.Equal(t, "poll", r.Type)
				require.Equal(t, &providers.Poll{Name: "Almoço?", Options: []string{"Sim", "Não"}}, r.Content.Poll)
			}},
	}
	for _, tc := range cases {
		c.emit(msgEvent(tc.id, tc.msg))
		got := sink.waitInbound(t)
		require.Equal(t, tc.id, got.ProviderMessageID)
		t.Run(tc.id, func(t *testing.T) { tc.check(t, f.inboundRow(t, tc.id)) })
	}

	// Redelivery is idempotent.
	c.emit(msgEvent("3EB0TEXT", &waE2E.Message{Conversation: proto.String("oi")}))
	sink.waitInbound(t)
	var n int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM public.messages WHERE message_id = '3EB0TEXT'`).Scan(&n))
	require.Equal(t, 1, n)

	// Phone number and LID are linked for the session.
	var pn string
	require.NoError(t, f.pool.QueryRow(context.Background(), `
SELECT phone_number FROM wa.contact_identities WHERE tenant_id = $1 AND session_id = $2 AND lid = $3`,
		f.tenant, sessionID, contactLID).Scan(&pn))
	require.Equal(t, contactPN, pn)
}

func TestReceiptsFollowTheStateMachine(t *testing.T) {
	t.Parallel()
	f, _, c, sink, sessionID := connectedSession(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, status, provider)
VALUES ($1, $2, '3EB0OUT1', 'outbound', $3, 'sent', 'baileys')`, f.tenant, sessionID, contactPN)
	require.NoError(t, err)
	status := func() string {
		var s string
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT status FROM public.messages WHERE message_id = '3EB0OUT1'`).Scan(&s))
		return s
	}
	lid, _ := types.ParseJID(contactLID)
	receipt := func(typ types.ReceiptType) {
		c.emit(&events.Receipt{MessageSource: types.MessageSource{Chat: lid, Sender: lid}, MessageIDs: []string{"3EB0OUT1"},
			Timestamp: time.Now(), Type: typ})
	}
	receipt(types.ReceiptTypeRead) // read may arrive without delivered
	<-sink.receipts
	require.Equal(t, "read", status())
	receipt(types.ReceiptTypeDelivered) // late delivered is ignored
	<-sink.receipts
	require.Equal(t, "read", status())
	receipt(types.ReceiptTypePlayed)
	<-sink.receipts
	require.Equal(t, "played", status())
	receipt(types.ReceiptTypeRetry) // not a status: no write
	require.Equal(t, "played", status())
}

func (f *fixture) sessionRow(t *testing.T, id string) sessionRow {
	t.Helper()
	var r sessionRow
	var jid, reason, qr, pair *string
	require.NoError(t, f.pool.QueryRow(context.Background(), `
SELECT state, state_reason, state_until, qr_code, pair_code, device_jid FROM public.whatsapp_sessions WHERE id = $1`, id).
		Scan(&r.State, &reason, &r.Until, &qr, &pair, &jid))
	r.Reason, r.QRCode, r.PairCode, r.DeviceJID = deref(reason), deref(qr), deref(pair), deref(jid)
	return r
}

func TestLifecycleEventsPersistStates(t *testing.T) {
	t.Parallel()
	f, p, c, sink, id := connectedSession(t)
	// device_jid stays the store key (device number kept): another replica
	// or a restart loads the device with it.
	require.Equal(t, ownPN+":7@s.whatsapp.net", f.sessionRow(t, id).DeviceJID)

	// A dropped socket reconnects (backoff) and the state says so.
	c.Disconnect() // the socket is gone, as whatsmeow reports it
	c.emit(&events.Disconnected{})
	sink.waitState(t, providers.StateDisconnected)
	c.waitConnect(t)
	c.emit(&events.Connected{})
	sink.waitState(t, providers.StateConnected)

	ends := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	c.emit(&events.NotifyAccountReachoutTimelock{IsActive: true, TimeEnforcementEnds: jsontime.UnixString{Time: ends}})
	sink.waitState(t, providers.StateTimelocked)
	r := f.sessionRow(t, id)
	require.Equal(t, providers.StateTimelocked, r.State)
	require.WithinDuration(t, ends, *r.Until, time.Second)

	c.emit(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour})
	sink.waitState(t, providers.StateBanned)
	r = f.sessionRow(t, id)
	require.Equal(t, providers.StateBanned, r.State)
	require.NotNil(t, r.Until)
	require.Contains(t, r.Reason, "Banimento temporário")
	_, err := p.Send(context.Background(), providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: contactPN, Type: "text", Content: providers.Content{Text: "oi"}})
	var unavailable *providers.SessionUnavailableError
	require.ErrorAs(t, err, &unavailable)
	require.Equal(t, providers.StateBanned, unavailable.State)

	c.emit(&events.ClientOutdated{})
	sink.waitState(t, providers.StateOutdated)
	c.emit(&events.StreamReplaced{})
	sink.waitState(t, providers.StateStreamReplaced)

	c.emit(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
	sink.waitState(t, providers.StateLoggedOut)
	// The lease is given up: nobody drives a logged-out device.
	require.Eventually(t, func() bool { return !p.Owns(id) }, 30*time.Second, 10*time.Millisecond, "the lease is given up")
	// The row goes right after the in-memory ownership (a separate write):
	// wait for it rather than read it once.
	require.Eventually(t, func() bool {
		var leases int
		require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.session_leases WHERE session_id = $1`, id).Scan(&leases))
		return leases == 0
	}, 30*time.Second, 10*time.Millisecond, "the lease row is deleted")
}
