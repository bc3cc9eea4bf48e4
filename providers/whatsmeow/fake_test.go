package whatsmeow

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapbase/zapbase/store"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// fakeClient is a hand-written stand-in for *whatsmeow.Client: it records
// calls and lets tests emit real whatsmeow event values to the handlers.
type fakeClient struct {
	mu        sync.Mutex
	handlers  []func(any)
	connected bool
	loggedIn  bool
	pn, lid   types.JID
	qr        chan whatsmeow.QRChannelItem
	connects  chan struct{}

	connectErr error
	sendErr    error
	failNext   error // returned by the next SendMessage only
	// hang makes Connect block until its context ends, as a dial into a
	// black-holed network does.
	hang     bool
	sent     []sentMessage
	uploads  []whatsmeow.MediaType
	download []byte
	marked   [][]string
	presence []bool
	logouts  int
	pairCode string
	// known are the numbers IsOnWhatsApp finds (digits); nil: every number.
	known     map[string]bool
	checks    [][]string
	passkeys  []*types.WebAuthnResponse
	confirmed int
}

type sentMessage struct {
	To  types.JID
	Msg *waE2E.Message
	ID  string
}

func newFakeClient() *fakeClient {
	return &fakeClient{connects: make(chan struct{}, 64), qr: make(chan whatsmeow.QRChannelItem, 16)}
}

func (f *fakeClient) Connect(ctx context.Context) error {
	f.mu.Lock()
	if f.hang {
		f.mu.Unlock()
		<-ctx.Done()
		return fmt.Errorf("dial: %w", ctx.Err())
	}
	err := f.connectErr
	if err == nil {
		f.connected = true
	}
	f.mu.Unlock()
	f.connects <- struct{}{}
	return err
}
func (f *fakeClient) Disconnect() {
	f.mu.Lock()
	f.connected = false
	f.mu.Unlock()
}
func (f *fakeClient) Logout(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logouts++
	f.connected, f.loggedIn = false, false
	return nil
}
func (f *fakeClient) IsConnected() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.connected }
func (f *fakeClient) IsLoggedIn() bool  { f.mu.Lock(); defer f.mu.Unlock(); return f.loggedIn }
func (f *fakeClient) OwnID() (types.JID, types.JID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pn, f.lid
}
func (f *fakeClient) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return f.qr, nil
}
func (f *fakeClient) PairPhone(ctx context.Context, phone string) (string, error) {
	return f.pairCode, nil
}
func (f *fakeClient) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The real client gives up on a cancelled context (usync, store I/O).
	if err := ctx.Err(); err != nil {
		return whatsmeow.SendResponse{}, err
	}
	if err := f.failNext; err != nil {
		f.failNext = nil
		return whatsmeow.SendResponse{}, err
	}
	if f.sendErr != nil {
		return whatsmeow.SendResponse{}, f.sendErr
	}
	f.sent = append(f.sent, sentMessage{To: to, Msg: msg, ID: id})
	resp := whatsmeow.SendResponse{ID: id, Timestamp: time.Unix(1767225600, 0), Chat: to}
	if to.Server == types.DefaultUserServer && f.known != nil {
		// Like whatsmeow, send to the LID IsOnWhatsApp stored for the number.
		resp.Chat = types.NewJID("1"+to.User, types.HiddenUserServer)
	}
	return resp, nil
}
func (f *fakeClient) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, mt)
	return whatsmeow.UploadResponse{URL: "https://mmg.whatsapp.net/x", DirectPath: "/v/t62/x", MediaKey: []byte("k"),
		FileEncSHA256: []byte("e"), FileSHA256: []byte("s"), FileLength: uint64(len(data))}, nil
}
func (f *fakeClient) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.download, nil
}
func (f *fakeClient) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marked = append(f.marked, ids)
	return nil
}
func (f *fakeClient) SendChatPresence(ctx context.Context, to types.JID, composing bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.presence = append(f.presence, composing)
	return nil
}
func (f *fakeClient) GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	return types.EmptyJID, nil
}
func (f *fakeClient) IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, append([]string(nil), phones...))
	out := make([]types.IsOnWhatsAppResponse, 0, len(phones))
	for _, ph := range phones {
		digits := strings.TrimPrefix(ph, "+")
		pn := types.NewJID(digits, types.DefaultUserServer)
		in := f.known == nil || f.known[digits]
		// WhatsApp answers the LID as JID and the number as pn_jid.
		out = append(out, types.IsOnWhatsAppResponse{Query: ph, JID: types.NewJID("1"+digits, types.HiddenUserServer), PhoneNumber: pn, IsIn: in})
	}
	return out, nil
}
func (f *fakeClient) SendPasskeyResponse(ctx context.Context, resp *types.WebAuthnResponse) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passkeys = append(f.passkeys, resp)
	return nil
}

