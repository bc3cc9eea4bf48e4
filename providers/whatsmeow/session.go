package whatsmeow

// File size: one device session's state machine (connect, pair, reconnect,
// release) under one mutex; splitting it would separate transitions from
// the state they guard.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/backoff"
	"github.com/zapbase/zapbase/providers"
)

// session drives one device while this replica holds its lease. Its context
// lives as long as the lease: whatsmeow's socket hangs off it, so it is
// never a request's context.
type session struct {
	p        *Provider
	id       string
	tenantID string
	phone    string
	log      *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{}
	inbox  chan *events.Message

	mu        sync.Mutex
	client    Client
	deviceJID string
	state     providers.SessionState
	pairing   bool
	attempt   int
	stopped   bool
	timer     *time.Timer
	// connCancel ends the context of the current connection.
	connCancel context.CancelFunc
	// pairMu orders the writes of pairing codes and passkey states, so a
	// QR code in flight never overwrites a passkey request.
	pairMu sync.Mutex
}

func newSession(p *Provider, id string, row sessionRow) *session {
	ctx, cancel := context.WithCancel(p.ctx)
	return &session{
		p:         p,
		id:        id,
		tenantID:  row.TenantID,
		phone:     row.PhoneNumber,
		log:       p.log.With("session_id", id, "tenant_id", row.TenantID),
		ctx:       ctx,
		cancel:    cancel,
		kick:      make(chan struct{}, 1),
		inbox:     make(chan *events.Message, inboundQueueSize),
		deviceJID: row.DeviceJID,
		state:     providers.SessionState{State: row.State, Reason: row.Reason, Until: row.Until},
	}
}

func (s *session) currentClient() Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

func (s *session) setState(st providers.SessionState) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

func (s *session) snapshot() providers.SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// persist writes the state for the frontend. It outlives the session's
// context (the final state of a released session must still be written).
func (s *session) persist(st providers.SessionState) {
	s.setState(st)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.p.cfg.Sink.SessionState(ctx, s.id, st); err != nil {
		s.log.Error("persist session state", "state", st.State, "error", err)
	}
}

func (s *session) kickNow() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// kickAfter schedules a reconnect attempt (one pending at a time).
func (s *session) kickAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(d, s.kickNow)
}

// stop disconnects the device; the lease is being given up.
func (s *session) stop() {
	s.mu.Lock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
	c := s.client
	s.mu.Unlock()
	if c != nil {
		c.Disconnect()
	}
	s.cancel()
}

// wantConnect: a paired device in a state that reconnects.
func (s *session) wantConnect() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.pairing || s.deviceJID == "" {
		return false
	}
	switch s.state.State {
	case providers.StateLoggedOut, providers.StateOutdated, providers.StateStreamReplaced:
		return false
	case providers.StateBanned:
		return s.state.Until != nil && !time.Now().Before(*s.state.Until)
	case providers.StateDisconnected:
		return s.state.Reason != reasonManualDisconnect
	}
	return true
}

// run connects the device and reconnects it with capped exponential backoff
// whenever it is kicked (disconnect, ban expiry, lease acquired).
func (s *session) run() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		if !s.wantConnect() {
			continue
		}
		if err := s.connect(); err != nil {
			if errors.Is(err, ErrDeviceNotFound) {
				s.log.Warn("device keys are gone; session logged out")
				s.persist(providers.SessionState{State: providers.StateLoggedOut, Reason: "O aparelho foi desconectado; pareie novamente."})
				go s.release()
				continue
			}
			s.scheduleReconnect(err)
		}
	}
}

