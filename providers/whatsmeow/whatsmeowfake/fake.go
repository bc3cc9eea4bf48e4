// Package whatsmeowfake is an offline stand-in for the WhatsApp Web client,
// for end-to-end tests only. `zapbase serve` uses it instead of whatsmeow
// when ZAPBASE_TEST_WHATSMEOW_FAKE=1 (and never otherwise), so session
// leases, reconnects, pairing and session events run for real in the real
// binary while no socket to WhatsApp is opened.
//
// Every paired device "connects" at once and logs
//
//	{"msg":"fake device connected","device":"<jid>",...}
//	{"msg":"fake device disconnected","device":"<jid>",...}
//
// so a test can rebuild, from the processes' logs, which process drove which
// device and when. Unpaired devices show rotating QR codes; they pair only
// when a test "scans" the current code through Control (the phone's part),
// and Control can also rotate a code at once instead of waiting for it.
// Sent messages are reported delivered, then read, as the recipient's phone
// would.
package whatsmeowfake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/jsonbytes"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	wm "github.com/zapbase/zapbase/providers/whatsmeow"
)

// Defaults for Devices.
const (
	DefaultQRInterval = 20 * time.Second
	DefaultQRCodes    = 6
)

// Devices builds fake clients; NewClient is a whatsmeow.NewClientFunc.
type Devices struct {
	// QRInterval is how long each QR code of an unpaired device lives.
	QRInterval time.Duration
	// QRCodes is how many codes are shown before pairing times out.
	QRCodes int
	Logger  *slog.Logger

	mu      sync.Mutex
	showing map[string]*Client // QR code on screen → its unpaired device

	// PasskeyJID, when set, makes unpaired devices link with a passkey, as
	// WhatsApp asks accounts that have one: right after the first QR code
	// the device emits events.PairPasskeyRequest; SendPasskeyResponse
	// answers events.PairPasskeyConfirmation; SendPasskeyConfirmation pairs
	// the device as PasskeyJID (events.PairSuccess, then Connected).
	PasskeyJID string
}

// New returns Devices with defaults.
func New(log *slog.Logger) *Devices {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Devices{QRInterval: DefaultQRInterval, QRCodes: DefaultQRCodes, Logger: log.With("component", "whatsmeowfake"),
		showing: map[string]*Client{}}
}

// Control is the test's hand on the fake phones, mounted only when the fake
// is on (POST /__test/whatsmeowfake/{action}):
//
//	scan?code=<qr>&phone=<digits>  the phone <digits> scans the QR code <qr>: the device pairs and connects
//	rotate?code=<qr>               the device showing <qr> shows its next code now
//
// Both answer 404 when no device shows that code.
func (d *Devices) Control() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("code")
		d.mu.Lock()
		c := d.showing[code]
		d.mu.Unlock()
		if c == nil || code == "" {
			http.Error(w, "no device shows this code", http.StatusNotFound)
			return
		}
		switch r.PathValue("action") {
		case "scan":
			phone := r.URL.Query().Get("phone")
			if phone == "" {
				http.Error(w, "phone required", http.StatusBadRequest)
				return
			}
			c.pair(types.NewADJID(phone, 0, 7))
		case "rotate":
			c.rotateNow()
		default:
			http.Error(w, "unknown action", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (d *Devices) show(code string, c *Client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.showing {
		if v == c {
			delete(d.showing, k)
		}
	}
	if code != "" {
		d.showing[code] = c
	}
}

// NewClient implements whatsmeow.NewClientFunc: any device JID is a paired
// device (the fake keeps no keys); "" is a new device waiting for a QR scan.
// Like the real store, which is keyed by the full device JID, a JID without
// a device number is not found.
func (d *Devices) NewClient(ctx context.Context, jid string) (wm.Client, error) {
	c := &Client{d: d}
	if jid != "" {
		j, err := types.ParseJID(jid)
		if err != nil {
			return nil, fmt.Errorf("parse device jid %q: %w", jid, err)
		}
		if j.Device == 0 {
			return nil, wm.ErrDeviceNotFound
		}
		c.jid = j
	}
	return c, nil
}

// Client is a fake device. It is safe for concurrent use.
type Client struct {
	d   *Devices
	jid types.JID

	mu            sync.Mutex
	handlers      []func(any)
	connected     bool
	conn          uint64 // increments per connection
	qr            chan whatsmeow.QRChannelItem
	rotate        chan struct{}
	paired        chan types.JID
	passkeyPaired chan struct{} // closed when a passkey pairing completes
}

var _ wm.Client = (*Client)(nil)

// id is the device JID (empty until paired); a passkey pairing sets it.
func (c *Client) id() types.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jid
}

func (c *Client) device() string {
	if j := c.id(); !j.IsEmpty() {
		return j.String()
	}
	return "unpaired"
}

// Connect "opens the socket": a paired device reports Connected, an
// unpaired one starts showing QR codes. The connection lives until
// Disconnect or until ctx ends, as whatsmeow's socket does.
func (c *Client) Connect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.connected {
		c.mu.Unlock()
		return whatsmeow.ErrAlreadyConnected
	}
	c.connected = true
	c.conn++
	conn, qr := c.conn, c.qr
	c.mu.Unlock()
	c.d.Logger.Info("fake device connected", "device", c.device())
	go func() {
		<-ctx.Done()
		c.drop(conn)
	}()
	if c.id().IsEmpty() {
		if qr != nil {
			go c.showQR(ctx, qr)
		}
		return nil
	}
	go c.emit(&events.Connected{})
	return nil
}

