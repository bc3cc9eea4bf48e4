package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// InitializeRequest is POST /sessions/initialize.
type InitializeRequest struct {
	PhoneNumber  string          `json:"phoneNumber" pattern:"^[0-9]{8,15}$" doc:"Número do WhatsApp da sessão, só dígitos com DDI" example:"5511900000000"`
	Provider     string          `json:"provider" enum:"baileys,meta_api,sandbox" doc:"Provedor da sessão" example:"sandbox"`
	PairWithCode bool            `json:"pairWithCode,omitempty" doc:"WhatsApp Web: pede código de pareamento em vez de QR code"`
	Options      json.RawMessage `json:"options,omitempty" doc:"Configuração específica do provedor (alternativa genérica a meta)"`
	// Meta carries the Meta Cloud API credentials (README, Meta section); it is the
	// same as Options for provider meta_api.
	Meta json.RawMessage `json:"meta,omitempty" doc:"Credenciais da API oficial da Meta (provider meta_api): phoneNumberId, wabaId, accessToken, appSecret, verifyToken"`
}

// SessionInfo describes a session and its state.
type SessionInfo struct {
	SessionID   string     `json:"sessionId" example:"7d7f8c1a-3f55-4a8e-9d2e-0c4b6a1f2e33"`
	PhoneNumber string     `json:"phoneNumber" example:"5511900000000"`
	Provider    string     `json:"provider" example:"sandbox"`
	State       string     `json:"state" doc:"connected, pairing, disconnected, logged_out, banned..." example:"connected"`
	Reason      string     `json:"reason,omitempty"`
	Until       *time.Time `json:"until,omitempty"`
	QRCode      string     `json:"qrCode,omitempty" doc:"QR code a escanear (WhatsApp Web, estado pairing)"`
	PairCode    string     `json:"pairCode,omitempty" doc:"Código de pareamento (WhatsApp Web)"`
	// PasskeyRequest: WebAuthn options while state is passkey_required.
	PasskeyRequest json.RawMessage `json:"passkeyRequest,omitempty" doc:"Opções WebAuthn (publicKey de navigator.credentials.get) no estado passkey_required"`
	PasskeyCode    string          `json:"passkeyCode,omitempty" doc:"Código a comparar com o do celular no estado passkey_confirmation"`
	ConnectedAt    *time.Time      `json:"connectedAt,omitempty"`
	UpdatedAt      time.Time       `json:"updatedAt"`
}

// SessionList answers GET /sessions/status.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