func (s *session) connect() error {
	s.mu.Lock()
	c, jid := s.client, s.deviceJID
	s.mu.Unlock()
	if c == nil {
		nc, err := s.p.cfg.NewClientFunc(s.ctx, jid)
		if err != nil {
			return err
		}
		nc.AddEventHandler(s.handleEvent)
		s.mu.Lock()
		if s.client == nil {
			s.client = nc
		}
		c = s.client
		s.mu.Unlock()
	}
	if c.IsConnected() {
		return nil
	}
	s.log.Info("connecting device")
	if err := s.connectBounded(c); err != nil && !errors.Is(err, whatsmeow.ErrAlreadyConnected) {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// errConnectTimeout: the connection attempt did not finish in time.
var errConnectTimeout = errors.New("connection to WhatsApp timed out")

// connectBounded connects c under a context derived from the session's
// (the socket hangs off it, so it must outlive the call) and cancels the
// attempt when it has not finished within ConnectTimeout.
func (s *session) connectBounded(c Client) error {
	cctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() { done <- c.Connect(cctx) }()
	t := time.NewTimer(s.p.cfg.ConnectTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			cancel()
			return err
		}
		s.mu.Lock()
		if s.connCancel != nil {
			s.connCancel()
		}
		s.connCancel = cancel
		s.mu.Unlock()
		return nil
	case <-t.C:
		cancel()
		s.log.Warn("connection attempt timed out", "timeout", s.p.cfg.ConnectTimeout)
		return errConnectTimeout
	}
}

func (s *session) scheduleReconnect(cause error) {
	s.mu.Lock()
	attempt := s.attempt
	s.attempt++
	s.mu.Unlock()
	d := backoff.Policy{Base: s.p.cfg.ReconnectBase, Max: s.p.cfg.ReconnectMax}.Delay(attempt + 1)
	s.log.Warn("device disconnected, reconnecting", "attempt", attempt, "delay", d, "error", cause)
	if cur := s.snapshot(); cur.State != providers.StateDisconnected || cur.Reason != "" {
		s.persist(providers.SessionState{State: providers.StateDisconnected})
	}
	s.kickAfter(d)
}

func (s *session) release() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.p.leases.Release(ctx, s.id); err != nil {
		s.log.Warn("release lease", "error", err)
	}
}

// initialize reconnects a paired device or starts pairing.
func (s *session) initialize(ctx context.Context, ip providers.InitializeParams) (providers.SessionState, error) {
	s.mu.Lock()
	c, jid, pairing, st := s.client, s.deviceJID, s.pairing, s.state
	s.mu.Unlock()
	if c != nil && c.IsLoggedIn() {
		return st, nil
	}
	if pairing {
		return s.p.Status(ctx, s.id)
	}
	if jid != "" {
		if _, err := s.p.cfg.NewClientFunc(ctx, jid); err == nil {
			// Paired device: (re)connect in the background.
			s.mu.Lock()
			s.state = providers.SessionState{State: providers.StateConnecting, JID: jid}
			s.attempt = 0
			s.mu.Unlock()
			s.persist(providers.SessionState{State: providers.StateConnecting, JID: jid})
			s.p.leases.Unpin(s.id)
			s.kickNow()
			return s.snapshot(), nil
		} else if !errors.Is(err, ErrDeviceNotFound) {
			return providers.SessionState{}, err
		}
	}
	return s.startPairing(ctx, ip)
}