// drop ends connection conn if it is still the current one.
func (c *Client) drop(conn uint64) {
	c.mu.Lock()
	if !c.connected || c.conn != conn {
		c.mu.Unlock()
		return
	}
	c.connected = false
	c.mu.Unlock()
	c.d.Logger.Info("fake device disconnected", "device", c.device())
}

func (c *Client) showQR(ctx context.Context, qr chan whatsmeow.QRChannelItem) {
	defer close(qr)
	defer c.d.show("", c)
	c.mu.Lock()
	rotate, paired := c.rotate, c.paired
	c.mu.Unlock()
	for i := range c.d.QRCodes {
		raw := make([]byte, 24)
		_, _ = rand.Read(raw)
		code := fmt.Sprintf("2@fake%d,%s", i, base64.StdEncoding.EncodeToString(raw))
		select {
		case qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: code, Timeout: c.d.QRInterval}:
		case <-ctx.Done():
			return
		}
		c.d.show(code, c)
		if i == 0 && c.d.PasskeyJID != "" {
			// The phone scanned the code; WhatsApp asks for the passkey.
			c.emit(&events.PairPasskeyRequest{PublicKey: &types.WebAuthnPublicKey{
				Challenge: jsonbytes.UnpaddedURLBytes("fake-challenge"), Timeout: 60000, RelyingPartID: "whatsapp.com",
				UserVerification: "required",
			}})
			c.mu.Lock()
			passkeyPaired := c.passkeyPaired
			c.mu.Unlock()
			select {
			case <-passkeyPaired:
				select {
				case qr <- whatsmeow.QRChannelSuccess:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
			return
		}
		t := time.NewTimer(c.d.QRInterval)
		select {
		case <-t.C:
		case <-rotate:
			t.Stop()
		case jid := <-paired:
			t.Stop()
			// What whatsmeow does on a scan: PairSuccess, the channel's
			// success item, then the reconnect as the new device.
			c.mu.Lock()
			c.jid = jid
			c.mu.Unlock()
			c.emit(&events.PairSuccess{ID: jid})
			select {
			case qr <- whatsmeow.QRChannelSuccess:
			case <-ctx.Done():
				return
			}
			c.d.Logger.Info("fake device paired", "device", c.device())
			c.emit(&events.Connected{})
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	select {
	case qr <- whatsmeow.QRChannelTimeout:
	case <-ctx.Done():
	}
}

// Disconnect closes the fake socket.
func (c *Client) Disconnect() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	c.drop(conn)
}

// Logout unlinks the fake device.
func (c *Client) Logout(ctx context.Context) error {
	c.Disconnect()
	return nil
}

// IsConnected reports whether the fake socket is open.
func (c *Client) IsConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// IsLoggedIn: paired devices are logged in while connected.
func (c *Client) IsLoggedIn() bool { return !c.id().IsEmpty() && c.IsConnected() }

// OwnID answers the device's phone-number JID.
func (c *Client) OwnID() (types.JID, types.JID) { return c.id().ToNonAD(), types.EmptyJID }

// GetQRChannel returns the channel of QR codes shown once connected.
func (c *Client) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	if !c.id().IsEmpty() {
		return nil, whatsmeow.ErrQRStoreContainsID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connected {
		return nil, whatsmeow.ErrQRAlreadyConnected
	}
	c.qr = make(chan whatsmeow.QRChannelItem, 1)
	c.rotate = make(chan struct{}, 1)
	c.paired = make(chan types.JID, 1)
	c.passkeyPaired = make(chan struct{})
	return c.qr, nil
}

// rotateNow ends the current QR code's life.
func (c *Client) rotateNow() {
	c.mu.Lock()
	ch := c.rotate
	c.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// pair is the phone scanning the code on screen.
func (c *Client) pair(jid types.JID) {
	c.mu.Lock()
	ch := c.paired
	c.mu.Unlock()
	select {
	case ch <- jid:
	default:
	}
}

// PairPhone answers a fixed pairing code.
func (c *Client) PairPhone(ctx context.Context, phone string) (string, error) {
	return "FAKE-CODE", nil
}

// SendMessage accepts the message under the caller's id and reports it
// delivered shortly after, as the recipient's phone would.
func (c *Client) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	if err := ctx.Err(); err != nil {
		return whatsmeow.SendResponse{}, err
	}
	if !c.IsLoggedIn() {
		return whatsmeow.SendResponse{}, whatsmeow.ErrNotConnected
	}
	go func() {
		for _, typ := range []types.ReceiptType{types.ReceiptTypeDelivered, types.ReceiptTypeRead} {
			time.Sleep(100 * time.Millisecond)
			c.emit(&events.Receipt{
				MessageSource: types.MessageSource{Chat: to, Sender: to},
				MessageIDs:    []types.MessageID{id},
				Timestamp:     time.Now(),
				Type:          typ,
			})
		}
	}()
	return whatsmeow.SendResponse{ID: id, Timestamp: time.Now()}, nil
}

// Upload pretends to upload media.
func (c *Client) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	return whatsmeow.UploadResponse{URL: "https://mmg.whatsapp.net/fake", DirectPath: "/v/fake", MediaKey: []byte("k"),
		FileEncSHA256: []byte("e"), FileSHA256: []byte("s"), FileLength: uint64(len(data))}, nil
}

// Download has nothing to download.
func (c *Client) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	return nil, errors.New("whatsmeowfake: no media")
}