func (s *Server) registerSessions(r *Router) {
	tags := []string{"Sessões"}
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "initialize-session", Method: http.MethodPost, Path: "/sessions/initialize", Tags: tags,
		Summary: "Inicia (ou retoma) uma sessão de WhatsApp",
		Description: "Cria a sessão do número no tenant, se ainda não existir, e a inicia no provedor. No WhatsApp Web a resposta traz o QR code " +
			"(ou o código de pareamento) a escanear; o estado também chega pelo Realtime em `whatsapp_sessions`.",
		Errors: []int{http.StatusConflict, http.StatusServiceUnavailable, http.StatusBadGateway},
	}), func(ctx context.Context, in *struct{ Body InitializeRequest }) (*struct{ Body SessionInfo }, error) {
		t := MustTenant(ctx)
		pt := zapbase.ProviderType(in.Body.Provider)
		prov, ok := s.p.Providers[pt]
		if !ok || prov == nil {
			return nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable,
				fmt.Sprintf("O provedor %s não está disponível neste servidor.", pt))
		}
		info, p := s.upsertSession(ctx, t, in.Body.PhoneNumber, pt)
		if p != nil {
			return nil, p
		}
		opts := in.Body.Options
		if len(in.Body.Meta) > 0 && string(in.Body.Meta) != "null" {
			if len(opts) > 0 && string(opts) != "null" {
				return nil, errInvalid("Informe as credenciais em meta ou em options, não nos dois.",
					FieldError{Location: "body.meta", Message: "duplicado com options"})
			}
			opts = in.Body.Meta
		}
		mgr, ok := prov.(providers.SessionManager)
		var st providers.SessionState
		if !ok {
			// Stateless channel: usable as soon as it exists.
			st = providers.SessionState{State: providers.StateConnected}
			if err := s.p.Events.SessionState(ctx, info.SessionID, st); err != nil {
				return nil, Internal(err)
			}
		} else {
			// A session manager persists its own states: writing the answer
			// again here could overwrite a later state its background work
			// already stored (Meta's verification writes connected).
			var err error
			st, err = mgr.Initialize(ctx, providers.InitializeParams{TenantID: t.ID, SessionID: info.SessionID,
				PhoneNumber: in.Body.PhoneNumber, PairWithCode: in.Body.PairWithCode, Options: opts})
			if err != nil {
				s.audit(ctx, s.p.Store, auditEntry{Action: "session.initialize", Target: info.SessionID, Result: "error",
					Details: map[string]any{"provider": pt, "phone": in.Body.PhoneNumber}})
				return nil, providerProblem(err)
			}
		}
		s.audit(ctx, s.p.Store, auditEntry{Action: "session.initialize", Target: info.SessionID,
			Details: map[string]any{"provider": pt, "phone": in.Body.PhoneNumber, "state": st.State}})
		out, p := s.loadSession(ctx, t, info.PhoneNumber)
		if p != nil {
			return nil, p
		}
		// Answer what the provider answered (the row may lag behind it).
		applyState(&out, st)
		return &struct{ Body SessionInfo }{out}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "session-status", Method: http.MethodGet, Path: "/sessions/status", Tags: tags,
		Summary:     "Consulta o estado das sessões",
		Description: "Sem `phoneNumber`, lista todas as sessões do tenant. Com ele, consulta o provedor e devolve o estado atual da sessão.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		PhoneNumber string `query:"phoneNumber" pattern:"^[0-9]{8,15}$" doc:"Número da sessão"`
	}) (*struct{ Body SessionList }, error) {
		t := MustTenant(ctx)
		if in.PhoneNumber != "" {
			info, p := s.loadSession(ctx, t, in.PhoneNumber)
			if p != nil {
				return nil, p
			}
			if mgr, ok := s.p.Providers[zapbase.ProviderType(info.Provider)].(providers.SessionManager); ok {
				if st, err := mgr.Status(ctx, info.SessionID); err == nil {
					applyState(&info, st)
				}
			}
			return &struct{ Body SessionList }{SessionList{Sessions: []SessionInfo{info}}}, nil
		}
		rows, err := s.p.Store.Sessions().List(ctx, t.ID)
		if err != nil {
			return nil, Internal(err)
		}
		list := sessionInfos(rows)
		if list == nil {
			list = []SessionInfo{}
		}
		return &struct{ Body SessionList }{SessionList{Sessions: list}}, nil
	})

	// DELETE with query parameters is the canonical form; a JSON body
	// ({"phoneNumber", "logout"}) and POST are accepted as well, since that
	// is what spec readers send.
	disconnect := func(ctx context.Context, in *disconnectInput) (*struct{ Body SessionInfo }, error) {
		phone, logout, p := in.resolve()
		if p != nil {
			return nil, p
		}
		return s.disconnectSession(ctx, phone, logout)
	}
	for _, m := range []struct{ method, id, summary string }{
		{http.MethodDelete, "disconnect-session", "Desconecta uma sessão"},
		{http.MethodPost, "disconnect-session-post", "Desconecta uma sessão (POST, mesmo comportamento do DELETE)"},
	} {
		huma.Register(s.v1, s.tenantOp(huma.Operation{
			OperationID: m.id, Method: m.method, Path: "/sessions/disconnect", Tags: tags,
			Summary: m.summary,
			Description: "Fecha a conexão da sessão. Com `logout=true` também desvincula o aparelho (WhatsApp Web) ou esquece as credenciais. " +
				"O número vai na query (`?phoneNumber=5511900000000&logout=true`) ou num corpo JSON (`{\"phoneNumber\": \"5511900000000\", \"logout\": true}`).",
			Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable, http.StatusBadGateway},
		}), disconnect)
	}
}

