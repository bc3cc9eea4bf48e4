package whatsmeow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase/providers"
)

// Passkey linking (whatsmeow pair-passkey.go). When the account has a
// passkey, WhatsApp may ask for it during pairing: whatsmeow emits
// events.PairPasskeyRequest (QR channel item "passkey-request") with the
// WebAuthn request options. The session enters passkey_required and the
// options are published in whatsapp_sessions.passkey_request, so the
// tenant's frontend runs navigator.credentials.get() and posts the
// assertion to POST /api/v1/sessions/passkey (SendPasskeyResponse). WhatsApp
// then answers events.PairPasskeyConfirmation ("passkey-confirmation"): when
// the handoff UX can be skipped whatsmeow confirms by itself; otherwise the
// session enters passkey_confirmation with the code in pair_code, the user
// compares it with the phone and confirms (ConfirmPasskey).

var (
	_ providers.PasskeyResponder = (*Provider)(nil)
	_ providers.NumberChecker    = (*Provider)(nil)
)

const (
	reasonPasskeyRequired = "O WhatsApp pediu a chave de acesso (passkey) da conta para vincular este aparelho; conclua a verificação no navegador."
	reasonPasskeyConfirm  = "Confira se o código exibido é igual ao do celular e confirme para concluir o pareamento."
)

// onPasskeyRequest publishes the WebAuthn options of a passkey request.
func (s *session) onPasskeyRequest(e *events.PairPasskeyRequest) {
	if e == nil || e.PublicKey == nil {
		return
	}
	opts, err := json.Marshal(e.PublicKey)
	if err != nil {
		s.log.Warn("encode passkey request", "error", err)
		return
	}
	s.persistPasskey(providers.SessionState{State: providers.StatePasskeyRequired, Reason: reasonPasskeyRequired, PasskeyRequest: opts})
}

// onPasskeyConfirmation asks the user to compare the code (unless whatsmeow
// confirmed by itself).
func (s *session) onPasskeyConfirmation(e *events.PairPasskeyConfirmation) {
	if e == nil || e.SkipHandoffUX {
		return
	}
	s.persistPasskey(providers.SessionState{State: providers.StatePasskeyConfirmation, Reason: reasonPasskeyConfirm, PasskeyCode: e.Code, PairCode: e.Code})
}

// persistPasskey writes a passkey state with its options in one statement
// (the sink's PasskeyState: SessionState knows nothing of passkey_request; the trigger of migration
// 000100 clears it once the session leaves the passkey states).
func (s *session) persistPasskey(st providers.SessionState) {
	s.pairMu.Lock()
	defer s.pairMu.Unlock()
	s.setState(st)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.p.cfg.Sink.PasskeyState(ctx, s.id, st); err != nil {
		s.log.Error("persist passkey state", "state", st.State, "error", err)
	}
}

// SendPasskeyResponse implements providers.PasskeyResponder: credential is
// the JSON of the PublicKeyCredential from navigator.credentials.get()
// (id, rawId, type, response.{clientDataJSON, authenticatorData, signature,
// userHandle}, base64url).
func (p *Provider) SendPasskeyResponse(ctx context.Context, sessionID string, credential json.RawMessage) (providers.SessionState, error) {
	s, c, err := p.passkeySession(sessionID, providers.StatePasskeyRequired)
	if err != nil {
		return providers.SessionState{}, err
	}
	var resp types.WebAuthnResponse
	if err := json.Unmarshal(credential, &resp); err != nil || len(resp.RawID) == 0 || len(resp.Response.Signature) == 0 {
		if err == nil {
			err = errors.New("missing rawId or response.signature")
		}
		return providers.SessionState{}, &providers.PermanentError{Code: CodeInvalidContent,
			Reason: "Credencial inválida: envie o PublicKeyCredential de navigator.credentials.get() (id, rawId, type e response em base64url).", Err: err}
	}
	if resp.Type == "" {
		resp.Type = "public-key"
	}
	if err := c.SendPasskeyResponse(ctx, &resp); err != nil {
		return providers.SessionState{}, classifySendError(fmt.Errorf("send passkey response: %w", err), nil)
	}
	return s.snapshot(), nil
}

// ConfirmPasskey implements providers.PasskeyResponder.
func (p *Provider) ConfirmPasskey(ctx context.Context, sessionID string) (providers.SessionState, error) {
	s, c, err := p.passkeySession(sessionID, providers.StatePasskeyConfirmation)
	if err != nil {
		return providers.SessionState{}, err
	}
	if err := c.SendPasskeyConfirmation(ctx); err != nil {
		return providers.SessionState{}, classifySendError(fmt.Errorf("send passkey confirmation: %w", err), nil)
	}
	// The state moves with WhatsApp's answer (PairSuccess, then Connected):
	// writing one here could overwrite it.
	return s.snapshot(), nil
}

// passkeySession returns the pairing session of this replica in state want.
func (p *Provider) passkeySession(sessionID, want string) (*session, Client, error) {
	s := p.session(sessionID)
	if s == nil || !p.Owns(sessionID) {
		return nil, nil, &providers.SessionUnavailableError{State: "not_owner", Err: fmt.Errorf("session %s is not paired by this replica", sessionID)}
	}
	st := s.snapshot()
	c := s.currentClient()
	if st.State != want || c == nil {
		return nil, nil, &providers.PermanentError{Code: "passkey_not_requested",
			Reason: fmt.Sprintf("A sessão não está aguardando a chave de acesso (estado atual: %s).", st.State),
			Err:    fmt.Errorf("session %s in state %s, want %s", sessionID, st.State, want)}
	}
	return s, c, nil
}
