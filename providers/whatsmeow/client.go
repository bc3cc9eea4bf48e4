package whatsmeow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// Client is the part of *whatsmeow.Client the provider uses. The real one
// is built by Store.NewClient; tests use a hand-written fake, since
// whatsmeow cannot reach WhatsApp here (the Noise handshake pins
// WhatsApp's certificate, so a fake server is not practical).
type Client interface {
	// Connect opens the websocket. ctx becomes the socket's parent: it must
	// be long-lived (the session's), never a request's.
	Connect(ctx context.Context) error
	Disconnect()
	// Logout unlinks the device on the phone and deletes its keys.
	Logout(ctx context.Context) error
	IsConnected() bool
	IsLoggedIn() bool
	// OwnID is the device's phone-number JID and LID (empty before pairing).
	OwnID() (pn, lid types.JID)
	// GetQRChannel must be called before Connect on an unpaired device.
	GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error)
	// PairPhone asks for a phone-number pairing code (after the first QR).
	PairPhone(ctx context.Context, phone string) (string, error)
	SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, data []byte, mediaType whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
	MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error
	SendChatPresence(ctx context.Context, to types.JID, composing bool) error
	// GetPNForLID resolves a LID to a phone-number JID from the store.
	GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error)
	AddEventHandler(h func(evt any))
	// IsOnWhatsApp asks which phone numbers ("+5511…") have an account.
	IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error)
	// SendPasskeyResponse answers events.PairPasskeyRequest with the
	// browser's WebAuthn assertion.
	SendPasskeyResponse(ctx context.Context, resp *types.WebAuthnResponse) error
	// SendPasskeyConfirmation confirms the code of
	// events.PairPasskeyConfirmation.
	SendPasskeyConfirmation(ctx context.Context) error
	// DecryptSecretEncryptedMessage decrypts the SecretEncryptedMessage
	// form of edits with the original message's secret.
	DecryptSecretEncryptedMessage(ctx context.Context, evt *events.Message) (*waE2E.Message, error)
}

// NewClientFunc builds a Client for the device with JID jid, or for a new
// (unpaired) device when jid is empty. It returns ErrDeviceNotFound when the
// store has no such device (it was logged out).
type NewClientFunc func(ctx context.Context, jid string) (Client, error)

// ErrDeviceNotFound: the store holds no keys for the device.
var ErrDeviceNotFound = errors.New("device not found in the whatsmeow store")

// StoreSchema holds whatsmeow's tables. Migration 000001 creates it and never
// grants it to the API roles: it holds Signal private keys.
const StoreSchema = "whatsmeow"

// Store is the single whatsmeow sqlstore Container of the database, shared by
// every tenant's device. whatsmeow's upgrade check is schema-blind, so there
// must be exactly one set of whatsmeow tables per database.
type Store struct {
	db        *sql.DB
	container *sqlstore.Container
	log       *slog.Logger
}

// OpenStore opens the whatsmeow store in schema whatsmeow of databaseURL
// (pgx stdlib, search_path pinned on every connection) and upgrades it.
func OpenStore(ctx context.Context, databaseURL string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cc, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cc.RuntimeParams["search_path"] = StoreSchema
	cc.RuntimeParams["application_name"] = "zapbase-whatsmeow"
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(10)
	// Dialect "postgres" is only for whatsmeow's SQL flavour; the driver is
	// pgx via the *sql.DB.
	container := sqlstore.NewWithDB(db, "postgres", newWALogger(log, "store"))
	if err := container.Upgrade(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade whatsmeow store: %w", err)
	}
	return &Store{db: db, container: container, log: log}, nil
}

// Close closes the store's connections.
func (s *Store) Close() error { return s.db.Close() }