// DisconnectRequest is the optional JSON body of /sessions/disconnect.
type DisconnectRequest struct {
	PhoneNumber string `json:"phoneNumber,omitempty" pattern:"^[0-9]{8,15}$" doc:"Número da sessão" example:"5511900000000"`
	Logout      *bool  `json:"logout,omitempty" doc:"Também faz logout (desvincula o aparelho)"`
}

type disconnectInput struct {
	PhoneNumber string `query:"phoneNumber" pattern:"^[0-9]{8,15}$" doc:"Número da sessão (ou no corpo JSON)"`
	Logout      bool   `query:"logout" doc:"Também faz logout (desvincula o aparelho)"`
	Body        *DisconnectRequest
}

// resolve merges the query and the body; the body wins when both are set.
func (in *disconnectInput) resolve() (phone string, logout bool, p *Problem) {
	phone, logout = in.PhoneNumber, in.Logout
	if b := in.Body; b != nil {
		if b.PhoneNumber != "" {
			phone = b.PhoneNumber
		}
		if b.Logout != nil {
			logout = *b.Logout
		}
	}
	if phone == "" {
		return "", false, errInvalid("Informe o número da sessão em phoneNumber (query ou corpo JSON).",
			FieldError{Location: "body.phoneNumber", Message: "obrigatório"})
	}
	return phone, logout, nil
}

func (s *Server) disconnectSession(ctx context.Context, phone string, logout bool) (*struct{ Body SessionInfo }, error) {
	t := MustTenant(ctx)
	info, p := s.loadSession(ctx, t, phone)
	if p != nil {
		return nil, p
	}
	pt := zapbase.ProviderType(info.Provider)
	prov, ok := s.p.Providers[pt]
	if !ok || prov == nil {
		return nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable,
			fmt.Sprintf("O provedor %s não está disponível neste servidor.", pt))
	}
	if mgr, ok := prov.(providers.SessionManager); ok {
		if err := mgr.Disconnect(ctx, info.SessionID, logout); err != nil {
			return nil, providerProblem(err)
		}
	}
	st := providers.SessionState{State: providers.StateDisconnected}
	if logout {
		st.State = providers.StateLoggedOut
	}
	if err := s.p.Events.SessionState(ctx, info.SessionID, st); err != nil {
		return nil, Internal(err)
	}
	s.audit(ctx, s.p.Store, auditEntry{Action: "session.disconnect", Target: info.SessionID,
		Details: map[string]any{"logout": logout, "phone": phone}})
	info, p = s.loadSession(ctx, t, phone)
	if p != nil {
		return nil, p
	}
	return &struct{ Body SessionInfo }{info}, nil
}

func applyState(info *SessionInfo, st providers.SessionState) {
	info.State, info.Reason, info.Until, info.QRCode, info.PairCode = st.State, st.Reason, st.Until, st.QRCode, st.PairCode
	info.PasskeyRequest, info.PasskeyCode = st.PasskeyRequest, st.PasskeyCode
}

// sessionInfo is a session row as the API shows it (without the live
// state only the provider knows: QR code, pairing code, passkey).
func sessionInfo(r store.SessionRow) SessionInfo {
	return SessionInfo{SessionID: r.ID, PhoneNumber: r.PhoneNumber, Provider: r.Provider, State: r.State, Reason: r.Reason,
		Until: r.Until, QRCode: r.QRCode, PairCode: r.PairCode, ConnectedAt: r.ConnectedAt, UpdatedAt: r.UpdatedAt}
}

