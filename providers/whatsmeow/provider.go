package whatsmeow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/store"
)

// Defaults for Config.
const (
	DefaultReconnectBase = 2 * time.Second
	DefaultReconnectMax  = 5 * time.Minute
	DefaultPairWait      = 30 * time.Second
	DefaultConnectWait   = 20 * time.Second
	DefaultMaxMediaBytes = 100 << 20
	inboundQueueSize     = 256
)

// reasonManualDisconnect marks a session disconnected on purpose: it is not
// reconnected on start (the lease candidates of store/leases.go).
const reasonManualDisconnect = store.ReasonManualDisconnect

// ChannelStore is what the provider keeps in the database besides what it reports
// through the event sink: its leases, contacts, number resolutions and
// settings (wa.*), and the reads it needs of its sessions and messages.
// store.WhatsAppWeb implements it; the provider holds no pool (whatsmeow's
// own device store is a separate sqlstore container, see OpenStore).
type ChannelStore interface {
	LeaseStore
	// NotifyOwner sends payload to the replica holding sessionID's lease.
	NotifyOwner(ctx context.Context, sessionID, payload string) (bool, error)

	Session(ctx context.Context, sessionID string) (store.BaileysSession, bool, error)
	LookupMessage(ctx context.Context, tenantID, providerMessageID string) (store.BaileysMessageRef, bool, error)
	LookupPoll(ctx context.Context, tenantID, pollMessageID string) (store.BaileysPoll, bool, error)

	LinkContact(ctx context.Context, p store.LinkContactParams) error
	LookupContact(ctx context.Context, tenantID, sessionID, idOrPhone string) (store.ContactIdentity, bool, error)
	CachedResolution(ctx context.Context, tenantID, sessionID, number string) (store.RecipientResolution, bool, error)
	SaveResolution(ctx context.Context, p store.SaveResolutionParams) error
	RecordSentTo(ctx context.Context, tenantID, sessionID, number, sentTo string) error
	LoadSettings(ctx context.Context, tenantID, sessionID string) (providers.SessionSettings, error)
}

var _ ChannelStore = store.WhatsAppWeb{}

// OwnerNotifier sends a payload to the replica driving a session
// (store.LeaseQuery implements it).
type OwnerNotifier interface {
	NotifyOwner(ctx context.Context, sessionID, payload string) (bool, error)
}

// MediaStore and MediaGetter are the providers' (one seam for every
// provider).
type (
	MediaStore  = providers.MediaStore
	MediaGetter = providers.MediaGetter
)

// Config configures the provider.
type Config struct {
	// DB keeps the channel's own tables and reads its sessions and
	// messages (store.New(pool).WhatsAppWeb() in production).
	DB ChannelStore
	// Sink persists events (dispatch.NewEvents(pool) in production).
	Sink providers.EventSink
	// NewClientFunc builds device clients (Store.NewClient in production).
	NewClientFunc NewClientFunc
	// Media stores inbound media; nil keeps only the metadata.
	Media MediaStore
	// Feed records calls, presence and group events (the change feed);
	// Outbox queues the texts the provider sends itself (a rejected call's
	// message). Nil drops them.
	Feed   providers.FeedSink
	Outbox providers.Outbox
	// Holder names this replica for session leases (unique per process).
	Holder string
	// LeaseTTL / LeaseTick tune the leases (defaults 15 s / 5 s).
	LeaseTTL  time.Duration
	LeaseTick time.Duration
	// ReconnectBase/Max bound the reconnect backoff (2 s … 5 min).
	ReconnectBase time.Duration
	ReconnectMax  time.Duration
	// PairWait is how long Initialize waits for the first QR/pairing code.
	PairWait time.Duration
	// ConnectTimeout bounds one connection attempt (dial + handshake): a
	// black-holed network must not hold Initialize or the reconnect loop
	// until the kernel's TCP timeout (default 20 s).
	ConnectTimeout time.Duration
	// HTTPClient fetches outbound media by URL.
	HTTPClient *http.Client
	// FFmpegPath transcodes voice notes to OGG/Opus; "" looks up "ffmpeg"
	// on PATH; without it non-OGG voice notes are refused.
	FFmpegPath    string
	MaxMediaBytes int64
	// OnWakeFunc is called with a session id when this replica should look
	// for pending rows of that session: after it acquires the session's
	// lease and when another replica sent a wake notification.
	OnWakeFunc func(sessionID string)
	// OnPairingFunc, when set, sees every QR code and pairing code as it is
	// issued (zapbase dev prints them in the terminal). It must return
	// promptly.
	OnPairingFunc func(PairingCode)
	// OnLocalSessionsFunc, when set, is told how many sessions this replica
	// drives (session leases held): 0 at Start, after every acquisition,
	// release, loss or takeover, and 0 again at Stop. Calls arrive in order
	// and must return promptly (cmd/zapbase feeds the
	// zapbase_local_sessions gauge with it).
	OnLocalSessionsFunc func(n int)
	// FetchVersionFunc, when set, is asked at Start for the current
	// WhatsApp Web version (LatestVersionFunc in production); the built-in
	// version stays when it fails (SyncWAVersion). Nil: no fetch.
	FetchVersionFunc FetchVersionFunc
	// OnVersionFunc, when set, sees the outcome of that fetch (metrics).
	OnVersionFunc func(VersionResult)
	// OnUndecryptableFunc, when set, is called for every message that
	// arrived undecryptable (metrics). It must return promptly.
	OnUndecryptableFunc func()
	Logger              *slog.Logger
}

