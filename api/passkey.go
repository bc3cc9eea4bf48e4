package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// PasskeyRequest is POST /sessions/passkey.
type PasskeyRequest struct {
	PhoneNumber string `json:"phoneNumber" pattern:"^[0-9]{8,15}$" doc:"Número da sessão em pareamento" example:"5511900000000"`
	// Credential is the browser's PublicKeyCredential (JSON form).
	Credential json.RawMessage `json:"credential,omitempty" doc:"O PublicKeyCredential devolvido por navigator.credentials.get() em JSON (credential.toJSON()): id, rawId, type e response (clientDataJSON, authenticatorData, signature, userHandle) em base64url. Obrigatório no estado passkey_required."`
	Confirm    bool            `json:"confirm,omitempty" doc:"No estado passkey_confirmation: confirma que o código exibido (passkeyCode) é igual ao do celular."`
}

func (s *Server) registerPasskey(r *Router) {
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "session-passkey", Method: http.MethodPost, Path: "/sessions/passkey", Tags: []string{"Sessões"},
		Summary: "Responde ao pedido de chave de acesso (passkey) do pareamento",
		Description: "Quando o WhatsApp pede a passkey da conta durante o pareamento (WhatsApp Web), a sessão fica em `passkey_required` " +
			"e `passkeyRequest` (também na coluna `whatsapp_sessions.passkey_request`, via Realtime) traz as opções WebAuthn. O frontend chama " +
			"`navigator.credentials.get({ publicKey })` e envia aqui o resultado em `credential`. Se o WhatsApp pedir para comparar um código, " +
			"a sessão vai para `passkey_confirmation` com `passkeyCode`; confirme com `confirm: true`.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable, http.StatusBadGateway},
	}), func(ctx context.Context, in *struct{ Body PasskeyRequest }) (*struct{ Body SessionInfo }, error) {
		t := MustTenant(ctx)
		info, p := s.loadSession(ctx, t, in.Body.PhoneNumber)
		if p != nil {
			return nil, p
		}
		pk, ok := s.p.Providers[zapbase.ProviderType(info.Provider)].(providers.PasskeyResponder)
		if !ok {
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider,
				fmt.Sprintf("O provedor %s não usa chave de acesso (passkey) no pareamento.", info.Provider))
		}
		hasCred := len(in.Body.Credential) > 0 && string(in.Body.Credential) != "null"
		if hasCred == in.Body.Confirm {
			return nil, errInvalid("Envie credential (estado passkey_required) ou confirm: true (estado passkey_confirmation).",
				FieldError{Location: "body.credential", Message: "informe credential ou confirm, um dos dois"})
		}
		var st providers.SessionState
		var err error
		if hasCred {
			st, err = pk.SendPasskeyResponse(ctx, info.SessionID, in.Body.Credential)
		} else {
			st, err = pk.ConfirmPasskey(ctx, info.SessionID)
		}
		if err != nil {
			s.audit(ctx, s.p.Store, auditEntry{Action: "session.passkey", Target: info.SessionID, Result: "error"})
			return nil, providerProblem(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{Action: "session.passkey", Target: info.SessionID,
			Details: map[string]any{"confirm": in.Body.Confirm}})
		applyState(&info, st)
		return &struct{ Body SessionInfo }{info}, nil
	})
}
