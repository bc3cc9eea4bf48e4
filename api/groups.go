package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// SessionSelector names the session an operation acts on (groups, chats,
// contacts). It may be omitted when the tenant has exactly one active
// session.
type SessionSelector struct {
	From string `query:"from" pattern:"^[0-9]{8,15}$" doc:"Número da sessão (opcional quando o tenant tem uma única sessão ativa)" example:"5511900000000"`
}

// featureSession resolves the session of a feature endpoint and its
// provider.
func (s *Server) featureSession(ctx context.Context, t Tenant, from string) (SessionInfo, providers.Provider, *Problem) {
	var info SessionInfo
	if from != "" {
		var p *Problem
		if info, p = s.loadSession(ctx, t, from); p != nil {
			return info, nil, p
		}
	} else {
		rows, err := s.p.Store.Sessions().FirstActive(ctx, t.ID)
		if err != nil {
			return info, nil, Internal(err)
		}
		list := sessionInfos(rows)
		switch len(list) {
		case 0:
			return info, nil, errNotFound("session_not_found", "O tenant não tem sessão ativa.")
		case 1:
			info = list[0]
		default:
			return info, nil, errInvalid("O tenant tem mais de uma sessão: informe o número da sessão em from.",
				FieldError{Location: "query.from", Message: "obrigatório quando há mais de uma sessão"})
		}
	}
	pt := zapbase.ProviderType(info.Provider)
	prov, ok := s.p.Providers[pt]
	if !ok || prov == nil {
		return info, nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable,
			fmt.Sprintf("O provedor %s não está disponível neste servidor.", pt))
	}
	return info, prov, nil
}

// unsupportedByProvider is the answer when the session's provider lacks a
// capability.
func unsupportedByProvider(provider, what string) *Problem {
	return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider,
		fmt.Sprintf("O provedor %s da sessão não oferece %s.", provider, what))
}

// featureProblem maps a provider error of a feature call.
func featureProblem(err error) *Problem {
	var perm *providers.PermanentError
	switch {
	case errors.Is(err, providers.ErrNotFound):
		msg := "Não encontrado."
		if errors.As(err, &perm) && perm.Reason != "" {
			msg = perm.Reason
		}
		return NewProblem(http.StatusNotFound, zapbase.CodeNotFound, msg).WithCause(err)
	case errors.Is(err, providers.ErrUnsupported):
		msg := "O provedor da sessão não oferece esta operação."
		if errors.As(err, &perm) && perm.Reason != "" {
			msg = perm.Reason
		}
		return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider, msg).WithCause(err)
	}
	return providerProblem(err)
}

func forbidManage(t Tenant, what string) *Problem {
	if t.CanManage() {
		return nil
	}
	return NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "Somente donos e administradores do tenant podem "+what+".")
}

// groupSession resolves the session and its GroupManager.
func (s *Server) groupSession(ctx context.Context, from string) (Tenant, SessionInfo, providers.GroupManager, *Problem) {
	t := MustTenant(ctx)
	info, prov, p := s.featureSession(ctx, t, from)
	if p != nil {
		return t, info, nil, p
	}
	gm, ok := prov.(providers.GroupManager)
	if !ok {
		return t, info, nil, unsupportedByProvider(info.Provider, "gestão de grupos (use uma sessão WhatsApp Web)")
	}
	return t, info, gm, nil
}

// GroupPath is a group addressed in the path.
type GroupPath struct {
	SessionSelector
	GroupID string `path:"groupId" pattern:"^[0-9]{6,40}(-[0-9]{1,20})?(@g\\.us)?$" doc:"JID do grupo (…@g.us) ou só o número" example:"120363041234567890@g.us"`
}

func groupJID(id string) string {
	if strings.HasSuffix(id, "@g.us") {
		return id
	}
	return id + "@g.us"
}

// GroupList answers GET /groups.
type GroupList struct {
	Groups []providers.Group `json:"groups"`
}

// CreateGroupRequest is POST /groups.
type CreateGroupRequest struct {
	Name         string   `json:"name" minLength:"1" maxLength:"100" doc:"Nome (assunto) do grupo" example:"Equipe de vendas"`
	Participants []string `json:"participants" minItems:"1" maxItems:"256" doc:"Números (com DDI) ou JIDs dos participantes" example:"[\"5511988887777\"]"`
}