// PairingCode is a QR code or phone pairing code issued for a session.
type PairingCode struct {
	SessionID, TenantID, PhoneNumber string
	QRCode                           string // the QR payload ("2@…"), when a QR was issued
	PairCode                         string // the phone pairing code, when one was asked for
}

// Provider is the WhatsApp Web provider (API name "baileys"), built on
// whatsmeow. It drives the devices whose leases this replica holds.
type Provider struct {
	startstop.BaseStartStop

	cfg    Config
	log    *slog.Logger
	leases *LeaseManager
	ffmpeg string

	// ctx is the current run's (set by Start before any session starts);
	// sessions derive from it.
	ctx context.Context
	wg  sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session
	// settings caches instance settings (settings.go).
	settings settingsCache
}

var (
	_ providers.Provider        = (*Provider)(nil)
	_ providers.SessionManager  = (*Provider)(nil)
	_ providers.ReadMarker      = (*Provider)(nil)
	_ providers.TypingIndicator = (*Provider)(nil)
	_ providers.IDGenerator     = (*Provider)(nil)
)

// New validates cfg and returns a provider (not started).
func New(cfg Config) (*Provider, error) {
	if cfg.DB == nil || cfg.Sink == nil || cfg.NewClientFunc == nil {
		return nil, errors.New("whatsmeow provider: db, sink and client factory are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReconnectBase <= 0 {
		cfg.ReconnectBase = DefaultReconnectBase
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = DefaultReconnectMax
	}
	if cfg.PairWait <= 0 {
		cfg.PairWait = DefaultPairWait
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectWait
	}
	if cfg.MaxMediaBytes <= 0 {
		cfg.MaxMediaBytes = DefaultMaxMediaBytes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	p := &Provider{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "provider.whatsmeow"),
		sessions: map[string]*session{},
		ffmpeg:   lookFFmpeg(cfg.FFmpegPath),
	}
	lm, err := NewLeaseManager(LeaseConfig{
		Store:         cfg.DB,
		Holder:        cfg.Holder,
		TTL:           cfg.LeaseTTL,
		Tick:          cfg.LeaseTick,
		Logger:        cfg.Logger,
		OnAcquireFunc: p.onAcquire,
		OnReleaseFunc: p.onRelease,
		OnNotifyFunc:  p.onNotify,
		OnHeldFunc:    cfg.OnLocalSessionsFunc,
	})
	if err != nil {
		return nil, err
	}
	p.leases = lm
	return p, nil
}

// Leases exposes the lease manager (Owns, Holder, Channel).
func (p *Provider) Leases() *LeaseManager { return p.leases }

// Owns reports whether this replica drives sessionID (dispatch claims
// baileys rows only for owned sessions).
func (p *Provider) Owns(sessionID string) bool { return p.leases.Owns(sessionID) }

// Start begins taking leases; every session this replica acquires
// reconnects. Cancelling ctx stops the provider as Stop does; Start on a
// running provider is a no-op.
func (p *Provider) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := p.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	// Sessions and leases outlive ctx until the leases are given up: devices
	// disconnect in order (leases first), as Stop always did.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.ctx = runCtx
	if p.cfg.FetchVersionFunc != nil {
		res := SyncWAVersion(ctx, p.cfg.FetchVersionFunc, DefaultVersionFetchTimeout, p.log)
		if p.cfg.OnVersionFunc != nil {
			p.cfg.OnVersionFunc(res)
		}
	}
	if err := p.leases.Start(runCtx); err != nil {
		interrupted := startstop.Interrupted(ctx)
		cancel()
		stopped()
		if interrupted {
			return nil // a concurrent Stop cut Start short
		}
		return err
	}
	go func() {
		started()
		defer stopped()
		<-ctx.Done()
		p.leases.Stop()
		cancel()
		p.wg.Wait()
	}()
	return nil
}