// NewClient implements NewClientFunc over the store.
func (s *Store) NewClient(ctx context.Context, jid string) (Client, error) {
	var cli *whatsmeow.Client
	if jid == "" {
		cli = whatsmeow.NewClient(s.container.NewDevice(), newWALogger(s.log, "client"))
	} else {
		j, err := types.ParseJID(jid)
		if err != nil {
			return nil, fmt.Errorf("parse device jid %q: %w", jid, err)
		}
		dev, err := s.container.GetDevice(ctx, j)
		if err != nil {
			return nil, fmt.Errorf("load device %s: %w", jid, err)
		}
		if dev == nil {
			return nil, ErrDeviceNotFound
		}
		cli = whatsmeow.NewClient(dev, newWALogger(s.log, "client").Sub(jid))
	}
	// Reconnection is ours (capped exponential backoff with jitter, lease
	// aware); whatsmeow's own is linear and unbounded.
	cli.EnableAutoReconnect = false
	// Sent messages are kept in whatsmeow_retry_buffer so retry receipts
	// are honoured after a restart.
	cli.UseRetryMessageStore = true
	// History sync is not imported (default): skip downloading it.
	cli.ManualHistorySyncDownload = true
	return &waClient{cli: cli}, nil
}

// waClient adapts *whatsmeow.Client to Client.
type waClient struct{ cli *whatsmeow.Client }

func (c *waClient) Connect(ctx context.Context) error { return c.cli.ConnectContext(ctx) }
func (c *waClient) Disconnect()                       { c.cli.Disconnect() }
func (c *waClient) Logout(ctx context.Context) error  { return c.cli.Logout(ctx) }
func (c *waClient) IsConnected() bool                 { return c.cli.IsConnected() }
func (c *waClient) IsLoggedIn() bool                  { return c.cli.IsLoggedIn() }
func (c *waClient) OwnID() (types.JID, types.JID) {
	var pn types.JID
	if c.cli.Store.ID != nil {
		pn = c.cli.Store.ID.ToNonAD()
	}
	return pn, c.cli.Store.GetLID().ToNonAD()
}
func (c *waClient) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return c.cli.GetQRChannel(ctx)
}
func (c *waClient) PairPhone(ctx context.Context, phone string) (string, error) {
	// The display name must be a common browser/OS pair or the server
	// answers 400 (research/deps.md §2.2).
	return c.cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
}
func (c *waClient) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	return c.cli.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: id})
}
func (c *waClient) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	return c.cli.Upload(ctx, data, mt)
}
func (c *waClient) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	return c.cli.Download(ctx, msg)
}
func (c *waClient) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	return c.cli.MarkRead(ctx, ids, ts, chat, sender)
}
func (c *waClient) SendChatPresence(ctx context.Context, to types.JID, composing bool) error {
	state := types.ChatPresencePaused
	if composing {
		state = types.ChatPresenceComposing
	}
	return c.cli.SendChatPresence(ctx, to, state, types.ChatPresenceMediaText)
}
func (c *waClient) GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	return c.cli.Store.LIDs.GetPNForLID(ctx, lid)
}
func (c *waClient) AddEventHandler(h func(evt any)) { c.cli.AddEventHandler(h) }
func (c *waClient) IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	return c.cli.IsOnWhatsApp(ctx, phones)
}
func (c *waClient) SendPasskeyResponse(ctx context.Context, resp *types.WebAuthnResponse) error {
	return c.cli.SendPasskeyResponse(ctx, resp)
}
func (c *waClient) DecryptSecretEncryptedMessage(ctx context.Context, evt *events.Message) (*waE2E.Message, error) {
	return c.cli.DecryptSecretEncryptedMessage(ctx, evt)
}
func (c *waClient) SendPasskeyConfirmation(ctx context.Context) error {
	return c.cli.SendPasskeyConfirmation(ctx)
}

// waLogger adapts slog to whatsmeow's Printf-style logger.
type waLogger struct {
	log *slog.Logger
}

func newWALogger(log *slog.Logger, module string) waLog.Logger {
	return &waLogger{log: log.With("whatsmeow", module)}
}

func (l *waLogger) Warnf(msg string, args ...any)  { l.log.Warn(fmt.Sprintf(msg, args...)) }
func (l *waLogger) Errorf(msg string, args ...any) { l.log.Error(fmt.Sprintf(msg, args...)) }
func (l *waLogger) Infof(msg string, args ...any)  { l.log.Info(fmt.Sprintf(msg, args...)) }
func (l *waLogger) Debugf(msg string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(msg, args...))
	}
}
func (l *waLogger) Sub(module string) waLog.Logger {
	return &waLogger{log: l.log.With("whatsmeow_sub", module)}
}