// DecryptSecretEncryptedMessage "decrypts" by reading the ciphertext as
// the plaintext protobuf (the real cipher is whatsmeow's, not under test).
func (f *fakeClient) DecryptSecretEncryptedMessage(ctx context.Context, evt *events.Message) (*waE2E.Message, error) {
	var m waE2E.Message
	if err := proto.Unmarshal(evt.Message.GetSecretEncryptedMessage().GetEncPayload(), &m); err != nil {
		return nil, err
	}
	return &m, nil
}
func (f *fakeClient) SendPasskeyConfirmation(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmed++
	return nil
}
func (f *fakeClient) AddEventHandler(h func(evt any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers = append(f.handlers, h)
}

// emit delivers evt to the handlers as whatsmeow would (synchronously).
func (f *fakeClient) emit(evt any) {
	f.mu.Lock()
	hs := append([]func(any){}, f.handlers...)
	f.mu.Unlock()
	for _, h := range hs {
		h(evt)
	}
}

func (f *fakeClient) login(pn string) {
	f.mu.Lock()
	f.loggedIn = true
	f.pn = types.NewJID(pn, types.DefaultUserServer)
	f.mu.Unlock()
}

func (f *fakeClient) waitConnect(t *testing.T) {
	t.Helper()
	select {
	case <-f.connects:
	case <-time.After(30 * time.Second):
		t.Fatal("client never connected")
	}
}

// fakeDevices is the NewClientFunc of tests: paired devices by JID, and the
// next new (unpaired) device.
type fakeDevices struct {
	mu      sync.Mutex
	devices map[string]*fakeClient
	fresh   []*fakeClient
}

func (d *fakeDevices) add(jid string) *fakeClient {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.devices == nil {
		d.devices = map[string]*fakeClient{}
	}
	c := newFakeClient()
	d.devices[jid] = c
	return c
}

func (d *fakeDevices) nextNew() *fakeClient {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := newFakeClient()
	d.fresh = append(d.fresh, c)
	return c
}

func (d *fakeDevices) NewClient(ctx context.Context, jid string) (Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if jid == "" {
		if len(d.fresh) == 0 {
			return nil, fmt.Errorf("test prepared no new device")
		}
		c := d.fresh[0]
		d.fresh = d.fresh[1:]
		return c, nil
	}
	if c, ok := d.devices[jid]; ok {
		return c, nil
	}
	return nil, ErrDeviceNotFound
}

// signalSink wraps the real database sink and signals each write.
type signalSink struct {
	providers.EventSink
	states   chan providers.SessionState
	inbound  chan providers.InboundMessage
	receipts chan providers.Receipt
}

func newSignalSink(pool *pgxpool.Pool) *signalSink {
	return &signalSink{EventSink: dispatch.NewEvents(pool), states: make(chan providers.SessionState, 256),
		inbound: make(chan providers.InboundMessage, 256), receipts: make(chan providers.Receipt, 256)}
}

func (s *signalSink) SessionState(ctx context.Context, id string, st providers.SessionState) error {
	err := s.EventSink.SessionState(ctx, id, st)
	s.states <- st
	return err
}

func (s *signalSink) Inbound(ctx context.Context, m providers.InboundMessage) error {
	err := s.EventSink.Inbound(ctx, m)
	s.inbound <- m
	return err
}

func (s *signalSink) Receipt(ctx context.Context, r providers.Receipt) error {
	err := s.EventSink.Receipt(ctx, r)
	s.receipts <- r
	return err
}

// waitState waits for a persisted state (skipping others).
func (s *signalSink) waitState(t *testing.T, state string) providers.SessionState {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case st := <-s.states:
			if st.State == state {
				return st
			}
		case <-deadline:
			t.Fatalf("state %s never persisted", state)
		}
	}
}

func (s *signalSink) waitInbound(t *testing.T) providers.InboundMessage {
	t.Helper()
	select {
	case m := <-s.inbound:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("inbound message never persisted")
	}
	return providers.InboundMessage{}
}

// fixture is a migrated database with one tenant.
type fixture struct {
	url    string
	pool   *pgxpool.Pool
	tenant string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	url := devdbtest.NewDatabase(t)
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: 20})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	f := &fixture{url: url, pool: pool}
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('acme', 'Acme') RETURNING id::text`).Scan(&f.tenant))
	return f
}

// addSession inserts a baileys session; deviceJID "" means unpaired.
func (f *fixture) addSession(t *testing.T, phone, deviceJID string) string {
	t.Helper()
	var id string
	var jid *string
	if deviceJID != "" {
		jid = &deviceJID
	}
	state := "disconnected"
	if jid != nil {
		state = "connected"
	}
	require.NoError(t, f.pool.QueryRow(context.Background(), `
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, device_jid, state)
VALUES ($1, $2, 'baileys', $3, $4) RETURNING id::text`, f.tenant, phone, jid, state).Scan(&id))
	return id
}

func (f *fixture) provider(t *testing.T, devices *fakeDevices, sink providers.EventSink, mutate ...func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		DB: store.New(f.pool).WhatsAppWeb(), Sink: sink, NewClientFunc: devices.NewClient, Holder: "test-" + t.Name(),
		LeaseTTL: 3 * time.Second, LeaseTick: 500 * time.Millisecond,
		ReconnectBase: time.Millisecond, ReconnectMax: 10 * time.Millisecond,
		PairWait: 30 * time.Second,
		Feed:     supabase.ChangeFeed{Pool: f.pool}, Outbox: supabase.ChangeFeed{Pool: f.pool},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(p.Stop)
	return p
}