// Stop disconnects every device, gives the leases up and waits. Idempotent.
func (p *Provider) Stop() { p.BaseStartStop.Stop() }

// Type implements providers.Provider.
func (p *Provider) Type() zapbase.ProviderType { return zapbase.ProviderBaileys }

// Capabilities implements providers.Provider.
func (p *Provider) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		MessageTypes: []zapbase.MessageType{
			zapbase.MessageText, zapbase.MessageImage, zapbase.MessageVideo, zapbase.MessageAudio,
			zapbase.MessageVoice, zapbase.MessageDocument, zapbase.MessageSticker, zapbase.MessageLocation,
			zapbase.MessageContacts, zapbase.MessageReaction, zapbase.MessageReadMark,
			zapbase.MessagePoll,
		},
		CallerMessageIDs: true,
		ReadReceipts:     true,
		Typing:           true,
		MaxMediaBytes:    p.cfg.MaxMediaBytes,
	}
}

// NewMessageID implements providers.IDGenerator: an id in WhatsApp Web's
// format ("3EB0" + 18 upper-case hex digits), as whatsmeow generates.
func (p *Provider) NewMessageID() string { return NewMessageID() }

// NewMessageID returns a WhatsApp Web message id.
func NewMessageID() string {
	data := make([]byte, 8, 24)
	binary.BigEndian.PutUint64(data, uint64(time.Now().Unix()))
	rnd := make([]byte, 16)
	_, _ = rand.Read(rnd)
	data = append(data, rnd...)
	sum := sha256.Sum256(data)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(sum[:9]))
}

// ---- lease callbacks ----

func (p *Provider) onAcquire(sessionID string, _ int64) {
	s := p.ensureSession(sessionID)
	if s != nil {
		s.kickNow()
	}
	if p.cfg.OnWakeFunc != nil {
		p.cfg.OnWakeFunc(sessionID)
	}
}

func (p *Provider) onRelease(sessionID string) {
	p.mu.Lock()
	s := p.sessions[sessionID]
	delete(p.sessions, sessionID)
	p.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// notification is the payload sent to a session's owner.
type notification struct {
	Op      string `json:"op"` // wake | disconnect | logout
	Session string `json:"session"`
}

func (p *Provider) onNotify(payload string) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil || n.Session == "" {
		p.log.Warn("ignoring malformed owner notification")
		return
	}
	switch n.Op {
	case "wake":
		if p.cfg.OnWakeFunc != nil && p.Owns(n.Session) {
			p.cfg.OnWakeFunc(n.Session)
		}
	case "settings":
		go p.reloadSettings(n.Session)
	case "disconnect", "logout":
		go func() {
			ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
			defer cancel()
			if err := p.disconnectLocal(ctx, n.Session, n.Op == "logout"); err != nil {
				p.log.Warn("remote disconnect failed", "session_id", n.Session, "error", err)
			}
		}()
	}
}

// WakeOwner asks the replica that drives sessionID to look for pending rows
// (dispatch calls it when it sees a baileys row it does not own). It reports
// whether some replica holds the session.
func WakeOwner(ctx context.Context, o OwnerNotifier, sessionID string) (bool, error) {
	return notifyOwner(ctx, o, notification{Op: "wake", Session: sessionID})
}

func notifyOwner(ctx context.Context, o OwnerNotifier, n notification) (bool, error) {
	payload, _ := json.Marshal(n)
	return o.NotifyOwner(ctx, n.Session, string(payload))
}

// ---- sessions ----

// sessionRow is what the provider reads of public.whatsapp_sessions.
type sessionRow = store.BaileysSession

func (p *Provider) loadSession(ctx context.Context, sessionID string) (sessionRow, error) {
	r, ok, err := p.cfg.DB.Session(ctx, sessionID)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, fmt.Errorf("session %s: %w", sessionID, errSessionNotFound)
	}
	return r, nil
}

