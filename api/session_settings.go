package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// MaxRejectCallMessage bounds the call-rejection message.
const MaxRejectCallMessage = 1024

// SessionSettingsBody is the settings document of a session.
type SessionSettingsBody struct {
	RejectCalls       bool   `json:"rejectCalls" doc:"Recusa chamadas de voz e vídeo automaticamente" example:"true"`
	RejectCallMessage string `json:"rejectCallMessage" maxLength:"1024" doc:"Mensagem enviada a quem ligou depois de recusar (vazio: nenhuma)" example:"Não atendemos ligações por aqui; mande uma mensagem, por favor."`
	IgnoreGroups      bool   `json:"ignoreGroups" doc:"Ignora mensagens recebidas em grupos (não viram linhas)"`
	IgnoreBroadcasts  bool   `json:"ignoreBroadcasts" doc:"Ignora status (stories) e listas de transmissão"`
	AlwaysOnline      bool   `json:"alwaysOnline" doc:"Mantém o número como online (necessário para receber presença de contatos); o celular deixa de receber notificações"`
	AutoRead          bool   `json:"autoRead" doc:"Marca como lida toda mensagem recebida assim que ela é gravada"`
}

// SessionSettingsPatch is a JSON Merge Patch (RFC 7396) of the settings:
// absent fields keep their value, null resets a field to its default.
type SessionSettingsPatch struct {
	RejectCalls       *bool   `json:"rejectCalls,omitempty" example:"true"`
	RejectCallMessage *string `json:"rejectCallMessage,omitempty" maxLength:"1024" example:"Não atendemos ligações por aqui; mande uma mensagem, por favor."`
	IgnoreGroups      *bool   `json:"ignoreGroups,omitempty"`
	IgnoreBroadcasts  *bool   `json:"ignoreBroadcasts,omitempty"`
	AlwaysOnline      *bool   `json:"alwaysOnline,omitempty"`
	AutoRead          *bool   `json:"autoRead,omitempty"`
}

// SessionSettingsOutput answers the settings endpoints.
type SessionSettingsOutput struct {
	Body SessionSettingsBody
}

// SessionSettingsPath names the session of the settings endpoints.
type SessionSettingsPath struct {
	PhoneNumber string `path:"phoneNumber" pattern:"^[0-9]{8,15}$" doc:"Número da sessão" example:"5511900000000"`
}

func toBody(st providers.SessionSettings) SessionSettingsBody {
	return SessionSettingsBody{RejectCalls: st.RejectCalls, RejectCallMessage: st.RejectCallMessage, IgnoreGroups: st.IgnoreGroups,
		IgnoreBroadcasts: st.IgnoreBroadcasts, AlwaysOnline: st.AlwaysOnline, AutoRead: st.AutoRead}
}