// startPairing connects a new device with a QR channel and waits for the
// first code (QR, or the phone pairing code when asked).
func (s *session) startPairing(ctx context.Context, ip providers.InitializeParams) (providers.SessionState, error) {
	c, err := s.p.cfg.NewClientFunc(s.ctx, "")
	if err != nil {
		return providers.SessionState{}, fmt.Errorf("new device: %w", err)
	}
	c.AddEventHandler(s.handleEvent)
	qr, err := c.GetQRChannel(s.ctx)
	if err != nil {
		return providers.SessionState{}, fmt.Errorf("qr channel: %w", err)
	}
	s.mu.Lock()
	old := s.client
	s.client, s.pairing, s.deviceJID = c, true, ""
	s.mu.Unlock()
	if old != nil {
		old.Disconnect()
	}
	first := make(chan providers.SessionState, 1)
	go s.consumeQR(c, qr, first)
	// The socket hangs off the session's context, never the request's.
	if err := s.connectBounded(c); err != nil {
		s.log.Warn("cannot reach WhatsApp to pair", "error", err)
		// Disconnect waits for an abandoned handshake (whatsmeow bounds it
		// itself); the answer must not.
		go c.Disconnect()
		s.forgetPairing(c, providers.SessionState{State: providers.StatePairingFailed, Reason: reasonUnreachable})
		return providers.SessionState{}, &providers.RetryableError{Err: fmt.Errorf("connect for pairing: %w", err)}
	}
	wait := time.NewTimer(s.p.cfg.PairWait)
	defer wait.Stop()
	var st providers.SessionState
	select {
	case st = <-first:
	case <-wait.C:
		return s.p.Status(ctx, s.id)
	case <-ctx.Done():
		return providers.SessionState{}, ctx.Err()
	}
	if st.State != providers.StatePairing || !ip.PairWithCode {
		return st, nil
	}
	phone := ip.PhoneNumber
	if phone == "" {
		phone = s.phone
	}
	code, err := c.PairPhone(ctx, phone)
	if err != nil {
		return providers.SessionState{}, &providers.PermanentError{Code: string(zapbase.CodePairCodeFailed), Reason: "O WhatsApp não gerou o código de pareamento; tente pelo QR code.", Err: err}
	}
	st = providers.SessionState{State: providers.StatePairing, QRCode: st.QRCode, PairCode: code}
	s.persist(st)
	s.announce(PairingCode{PairCode: code})
	return st, nil
}

// announce hands a new code to Config.OnPairingFunc.
func (s *session) announce(pc PairingCode) {
	if s.p.cfg.OnPairingFunc == nil {
		return
	}
	pc.SessionID, pc.TenantID, pc.PhoneNumber = s.id, s.tenantID, s.phone
	s.p.cfg.OnPairingFunc(pc)
}

// reasonUnreachable explains a pairing that could not reach WhatsApp.
const reasonUnreachable = "Não foi possível conectar aos servidores do WhatsApp (rede indisponível, bloqueada ou proxy recusando a conexão); verifique a rede e tente de novo."

// consumeQR persists every code and ends pairing in a clear state.
func (s *session) consumeQR(c Client, qr <-chan whatsmeow.QRChannelItem, first chan<- providers.SessionState) {
	sentFirst := false
	report := func(st providers.SessionState) {
		if !sentFirst {
			sentFirst = true
			first <- st
		}
	}
	for {
		var item whatsmeow.QRChannelItem
		select {
		case it, ok := <-qr:
			if !ok {
				return
			}
			item = it
		case <-s.ctx.Done():
			// whatsmeow closes the channel then too; do not rely on it.
			return
		}
		switch item.Event {
		case whatsmeow.QRChannelEventCode:
			// Once a passkey is asked the QR was scanned: a code still in
			// flight must not move the session back to pairing.
			s.pairMu.Lock()
			cur := s.snapshot()
			if cur.State == providers.StatePasskeyRequired || cur.State == providers.StatePasskeyConfirmation {
				s.pairMu.Unlock()
				report(cur)
				continue
			}
			st := providers.SessionState{State: providers.StatePairing, QRCode: item.Code, PairCode: cur.PairCode}
			s.persist(st)
			s.pairMu.Unlock()
			s.announce(PairingCode{QRCode: item.Code})
			report(st)
		case whatsmeow.QRChannelSuccess.Event:
			s.mu.Lock()
			s.pairing = false
			s.attempt = 0
			s.mu.Unlock()
			s.p.leases.Unpin(s.id)
			report(s.snapshot())
			// The Connected event persists "connected" with the device JID.
		case whatsmeow.QRChannelTimeout.Event:
			st := providers.SessionState{State: providers.StatePairingFailed, Reason: "O QR code expirou sem ser lido; inicie o pareamento de novo."}
			s.endPairing(c, st)
			report(st)
		case whatsmeow.QRChannelClientOutdated.Event:
			st := providers.SessionState{State: providers.StateOutdated, Reason: "Versão do cliente WhatsApp Web desatualizada; atualize o zapbase."}
			s.endPairing(c, st)
			report(st)
		case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
			st := providers.SessionState{State: providers.StatePairingFailed, Reason: "O QR code foi lido sem suporte a múltiplos aparelhos; atualize o WhatsApp do celular."}
			s.endPairing(c, st)
			report(st)
		case whatsmeow.QRChannelEventError:
			st := providers.SessionState{State: providers.StatePairingFailed, Reason: "O pareamento falhou; tente novamente."}
			s.log.Warn("pairing failed", "error", item.Error)
			s.endPairing(c, st)
			report(st)
		case whatsmeow.QRChannelEventPasskeyRequest, whatsmeow.QRChannelEventPasskeyResponse:
			// The same events reach handleEvent, which persists them.
		case whatsmeow.QRChannelErrUnexpectedEvent.Event:
			// Already connected (pairing happened before); events decide.
		}
	}
}

