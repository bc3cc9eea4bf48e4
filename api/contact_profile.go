package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase/providers"
)

// ContactPath is a contact addressed in the path.
type ContactPath struct {
	SessionSelector
	Contact string `path:"contact" pattern:"^(\\+?[0-9]{8,15}|[0-9A-Za-z._:-]{1,80}@[a-z.]{2,32})$" doc:"Número com DDI ou JID do contato" example:"5511988887777"`
}

func (c ContactPath) id() string { return strings.TrimPrefix(c.Contact, "+") }

// ProfilePictureOutput answers GET /contacts/{contact}/profile-picture.
type ProfilePictureOutput struct {
	Contact string `json:"contact" example:"5511988887777"`
	providers.ProfilePicture
}

// BlockResponse answers block/unblock.
type BlockResponse struct {
	Contact string `json:"contact" example:"5511988887777"`
	Blocked bool   `json:"blocked" example:"true"`
}

// Blocklist answers GET /contacts/blocklist.
type Blocklist struct {
	Contacts []string `json:"contacts" example:"[\"5511988887777\"]"`
}

func (s *Server) registerContactProfile(r *Router) {
	tags := []string{"Contatos"}
	errs := []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusBadGateway}
	profiler := func(ctx context.Context, from string) (SessionInfo, providers.ContactProfiler, *Problem) {
		info, prov, p := s.featureSession(ctx, MustTenant(ctx), from)
		if p != nil {
			return info, nil, p
		}
		cp, ok := prov.(providers.ContactProfiler)
		if !ok {
			return info, nil, unsupportedByProvider(info.Provider, "perfis de contatos (use uma sessão WhatsApp Web)")
		}
		return info, cp, nil
	}
	blocker := func(ctx context.Context, from string) (SessionInfo, providers.Blocker, *Problem) {
		info, prov, p := s.featureSession(ctx, MustTenant(ctx), from)
		if p != nil {
			return info, nil, p
		}
		b, ok := prov.(providers.Blocker)
		if !ok {
			return info, nil, unsupportedByProvider(info.Provider, "bloqueio de contatos (use uma sessão WhatsApp Web)")
		}
		return info, b, nil
	}

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "contact-profile-picture", Method: http.MethodGet, Path: "/contacts/{contact}/profile-picture", Tags: tags,
		Summary:     "Consulta a foto de perfil de um contato ou grupo",
		Description: "Responde a URL da foto (válida por algumas horas; baixe-a se precisar guardar). 404 quando não há foto ou a privacidade do contato a esconde.",
		Errors:      errs,
	}), func(ctx context.Context, in *struct {
		ContactPath
		Preview bool `query:"preview" doc:"Miniatura em vez da foto em tamanho real"`
	}) (*struct{ Body ProfilePictureOutput }, error) {
		info, cp, p := profiler(ctx, in.From)
		if p != nil {
			return nil, p
		}
		pic, err := cp.ProfilePicture(ctx, info.SessionID, in.id(), in.Preview)
		if err != nil {
			return nil, featureProblem(err)
		}
		return &struct{ Body ProfilePictureOutput }{ProfilePictureOutput{Contact: in.id(), ProfilePicture: pic}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "contact-business-profile", Method: http.MethodGet, Path: "/contacts/{contact}/business-profile", Tags: tags,
		Summary:     "Consulta o perfil comercial de um contato",
		Description: "Endereço, e-mail, categorias, descrição e sites de uma conta WhatsApp Business. 404 quando o contato não é conta comercial.",
		Errors:      errs,
	}), func(ctx context.Context, in *ContactPath) (*struct{ Body providers.BusinessProfile }, error) {
		info, cp, p := profiler(ctx, in.From)
		if p != nil {
			return nil, p
		}
		bp, err := cp.BusinessProfile(ctx, info.SessionID, in.id())
		if err != nil {
			return nil, featureProblem(err)
		}
		return &struct{ Body providers.BusinessProfile }{bp}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "contact-blocklist", Method: http.MethodGet, Path: "/contacts/blocklist", Tags: tags,
		Summary: "Lista os contatos bloqueados pela sessão", Errors: errs,
	}), func(ctx context.Context, in *struct{ SessionSelector }) (*struct{ Body Blocklist }, error) {
		info, b, p := blocker(ctx, in.From)
		if p != nil {
			return nil, p
		}
		list, err := b.Blocklist(ctx, info.SessionID)
		if err != nil {
			return nil, featureProblem(err)
		}
		if list == nil {
			list = []string{}
		}
		return &struct{ Body Blocklist }{Blocklist{Contacts: list}}, nil
	})

	for _, blocked := range []bool{true, false} {
		id, path, summary, action := "block-contact", "/contacts/{contact}/block", "Bloqueia um contato", "contact.block"
		if !blocked {
			id, path, summary, action = "unblock-contact", "/contacts/{contact}/unblock", "Desbloqueia um contato", "contact.unblock"
		}
		huma.Register(s.v1, s.tenantOp(huma.Operation{
			OperationID: id, Method: http.MethodPost, Path: path, Tags: tags, Summary: summary,
			Description: "Somente donos e administradores do tenant (ou chave de API). Somente WhatsApp Web e sandbox.",
			Errors:      append([]int{http.StatusForbidden}, errs...),
		}), func(ctx context.Context, in *ContactPath) (*struct{ Body BlockResponse }, error) {
			if p := forbidManage(MustTenant(ctx), "bloquear contatos"); p != nil {
				return nil, p
			}
			info, b, p := blocker(ctx, in.From)
			if p != nil {
				return nil, p
			}
			err := b.SetBlocked(ctx, info.SessionID, in.id(), blocked)
			s.auditFeature(ctx, action, in.id(), err, map[string]any{"session_id": info.SessionID})
			if err != nil {
				return nil, featureProblem(err)
			}
			return &struct{ Body BlockResponse }{BlockResponse{Contact: in.id(), Blocked: blocked}}, nil
		})
	}
}