var errSessionNotFound = errors.New("baileys session not found")

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ensureSession returns the driven session, creating it (row loaded) when
// this replica holds the lease. Nil when the row is gone.
func (p *Provider) ensureSession(sessionID string) *session {
	p.mu.Lock()
	if s := p.sessions[sessionID]; s != nil {
		p.mu.Unlock()
		return s
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	row, err := p.loadSession(ctx, sessionID)
	cancel()
	if err != nil {
		p.log.Warn("cannot drive session", "session_id", sessionID, "error", err)
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.sessions[sessionID]; s != nil {
		return s
	}
	s := newSession(p, sessionID, row)
	p.sessions[sessionID] = s
	p.wg.Add(2)
	go func() { defer p.wg.Done(); s.run() }()
	go func() { defer p.wg.Done(); s.inboundWorker() }()
	return s
}

func (p *Provider) session(sessionID string) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[sessionID]
}

// ---- providers.SessionManager ----

// Initialize implements providers.SessionManager. On the replica that can
// take (or holds) the session's lease it reconnects a paired device or
// starts a QR / pairing-code login, and answers the first code. When another
// replica drives the session, it answers the persisted state.
func (p *Provider) Initialize(ctx context.Context, ip providers.InitializeParams) (providers.SessionState, error) {
	ok, err := p.leases.Acquire(ctx, ip.SessionID)
	if err != nil {
		return providers.SessionState{}, err
	}
	if !ok {
		return p.Status(ctx, ip.SessionID)
	}
	s := p.ensureSession(ip.SessionID)
	if s == nil {
		_ = p.leases.Release(ctx, ip.SessionID)
		return providers.SessionState{}, &providers.PermanentError{Code: string(zapbase.CodeSessionNotFound), Reason: "Sessão não encontrada.", Err: errSessionNotFound}
	}
	if ip.TenantID != "" && ip.TenantID != s.tenantID {
		return providers.SessionState{}, &providers.PermanentError{Code: string(zapbase.CodeSessionNotFound), Reason: "Sessão não encontrada.", Err: errSessionNotFound}
	}
	return s.initialize(ctx, ip)
}

// Status implements providers.SessionManager from the persisted row (any
// replica answers the same).
func (p *Provider) Status(ctx context.Context, sessionID string) (providers.SessionState, error) {
	r, err := p.loadSession(ctx, sessionID)
	if err != nil {
		return providers.SessionState{}, err
	}
	st := providers.SessionState{State: r.State, Reason: r.Reason, Until: r.Until, QRCode: r.QRCode, PairCode: r.PairCode, JID: r.DeviceJID}
	if len(r.Passkey) > 0 {
		st.PasskeyRequest = r.Passkey
	}
	if r.State == providers.StatePasskeyConfirmation {
		st.PasskeyCode = r.PairCode
	}
	return st, nil
}

// Disconnect implements providers.SessionManager. The owner replica does it;
// other replicas forward the request through the owner's channel. A session
// nobody drives is marked directly.
func (p *Provider) Disconnect(ctx context.Context, sessionID string, logout bool) error {
	if p.session(sessionID) != nil {
		return p.disconnectLocal(ctx, sessionID, logout)
	}
	op := "disconnect"
	if logout {
		op = "logout"
	}
	sent, err := notifyOwner(ctx, p.cfg.DB, notification{Op: op, Session: sessionID})
	if err != nil || sent {
		return err
	}
	st := providers.SessionState{State: providers.StateDisconnected, Reason: reasonManualDisconnect}
	if logout {
		// Without a connected device the unlink cannot reach the phone; the
		// keys stay until the user removes the device on the phone.
		st = providers.SessionState{State: providers.StateLoggedOut, Reason: "Sessão encerrada pelo usuário"}
	}
	return p.cfg.Sink.SessionState(ctx, sessionID, st)
}

func (p *Provider) disconnectLocal(ctx context.Context, sessionID string, logout bool) error {
	s := p.session(sessionID)
	if s == nil {
		return nil
	}
	var logoutErr error
	st := providers.SessionState{State: providers.StateDisconnected, Reason: reasonManualDisconnect}
	if logout {
		st = providers.SessionState{State: providers.StateLoggedOut, Reason: "Sessão encerrada pelo usuário"}
		if c := s.currentClient(); c != nil && c.IsLoggedIn() {
			logoutErr = c.Logout(ctx)
		}
	}
	s.setState(st)
	if err := p.cfg.Sink.SessionState(ctx, sessionID, st); err != nil {
		return err
	}
	if err := p.leases.Release(ctx, sessionID); err != nil {
		return err
	}
	if logoutErr != nil {
		return fmt.Errorf("logout %s: %w", sessionID, logoutErr)
	}
	return nil
}