// endPairing disconnects the unpaired device and gives the lease up.
func (s *session) endPairing(c Client, st providers.SessionState) {
	c.Disconnect()
	s.forgetPairing(c, st)
}

// forgetPairing drops the unpaired client, persists st and gives the lease
// up.
func (s *session) forgetPairing(c Client, st providers.SessionState) {
	s.mu.Lock()
	if s.client == c {
		s.client = nil
	}
	s.pairing = false
	s.mu.Unlock()
	s.persist(st)
	go s.release()
}

// handleEvent maps whatsmeow events. It only persists or enqueues: it runs
// on whatsmeow's per-device handler goroutine.
func (s *session) handleEvent(evt any) {
	switch e := evt.(type) {
	case *events.Message:
		select {
		case s.inbox <- e:
		case <-s.ctx.Done():
		}
	case *events.Receipt:
		s.handleReceipt(e)
	case *events.UndecryptableMessage:
		s.persistUndecryptable(e)
	case *events.Connected:
		// device_jid keeps the full device JID (with its device number):
		// it is the store's key, so a restart or another replica loads
		// the same device. The phone-number JID would not be found.
		s.mu.Lock()
		s.attempt = 0
		jid := s.deviceJID
		s.mu.Unlock()
		s.persist(providers.SessionState{State: providers.StateConnected, JID: jid})
		go s.onConnectedFeatures()
	case *events.PairPasskeyRequest:
		s.onPasskeyRequest(e)
	case *events.PairPasskeyConfirmation:
		s.onPasskeyConfirmation(e)
	case *events.PairPasskeyError:
		s.log.Warn("passkey pairing failed", "continuation", e.Continuation, "error", e.Error)
		s.persist(providers.SessionState{State: providers.StatePairingFailed, Reason: "A verificação da chave de acesso (passkey) falhou; inicie o pareamento de novo."})
	case *events.RotateADVSecret:
		s.rotateQR(e.OldSecret, e.NewSecret)
	case *events.PairSuccess:
		jid := e.ID.String()
		s.mu.Lock()
		s.deviceJID = jid
		s.mu.Unlock()
		s.persist(providers.SessionState{State: providers.StateConnecting, JID: jid})
	case *events.Disconnected:
		s.mu.Lock()
		pairing := s.pairing
		s.mu.Unlock()
		if !pairing {
			s.scheduleReconnect(errors.New("websocket closed"))
		}
	case *events.ConnectFailure:
		s.scheduleReconnect(fmt.Errorf("connect failure %d: %s", int(e.Reason), e.Message))
	case *events.LoggedOut:
		s.persist(providers.SessionState{State: providers.StateLoggedOut, Reason: "O aparelho foi desconectado pelo celular ou pelo WhatsApp; pareie novamente."})
		go s.release()
	case *events.TemporaryBan:
		until := time.Now().Add(e.Expire)
		s.persist(providers.SessionState{State: providers.StateBanned, Until: &until, Reason: banReason(e.Code)})
		// Try again once the ban has expired.
		s.kickAfter(e.Expire + time.Second)
	case *events.ClientOutdated:
		s.persist(providers.SessionState{State: providers.StateOutdated, Reason: "Versão do cliente WhatsApp Web desatualizada; atualize o zapbase."})
	case *events.StreamReplaced:
		s.persist(providers.SessionState{State: providers.StateStreamReplaced, Reason: "Outro processo conectou este aparelho; esta réplica parou."})
	case *events.NotifyAccountReachoutTimelock:
		if e.IsActive {
			until := e.TimeEnforcementEnds.Time
			st := providers.SessionState{State: providers.StateTimelocked, Reason: "O WhatsApp bloqueou temporariamente novas conversas iniciadas por este número."}
			if !until.IsZero() {
				st.Until = &until
			}
			s.persist(st)
		} else if c := s.currentClient(); c != nil && c.IsConnected() {
			s.persist(providers.SessionState{State: providers.StateConnected})
		}
	case *events.KeepAliveTimeout:
		s.log.Warn("keepalive timeout", "errors", e.ErrorCount)
	case *events.HistorySync:
		// History is not imported (default): the rows start at pairing.
	default:
		s.handleFeatureEvent(evt) // calls, presence (settings.go)
	}
}

