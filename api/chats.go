package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// ChatPath is a chat addressed in the path: a contact or a group.
type ChatPath struct {
	SessionSelector
	To string `path:"to" pattern:"^(\\+?[0-9]{8,15}|[0-9A-Za-z._:-]{1,80}@[a-z.]{2,32})$" doc:"Contato (número com DDI ou JID) ou grupo (…@g.us)" example:"5511988887777"`
}

func (c ChatPath) chat() string { return strings.TrimPrefix(c.To, "+") }

// PresenceRequest is POST /chats/{to}/presence.
type PresenceRequest struct {
	State string `json:"state" enum:"typing,recording,paused" doc:"typing: digitando…; recording: gravando áudio…; paused: para de mostrar" example:"typing"`
}

// PresenceResponse answers a presence change.
type PresenceResponse struct {
	To    string `json:"to" example:"5511988887777"`
	State string `json:"state" example:"typing"`
}

// ReadRequest is POST /chats/{to}/read.
type ReadRequest struct {
	MessageIDs []string `json:"messageIds,omitempty" maxItems:"100" doc:"Ids (do provedor) das mensagens recebidas a marcar; vazio: todas as recebidas ainda não lidas da conversa (até 100)" example:"[\"3EB0C431C26A1916E0D5\"]"`
}

// ReadResponse answers a read mark.
type ReadResponse struct {
	To         string   `json:"to" example:"5511988887777"`
	Marked     int      `json:"marked" doc:"Quantas mensagens foram marcadas como lidas" example:"2"`
	MessageIDs []string `json:"messageIds"`
}

// SubscribeResponse answers a presence subscription.
type SubscribeResponse struct {
	Contact    string `json:"contact" example:"5511988887777"`
	Subscribed bool   `json:"subscribed" example:"true"`
}