func (s *Server) registerSessionSettings(r *Router) {
	tags := []string{"Sessões"}

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "get-session-settings", Method: http.MethodGet, Path: "/sessions/{phoneNumber}/settings", Tags: tags,
		Summary:     "Consulta as configurações da sessão",
		Description: "Recusar chamadas (com mensagem opcional), ignorar grupos, ignorar status e transmissões, sempre online e leitura automática.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *SessionSettingsPath) (*SessionSettingsOutput, error) {
		t := MustTenant(ctx)
		info, p := s.loadSession(ctx, t, in.PhoneNumber)
		if p != nil {
			return nil, p
		}
		st, err := readSessionSettings(ctx, s.p.Store, t.ID, info.SessionID)
		if err != nil {
			return nil, Internal(err)
		}
		return &SessionSettingsOutput{Body: toBody(st)}, nil
	})

	handler := func(ctx context.Context, in *struct {
		SessionSettingsPath
		RawBody []byte
		Body    SessionSettingsPatch
	}) (*SessionSettingsOutput, error) {
		t := MustTenant(ctx)
		if p := forbidManage(t, "alterar as configurações da sessão"); p != nil {
			return nil, p
		}
		info, p := s.loadSession(ctx, t, in.PhoneNumber)
		if p != nil {
			return nil, p
		}
		var patch map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(in.RawBody))
		if err := dec.Decode(&patch); err != nil || patch == nil {
			return nil, errInvalid("O corpo deve ser um objeto JSON (JSON Merge Patch).", FieldError{Location: "body", Message: "objeto JSON esperado"})
		}
		var (
			st   providers.SessionSettings
			prob *Problem
		)
		err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
			// Lock the row (or its absence, through the session row) so two
			// patches do not lose each other's fields.
			if err := tx.Sessions().Lock(ctx, t.ID, info.SessionID); err != nil {
				return err
			}
			var err error
			if st, err = readSessionSettings(ctx, tx, t.ID, info.SessionID); err != nil {
				return err
			}
			if prob = applySettingsPatch(&st, patch); prob != nil {
				return errPatchRefused
			}
			if err := tx.SessionSettings().Put(ctx, store.PutSessionSettingsParams{TenantID: t.ID, SessionID: info.SessionID,
				RejectCalls: st.RejectCalls, RejectCallMessage: st.RejectCallMessage, IgnoreGroups: st.IgnoreGroups,
				IgnoreBroadcasts: st.IgnoreBroadcasts, AlwaysOnline: st.AlwaysOnline, AutoRead: st.AutoRead}); err != nil {
				return err
			}
			s.audit(ctx, tx, auditEntry{Action: "session.settings", Target: info.SessionID, Details: map[string]any{"settings": toBody(st)}})
			return nil
		})
		if prob != nil {
			return nil, prob
		}
		if err != nil {
			return nil, Internal(err)
		}
		if prov, ok := s.p.Providers[zapbase.ProviderType(info.Provider)].(providers.SettingsApplier); ok {
			if err := prov.ApplySettings(ctx, info.SessionID, st); err != nil {
				// Stored: the session picks them up when it (re)connects.
				s.log.Warn("apply session settings", "error", err, "tenant_id", t.ID, "session_id", info.SessionID)
			}
		}
		return &SessionSettingsOutput{Body: toBody(st)}, nil
	}
	desc := "JSON Merge Patch (RFC 7396): só os campos enviados mudam; `null` volta o campo ao padrão (desligado). " +
		"Somente donos e administradores do tenant (ou chave de API). Vale na hora para a sessão conectada."
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "put-session-settings", Method: http.MethodPut, Path: "/sessions/{phoneNumber}/settings", Tags: tags,
		Summary: "Altera as configurações da sessão", Description: desc, Errors: []int{http.StatusNotFound, http.StatusForbidden},
	}), handler)
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "patch-session-settings", Method: http.MethodPatch, Path: "/sessions/{phoneNumber}/settings", Tags: tags,
		Summary: "Altera as configurações da sessão (PATCH)", Description: desc, Errors: []int{http.StatusNotFound, http.StatusForbidden},
	}), handler)
}

// applySettingsPatch merges a JSON Merge Patch into st.
func applySettingsPatch(st *providers.SessionSettings, patch map[string]json.RawMessage) *Problem {
	bools := map[string]*bool{"rejectCalls": &st.RejectCalls, "ignoreGroups": &st.IgnoreGroups,
		"ignoreBroadcasts": &st.IgnoreBroadcasts, "alwaysOnline": &st.AlwaysOnline, "autoRead": &st.AutoRead}
	for k, raw := range patch {
		null := string(bytes.TrimSpace(raw)) == "null"
		if b, ok := bools[k]; ok {
			if null {
				*b = false
				continue
			}
			if err := json.Unmarshal(raw, b); err != nil {
				return errInvalid("Valor inválido em "+k+".", FieldError{Location: "body." + k, Message: "booleano esperado"})
			}
			continue
		}
		if k == "rejectCallMessage" {
			if null {
				st.RejectCallMessage = ""
				continue
			}
			if err := json.Unmarshal(raw, &st.RejectCallMessage); err != nil {
				return errInvalid("Valor inválido em rejectCallMessage.", FieldError{Location: "body.rejectCallMessage", Message: "texto esperado"})
			}
			if len([]rune(st.RejectCallMessage)) > MaxRejectCallMessage {
				return errInvalid("A mensagem de chamada recusada tem no máximo 1024 caracteres.", FieldError{Location: "body.rejectCallMessage", Message: "tamanho máximo 1024"})
			}
			continue
		}
		return errInvalid("Campo desconhecido: "+k+".", FieldError{Location: "body." + k, Message: "campo desconhecido"})
	}
	return nil
}

// errPatchRefused rolls back a settings patch that did not validate.
var errPatchRefused = errors.New("settings patch refused")

// readSessionSettings answers the stored settings (defaults when none)
// through st: the server's store or one bound to a transaction.
func readSessionSettings(ctx context.Context, st *store.Store, tenantID, sessionID string) (providers.SessionSettings, error) {
	row, err := st.SessionSettings().Get(ctx, tenantID, sessionID)
	if errors.Is(err, pgx.ErrNoRows) {
		return providers.SessionSettings{}, nil
	}
	if err != nil {
		return providers.SessionSettings{}, err
	}
	return providers.SessionSettings{RejectCalls: row.RejectCalls, RejectCallMessage: deref(row.RejectCallMessage),
		IgnoreGroups: row.IgnoreGroups, IgnoreBroadcasts: row.IgnoreBroadcasts, AlwaysOnline: row.AlwaysOnline,
		AutoRead: row.AutoRead}, nil
}