// rotateQR rewrites the stored QR code when WhatsApp rotates the pairing
// (ADV) secret mid-pairing: the secret is part of the QR payload, so the old
// code can no longer be scanned and must not stay in the session row.
// whatsmeow's QR channel re-emits the rotated code too; this replaces the row
// at once instead of waiting for it.
func (s *session) rotateQR(oldSecret, newSecret string) {
	s.pairMu.Lock()
	defer s.pairMu.Unlock()
	st := s.snapshot()
	if st.State != providers.StatePairing || st.QRCode == "" || oldSecret == "" || !strings.Contains(st.QRCode, oldSecret) {
		return
	}
	st.QRCode = strings.Replace(st.QRCode, oldSecret, newSecret, 1)
	s.persist(st)
	s.announce(PairingCode{QRCode: st.QRCode})
}

func banReason(code events.TempBanReason) string {
	switch code {
	case events.TempBanSentToTooManyPeople:
		return "Banimento temporário: mensagens demais para quem não tem o número salvo."
	case events.TempBanBlockedByUsers:
		return "Banimento temporário: muitas pessoas bloquearam o número."
	case events.TempBanCreatedTooManyGroups:
		return "Banimento temporário: grupos demais criados com desconhecidos."
	case events.TempBanSentTooManySameMessage:
		return "Banimento temporário: a mesma mensagem foi enviada para muitas pessoas."
	case events.TempBanBroadcastList:
		return "Banimento temporário: mensagens demais em lista de transmissão."
	}
	return fmt.Sprintf("Banimento temporário (código %d).", int(code))
}

// receiptStatus maps receipt types to message states (others are ignored).
func receiptStatus(t string) (zapbase.Status, bool) {
	switch t {
	case "":
		return zapbase.StatusDelivered, true
	case "read":
		return zapbase.StatusRead, true
	case "played":
		return zapbase.StatusPlayed, true
	}
	return "", false
}

func (s *session) handleReceipt(e *events.Receipt) {
	if e.IsFromMe {
		return // our other devices reading incoming messages
	}
	st, ok := receiptStatus(string(e.Type))
	if !ok {
		return
	}
	ids := make([]string, len(e.MessageIDs))
	copy(ids, e.MessageIDs)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	err := s.p.cfg.Sink.Receipt(ctx, providers.Receipt{
		TenantID:           s.tenantID,
		SessionID:          s.id,
		Provider:           zapbase.ProviderBaileys,
		ProviderMessageIDs: ids,
		Status:             st,
		Timestamp:          e.Timestamp,
		Recipient:          e.Sender.ToNonAD().String(),
	})
	if err != nil {
		s.log.Error("persist receipt", "status", st, "error", err)
	}
}