func sessionInfos(rows []store.SessionRow) []SessionInfo {
	var out []SessionInfo
	for _, r := range rows {
		out = append(out, sessionInfo(r))
	}
	return out
}

func (s *Server) loadSession(ctx context.Context, t Tenant, phone string) (SessionInfo, *Problem) {
	row, err := s.p.Store.Sessions().ByPhone(ctx, t.ID, phone)
	if errors.Is(err, pgx.ErrNoRows) {
		return SessionInfo{}, errNotFound(zapbase.CodeSessionNotFound, "Sessão não encontrada para este número.")
	}
	if err != nil {
		return SessionInfo{}, Internal(err)
	}
	return sessionInfo(row), nil
}

// upsertSession creates the tenant's session for phone (within
// max_sessions) or returns the existing one; a number already bound to
// another provider is a conflict.
func (s *Server) upsertSession(ctx context.Context, t Tenant, phone string, pt zapbase.ProviderType) (SessionInfo, *Problem) {
	res, err := s.p.Store.Sessions().Ensure(ctx, t.ID, phone, pt)
	info := SessionInfo{SessionID: res.ID, Provider: res.Provider}
	created := res.Created
	var pe *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pe) && pe.Hint == "zapbase_session_limit") {
		// No row: the count said full; the hint: the database's quota
		// trigger caught a concurrent insert taking the last slot.
		return info, NewProblem(http.StatusConflict, zapbase.CodeSessionLimitReached, "O tenant atingiu o limite de sessões.")
	}
	if err != nil {
		return info, Internal(err)
	}
	if info.Provider != string(pt) {
		return info, NewProblem(http.StatusConflict, zapbase.CodeSessionProviderMismatch,
			fmt.Sprintf("O número %s já está registrado com o provedor %s; desconecte-o antes de trocar.", phone, info.Provider))
	}
	info.PhoneNumber = phone
	if !created {
		_ = s.p.Store.Sessions().Reactivate(ctx, info.SessionID)
	}
	return info, nil
}

// providerProblem maps a classified provider error to a problem.
func providerProblem(err error) *Problem {
	var ze *zapbase.Error
	if errors.As(err, &ze) {
		return FromError(http.StatusUnprocessableEntity, err)
	}
	var perm *providers.PermanentError
	var auth *providers.AuthLostError
	var unav *providers.SessionUnavailableError
	var rl *providers.RateLimitedError
	var retry *providers.RetryableError
	switch {
	case errors.As(err, &perm):
		msg := perm.Reason
		if msg == "" {
			msg = "O provedor recusou a operação."
		}
		return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeProviderRejected, msg).WithCause(err)
	case errors.As(err, &auth):
		msg := auth.Reason
		if msg == "" {
			msg = "As credenciais da sessão não são mais válidas; configure a sessão de novo."
		}
		return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeAuthLost, msg).WithCause(err)
	case errors.As(err, &unav):
		return NewProblem(http.StatusServiceUnavailable, zapbase.CodeSessionUnavailable, "A sessão não está disponível agora ("+unav.State+").").WithCause(err)
	case errors.As(err, &rl):
		secs := int(rl.After.Seconds())
		if secs < 1 {
			secs = 1
		}
		return NewProblem(http.StatusTooManyRequests, zapbase.CodeRateLimited, "O provedor pediu para reduzir o ritmo.").WithCause(err).WithRetryAfter(secs)
	case errors.As(err, &retry):
		secs := int(retry.After.Seconds())
		if secs < 1 {
			secs = 5
		}
		return NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnreachable,
			"Não foi possível falar com o provedor agora; tente novamente em instantes.").WithCause(err).WithRetryAfter(secs)
	}
	return NewProblem(http.StatusBadGateway, zapbase.CodeProviderError, "O provedor falhou; tente novamente.").WithCause(err)
}