// UpdateGroupRequest is PATCH /groups/{groupId}.
type UpdateGroupRequest struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"100" doc:"Novo nome (assunto)" example:"Equipe de vendas SP"`
	Description *string `json:"description,omitempty" maxLength:"2048" doc:"Nova descrição (\"\" apaga)" example:"Avisos e metas da semana"`
	Announce    *bool   `json:"announce,omitempty" doc:"true: só administradores enviam mensagens"`
	Locked      *bool   `json:"locked,omitempty" doc:"true: só administradores editam nome, descrição e foto"`
}

// GroupPictureRequest is PUT /groups/{groupId}/picture.
type GroupPictureRequest struct {
	Image []byte `json:"image" minLength:"1" maxLength:"2000000" doc:"Imagem JPEG em base64 (quadrada, até ~1 MB)"`
}

// ParticipantsRequest is POST /groups/{groupId}/participants.
type ParticipantsRequest struct {
	Action       string   `json:"action" enum:"add,remove,promote,demote" doc:"add adiciona, remove remove, promote torna administrador, demote tira de administrador" example:"add"`
	Participants []string `json:"participants" minItems:"1" maxItems:"256" doc:"Números (com DDI) ou JIDs" example:"[\"5511988887777\"]"`
}

// ParticipantsResponse answers a participants change.
type ParticipantsResponse struct {
	Results []providers.ParticipantResult `json:"results"`
}

// InviteLink answers the invite link endpoints.
type InviteLink struct {
	GroupID string `json:"groupId" example:"120363041234567890@g.us"`
	Link    string `json:"link" example:"https://chat.whatsapp.com/AbCdEfGhIjK1234567890"`
}

// JoinGroupRequest is POST /groups/join.
type JoinGroupRequest struct {
	Invite string `json:"invite" minLength:"1" maxLength:"256" doc:"Link de convite (https://chat.whatsapp.com/…) ou só o código" example:"https://chat.whatsapp.com/AbCdEfGhIjK1234567890"`
}

// GroupRef answers join.
type GroupRef struct {
	GroupID string `json:"groupId" example:"120363041234567890@g.us"`
}

func (s *Server) registerGroups(r *Router) {
	tags := []string{"Grupos"}
	errs := []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusBadGateway}
	op := func(id, method, path, summary, desc string) huma.Operation {
		return s.tenantOp(huma.Operation{OperationID: id, Method: method, Path: path, Tags: tags, Summary: summary,
			Description: desc + " Somente WhatsApp Web (`baileys`) e `sandbox`; na API oficial da Meta responde `unsupported_by_provider`.",
			Errors:      errs})
	}

	huma.Register(s.v1, op("list-groups", http.MethodGet, "/groups", "Lista os grupos da sessão",
		"Grupos de que o número da sessão participa, com participantes e configurações."),
		func(ctx context.Context, in *struct{ SessionSelector }) (*struct{ Body GroupList }, error) {
			_, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			gs, err := gm.ListGroups(ctx, info.SessionID)
			if err != nil {
				return nil, featureProblem(err)
			}
			if gs == nil {
				gs = []providers.Group{}
			}
			return &struct{ Body GroupList }{GroupList{Groups: gs}}, nil
		})

	huma.Register(s.v1, op("create-group", http.MethodPost, "/groups", "Cria um grupo",
		"Cria o grupo com o número da sessão como administrador. Para enviar mensagens ao grupo use os endpoints de mensagens com `to` igual ao JID do grupo."),
		func(ctx context.Context, in *struct {
			SessionSelector
			Body CreateGroupRequest
		}) (*struct{ Body providers.Group }, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "criar grupos"); p != nil {
				return nil, p
			}
			g, err := gm.CreateGroup(ctx, info.SessionID, providers.CreateGroupParams{Name: in.Body.Name, Participants: in.Body.Participants})
			s.auditFeature(ctx, "group.create", g.ID, err, map[string]any{"session_id": info.SessionID, "participants": len(in.Body.Participants)})
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body providers.Group }{g}, nil
		})

	huma.Register(s.v1, op("group-info", http.MethodGet, "/groups/{groupId}", "Consulta um grupo",
		"Nome, descrição, dono, configurações e participantes (com administradores)."),
		func(ctx context.Context, in *GroupPath) (*struct{ Body providers.Group }, error) {
			_, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			g, err := gm.GroupInfo(ctx, info.SessionID, groupJID(in.GroupID))
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body providers.Group }{g}, nil
		})

	huma.Register(s.v1, op("update-group", http.MethodPatch, "/groups/{groupId}", "Altera nome, descrição e configurações do grupo",
		"Aplica só os campos enviados: `name` (assunto), `description`, `announce` (só administradores enviam) e `locked` (só administradores editam)."),
		func(ctx context.Context, in *struct {
			GroupPath
			Body UpdateGroupRequest
		}) (*struct{ Body providers.Group }, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "alterar grupos"); p != nil {
				return nil, p
			}
			b := in.Body
			if b.Name == nil && b.Description == nil && b.Announce == nil && b.Locked == nil {
				return nil, errInvalid("Informe ao menos um campo: name, description, announce ou locked.", FieldError{Location: "body", Message: "vazio"})
			}
			gid := groupJID(in.GroupID)
			err := gm.UpdateGroup(ctx, info.SessionID, gid, providers.GroupUpdate{Name: b.Name, Description: b.Description, Announce: b.Announce, Locked: b.Locked})
			s.auditFeature(ctx, "group.update", gid, err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			g, err := gm.GroupInfo(ctx, info.SessionID, gid)
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body providers.Group }{g}, nil
		})

	huma.Register(s.v1, op("set-group-picture", http.MethodPut, "/groups/{groupId}/picture", "Troca a foto do grupo",
		"Envia a imagem JPEG em base64 no campo `image`."),
		func(ctx context.Context, in *struct {
			GroupPath
			Body GroupPictureRequest
		}) (*struct{}, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "alterar grupos"); p != nil {
				return nil, p
			}
			if len(in.Body.Image) < 3 || in.Body.Image[0] != 0xFF || in.Body.Image[1] != 0xD8 {
				return nil, errInvalid("A foto do grupo deve ser uma imagem JPEG.", FieldError{Location: "body.image", Message: "não é JPEG"})
			}
			gid := groupJID(in.GroupID)
			err := gm.UpdateGroup(ctx, info.SessionID, gid, providers.GroupUpdate{Photo: in.Body.Image})
			s.auditFeature(ctx, "group.picture", gid, err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			return nil, nil
		})

	huma.Register(s.v1, op("remove-group-picture", http.MethodDelete, "/groups/{groupId}/picture", "Remove a foto do grupo", ""),
		func(ctx context.Context, in *GroupPath) (*struct{}, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "alterar grupos"); p != nil {
				return nil, p
			}
			gid := groupJID(in.GroupID)
			err := gm.UpdateGroup(ctx, info.SessionID, gid, providers.GroupUpdate{Photo: []byte{}})
			s.auditFeature(ctx, "group.picture_remove", gid, err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			return nil, nil
		})

	huma.Register(s.v1, op("update-group-participants", http.MethodPost, "/groups/{groupId}/participants", "Adiciona, remove, promove ou rebaixa participantes",
		"Responde o resultado por participante: `error` traz o código do WhatsApp quando falhou para ele (403: a privacidade do contato não permite, 409: já está no grupo, 404: não está no grupo)."),
		func(ctx context.Context, in *struct {
			GroupPath
			Body ParticipantsRequest
		}) (*struct{ Body ParticipantsResponse }, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "alterar participantes de grupos"); p != nil {
				return nil, p
			}
			gid := groupJID(in.GroupID)
			res, err := gm.UpdateParticipants(ctx, info.SessionID, gid, providers.ParticipantAction(in.Body.Action), in.Body.Participants)
			s.auditFeature(ctx, "group.participants", gid, err, map[string]any{"session_id": info.SessionID, "action": in.Body.Action, "count": len(in.Body.Participants)})
			if err != nil {
				return nil, featureProblem(err)
			}
			if res == nil {
				res = []providers.ParticipantResult{}
			}
			return &struct{ Body ParticipantsResponse }{ParticipantsResponse{Results: res}}, nil
		})

	huma.Register(s.v1, op("group-invite-link", http.MethodGet, "/groups/{groupId}/invite-link", "Consulta o link de convite do grupo",
		"A sessão precisa ser administradora do grupo."),
		func(ctx context.Context, in *GroupPath) (*struct{ Body InviteLink }, error) {
			_, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			gid := groupJID(in.GroupID)
			link, err := gm.GroupInviteLink(ctx, info.SessionID, gid, false)
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body InviteLink }{InviteLink{GroupID: gid, Link: link}}, nil
		})

	huma.Register(s.v1, op("revoke-group-invite-link", http.MethodPost, "/groups/{groupId}/invite-link/revoke", "Revoga o link de convite e gera outro",
		"O link anterior deixa de funcionar."),
		func(ctx context.Context, in *GroupPath) (*struct{ Body InviteLink }, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "revogar links de convite"); p != nil {
				return nil, p
			}
			gid := groupJID(in.GroupID)
			link, err := gm.GroupInviteLink(ctx, info.SessionID, gid, true)
			s.auditFeature(ctx, "group.invite_revoke", gid, err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body InviteLink }{InviteLink{GroupID: gid, Link: link}}, nil
		})

	huma.Register(s.v1, op("join-group", http.MethodPost, "/groups/join", "Entra num grupo por link de convite", ""),
		func(ctx context.Context, in *struct {
			SessionSelector
			Body JoinGroupRequest
		}) (*struct{ Body GroupRef }, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "entrar em grupos"); p != nil {
				return nil, p
			}
			gid, err := gm.JoinGroup(ctx, info.SessionID, in.Body.Invite)
			s.auditFeature(ctx, "group.join", gid, err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body GroupRef }{GroupRef{GroupID: gid}}, nil
		})

	huma.Register(s.v1, op("leave-group", http.MethodPost, "/groups/{groupId}/leave", "Sai do grupo", ""),
		func(ctx context.Context, in *GroupPath) (*struct{}, error) {
			t, info, gm, p := s.groupSession(ctx, in.From)
			if p != nil {
				return nil, p
			}
			if p := forbidManage(t, "sair de grupos"); p != nil {
				return nil, p
			}
			gid := groupJID(in.GroupID)
			err := gm.LeaveGroup(ctx, info.SessionID, gid)
			s.auditFeature(ctx, "group.leave", gid, err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			return nil, nil
		})
}

// auditFeature records a feature mutation with its outcome.
func (s *Server) auditFeature(ctx context.Context, action, target string, err error, details map[string]any) {
	result := ""
	if err != nil {
		result = "error"
	}
	s.audit(ctx, s.p.Store, auditEntry{Action: action, Target: target, Result: result, Details: details})
}