// MarkRead accepts read marks.
func (c *Client) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	return nil
}

// SendChatPresence accepts typing indicators.
func (c *Client) SendChatPresence(ctx context.Context, to types.JID, composing bool) error {
	return nil
}

// GetPNForLID knows no LIDs.
func (c *Client) GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	return types.EmptyJID, nil
}

// IsOnWhatsApp knows every number except those ending in 0000; a
// Brazilian mobile is known only in its nine-digit form (as WhatsApp knows
// accounts created after 2016), so the ninth-digit resolution runs for real.
func (c *Client) IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	if !c.IsLoggedIn() {
		return nil, whatsmeow.ErrNotConnected
	}
	out := make([]types.IsOnWhatsAppResponse, 0, len(phones))
	for _, ph := range phones {
		digits := strings.TrimPrefix(ph, "+")
		in := !strings.HasSuffix(digits, "0000")
		if strings.HasPrefix(digits, "55") && len(digits) == 12 && digits[4] >= '6' {
			in = false // old eight-digit form of a mobile
		}
		jid := types.NewJID(digits, types.DefaultUserServer)
		out = append(out, types.IsOnWhatsAppResponse{Query: ph, JID: jid, PhoneNumber: jid, IsIn: in})
	}
	return out, nil
}

// SendPasskeyResponse accepts any assertion and asks to compare a code, as
// WhatsApp does without the handoff proof.
func (c *Client) SendPasskeyResponse(ctx context.Context, resp *types.WebAuthnResponse) error {
	go c.emit(&events.PairPasskeyConfirmation{Code: "FAKE-CODE"})
	return nil
}

// DecryptSecretEncryptedMessage has no message secrets.
func (c *Client) DecryptSecretEncryptedMessage(ctx context.Context, evt *events.Message) (*waE2E.Message, error) {
	return nil, whatsmeow.ErrNotSecretEncryptedMessage
}

// SendPasskeyConfirmation pairs the device as Devices.PasskeyJID.
func (c *Client) SendPasskeyConfirmation(ctx context.Context) error {
	jid, err := types.ParseJID(c.d.PasskeyJID)
	if err != nil {
		return fmt.Errorf("whatsmeowfake: passkey jid: %w", err)
	}
	c.mu.Lock()
	c.jid = jid
	passkeyPaired := c.passkeyPaired
	c.mu.Unlock()
	go func() {
		c.emit(&events.PairSuccess{ID: jid})
		if passkeyPaired != nil {
			close(passkeyPaired)
		}
		c.emit(&events.Connected{})
	}()
	return nil
}

// AddEventHandler registers h for the device's events.
func (c *Client) AddEventHandler(h func(evt any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, h)
}

func (c *Client) emit(evt any) {
	c.mu.Lock()
	hs := append([]func(any){}, c.handlers...)
	c.mu.Unlock()
	for _, h := range hs {
		h(evt)
	}
}