func (s *Server) registerChats(r *Router) {
	tags := []string{"Conversas"}
	errs := []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusBadGateway}

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "send-chat-presence", Method: http.MethodPost, Path: "/chats/{to}/presence", Tags: tags,
		Summary: "Mostra \"digitando…\" ou \"gravando áudio…\" na conversa",
		Description: "`typing` e `recording` aparecem para o contato até `paused` ou até a próxima mensagem. Na API oficial da Meta só `typing` " +
			"existe, e só em resposta a uma mensagem recebida do contato (a Meta esconde sozinha após 25 s).",
		Errors: errs,
	}), func(ctx context.Context, in *struct {
		ChatPath
		Body PresenceRequest
	}) (*struct{ Body PresenceResponse }, error) {
		t := MustTenant(ctx)
		info, prov, p := s.featureSession(ctx, t, in.From)
		if p != nil {
			return nil, p
		}
		state := providers.ChatPresence(in.Body.State)
		var err error
		ps, isPS := prov.(providers.PresenceSender)
		ti, isTI := prov.(providers.TypingIndicator)
		switch {
		case isPS:
			err = ps.SendChatPresence(ctx, info.SessionID, in.chat(), state)
		case isTI && state != providers.PresenceRecording:
			err = ti.SetTyping(ctx, info.SessionID, in.chat(), state == providers.PresenceTyping)
		default:
			return nil, unsupportedByProvider(info.Provider, "o estado "+in.Body.State)
		}
		if err != nil {
			return nil, featureProblem(err)
		}
		return &struct{ Body PresenceResponse }{PresenceResponse{To: in.chat(), State: in.Body.State}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "subscribe-chat-presence", Method: http.MethodPost, Path: "/chats/{to}/presence/subscribe", Tags: tags,
		Summary: "Acompanha se o contato está online",
		Description: "As mudanças (online, offline, visto por último, digitando) chegam como eventos do feed de mudanças com tópico `presence` " +
			"(SSE e webhooks). O WhatsApp só informa enquanto a sessão está online (ative `alwaysOnline` nas configurações da sessão). Somente WhatsApp Web e sandbox.",
		Errors: errs,
	}), func(ctx context.Context, in *ChatPath) (*struct{ Body SubscribeResponse }, error) {
		t := MustTenant(ctx)
		info, prov, p := s.featureSession(ctx, t, in.From)
		if p != nil {
			return nil, p
		}
		ps, ok := prov.(providers.PresenceSender)
		if !ok {
			return nil, unsupportedByProvider(info.Provider, "presença de contatos")
		}
		if err := ps.SubscribePresence(ctx, t.ID, info.SessionID, in.chat()); err != nil {
			return nil, featureProblem(err)
		}
		return &struct{ Body SubscribeResponse }{SubscribeResponse{Contact: in.chat(), Subscribed: true}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "mark-chat-read", Method: http.MethodPost, Path: "/chats/{to}/read", Tags: tags,
		Summary: "Marca mensagens recebidas como lidas",
		Description: "Envia a confirmação de leitura (tiques azuis) ao contato e muda as linhas de `received` para `read`. Sem `messageIds`, " +
			"marca todas as mensagens recebidas ainda não lidas da conversa (até 100). Funciona no WhatsApp Web, na API oficial da Meta " +
			"(que marca também as anteriores da conversa) e no sandbox.",
		Errors: errs,
	}), func(ctx context.Context, in *struct {
		ChatPath
		Body ReadRequest
	}) (*struct{ Body ReadResponse }, error) {
		t := MustTenant(ctx)
		info, prov, p := s.featureSession(ctx, t, in.From)
		if p != nil {
			return nil, p
		}
		rm, ok := prov.(providers.ReadMarker)
		if !ok {
			return nil, unsupportedByProvider(info.Provider, "confirmação de leitura")
		}
		unread, p := s.unreadMessages(ctx, t, info.SessionID, in.chat(), in.Body.MessageIDs)
		if p != nil {
			return nil, p
		}
		out := ReadResponse{To: in.chat(), MessageIDs: []string{}}
		if len(unread) == 0 {
			return &struct{ Body ReadResponse }{out}, nil
		}
		// WhatsApp Web needs the sender of each message in a group.
		bySender := map[string][]string{}
		var order []string
		for _, m := range unread {
			if _, ok := bySender[m.sender]; !ok {
				order = append(order, m.sender)
			}
			bySender[m.sender] = append(bySender[m.sender], m.id)
		}
		group := strings.HasSuffix(in.chat(), "@g.us")
		for _, sender := range order {
			mp := providers.MarkReadParams{TenantID: t.ID, SessionID: info.SessionID, Chat: in.chat(), ProviderMessageIDs: bySender[sender]}
			if group {
				mp.Sender = sender
			}
			if err := rm.MarkRead(ctx, mp); err != nil {
				return nil, featureProblem(err)
			}
			out.MessageIDs = append(out.MessageIDs, bySender[sender]...)
		}
		if err := s.p.Store.Messages().MarkInboundRead(ctx, t.ID, info.SessionID, out.MessageIDs); err != nil {
			return nil, Internal(err)
		}
		out.Marked = len(out.MessageIDs)
		return &struct{ Body ReadResponse }{out}, nil
	})
}

type unreadMessage struct{ id, sender string }

// unreadMessages answers the received, unread messages of a chat (all of
// them, or those of ids).
func (s *Server) unreadMessages(ctx context.Context, t Tenant, sessionID, chat string, ids []string) ([]unreadMessage, *Problem) {
	var filter []string
	if len(ids) > 0 {
		filter = ids
	}
	rows, err := s.p.Store.Messages().ListUnread(ctx, store.UnreadParams{TenantID: t.ID, SessionID: sessionID, Chat: chat,
		ProviderMessageIDs: filter})
	if err != nil {
		return nil, Internal(err)
	}
	var list []unreadMessage
	for _, r := range rows {
		list = append(list, unreadMessage{id: r.ProviderMessageID, sender: r.Sender})
	}
	if len(ids) > 0 && len(list) == 0 {
		return nil, errNotFound(zapbase.CodeNotFound, "Nenhuma das mensagens informadas está recebida e não lida nesta conversa.")
	}
	return list, nil
}
