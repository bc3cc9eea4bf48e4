package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// EditMessageRequest is POST /messages/{messageId}/edit.
type EditMessageRequest struct {
	Text string `json:"text" minLength:"1" maxLength:"4096" doc:"Novo texto da mensagem" example:"Olá! Corrigindo: a reunião é às 15h."`
}

// MessageChange answers an edit or delete.
type MessageChange struct {
	MessageID string     `json:"messageId" doc:"Id da mensagem no zapbase (messages.id)"`
	EditedAt  *time.Time `json:"editedAt,omitempty"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// sentRow is an outbound row that can be edited or deleted.
type sentRow struct {
	ID, SessionID, To, ProviderID, Provider string
	Type                                    zapbase.MessageType
}

func (s *Server) loadSentRow(ctx context.Context, t Tenant, messageID string) (sentRow, *Problem) {
	_, uerr := uuid.Parse(messageID)
	m, err := s.p.Store.Messages().Sent(ctx, t.ID, messageID, uerr == nil)
	r := sentRow{ID: m.ID, Provider: m.Provider, Type: m.Type}
	sess, to, pid := m.SessionID, m.To, m.ProviderMessageID
	if errors.Is(err, pgx.ErrNoRows) {
		return r, errNotFound("message_not_found", "Mensagem enviada não encontrada neste tenant.")
	}
	if err != nil {
		return r, Internal(err)
	}
	r.SessionID, r.To, r.ProviderID = deref(sess), deref(to), deref(pid)
	if r.ProviderID == "" || r.SessionID == "" {
		return r, NewProblem(http.StatusConflict, zapbase.CodeConflict, "A mensagem ainda não foi enviada pelo provedor; não dá para editar nem apagar.")
	}
	return r, nil
}

func (s *Server) registerMessageEdits(r *Router) {
	tags := []string{"Mensagens"}
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "edit-message", Method: http.MethodPost, Path: "/messages/{messageId}/edit", Tags: tags,
		Summary: "Edita uma mensagem enviada",
		Description: "Troca o texto de uma mensagem de texto já enviada (WhatsApp Web; o WhatsApp aceita edições por até 15 minutos). " +
			"A linha em `messages` recebe o novo conteúdo, `edited_at` e a versão anterior em `edit_history` (chega pelo Realtime). " +
			"Na API oficial da Meta não é possível editar: responde `unsupported_by_provider`.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable, http.StatusBadGateway},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" minLength:"1" maxLength:"256" doc:"Id da mensagem (UUID do zapbase ou id do provedor)"`
		Body      EditMessageRequest
	}) (*struct{ Body MessageChange }, error) {
		t := MustTenant(ctx)
		row, p := s.loadSentRow(ctx, t, in.MessageID)
		if p != nil {
			return nil, p
		}
		ed, ok := s.p.Providers[zapbase.ProviderType(row.Provider)].(providers.MessageEditor)
		if !ok {
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider,
				fmt.Sprintf("O provedor %s não permite editar mensagens enviadas.", row.Provider))
		}
		if row.Type != zapbase.MessageText {
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider, "Só mensagens de texto podem ser editadas.")
		}
		if _, err := ed.EditMessage(ctx, providers.EditParams{TenantID: t.ID, SessionID: row.SessionID, Chat: row.To,
			ProviderMessageID: row.ProviderID, Type: row.Type, Text: in.Body.Text}); err != nil {
			s.audit(ctx, s.p.Store, auditEntry{Action: "message.edit", Target: row.ID, Result: "error"})
			return nil, providerProblem(err)
		}
		at, err := s.p.Store.Messages().RecordEdit(ctx, t.ID, row.ID, in.Body.Text)
		if err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{Action: "message.edit", Target: row.ID})
		return &struct{ Body MessageChange }{MessageChange{MessageID: row.ID, EditedAt: &at}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "delete-message", Method: http.MethodDelete, Path: "/messages/{messageId}", Tags: tags,
		Summary: "Apaga uma mensagem enviada para todos",
		Description: "Apaga a mensagem para todos na conversa (WhatsApp Web). A linha continua em `messages`, com `revoked_at` preenchido " +
			"(chega pelo Realtime). Na API oficial da Meta não é possível apagar: responde `unsupported_by_provider`.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable, http.StatusBadGateway},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" minLength:"1" maxLength:"256" doc:"Id da mensagem (UUID do zapbase ou id do provedor)"`
	}) (*struct{ Body MessageChange }, error) {
		t := MustTenant(ctx)
		row, p := s.loadSentRow(ctx, t, in.MessageID)
		if p != nil {
			return nil, p
		}
		rv, ok := s.p.Providers[zapbase.ProviderType(row.Provider)].(providers.MessageRevoker)
		if !ok {
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider,
				fmt.Sprintf("O provedor %s não permite apagar mensagens enviadas.", row.Provider))
		}
		if err := rv.RevokeMessage(ctx, providers.RevokeParams{TenantID: t.ID, SessionID: row.SessionID, Chat: row.To,
			ProviderMessageID: row.ProviderID}); err != nil {
			s.audit(ctx, s.p.Store, auditEntry{Action: "message.delete", Target: row.ID, Result: "error"})
			return nil, providerProblem(err)
		}
		at, err := s.p.Store.Messages().MarkRevoked(ctx, t.ID, row.ID)
		if err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{Action: "message.delete", Target: row.ID})
		return &struct{ Body MessageChange }{MessageChange{MessageID: row.ID, RevokedAt: &at}}, nil
	})
}
