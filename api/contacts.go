package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// MaxCheckNumbers bounds POST /contacts/check.
const MaxCheckNumbers = 100

// CheckNumbersRequest is POST /contacts/check.
type CheckNumbersRequest struct {
	SessionPhone string   `json:"sessionPhone" pattern:"^[0-9]{8,15}$" doc:"Número da sessão que consulta" example:"5511900000000"`
	Numbers      []string `json:"numbers" minItems:"1" maxItems:"100" doc:"Números a conferir, com DDI (aceita +, espaços, hífens e parênteses)" example:"[\"+55 (11) 98765-4321\", \"55 21 8765-4321\"]"`
}

// CheckNumbersResponse answers POST /contacts/check.
type CheckNumbersResponse struct {
	Results []providers.NumberCheck `json:"results" doc:"Uma resposta por número, na mesma ordem. whatsAppNumber é o número que o WhatsApp conhece (com ou sem o nono dígito); as mensagens para o número vão para ele."`
}

func (s *Server) registerContacts(r *Router) {
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "check-contacts", Method: http.MethodPost, Path: "/contacts/check", Tags: []string{"Contatos"},
		Summary: "Confere quais números têm WhatsApp",
		Description: "Pergunta ao WhatsApp, pela sessão indicada, quais números têm conta. Celulares brasileiros são conferidos com e sem o " +
			"nono dígito depois do DDD, e a resposta diz com qual forma o WhatsApp conhece o número. O resultado fica em cache na sessão " +
			"(7 dias; 1 dia para números sem WhatsApp) e é o mesmo usado antes do primeiro envio a cada número.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable, http.StatusBadGateway},
	}), func(ctx context.Context, in *struct{ Body CheckNumbersRequest }) (*struct{ Body CheckNumbersResponse }, error) {
		t := MustTenant(ctx)
		info, p := s.loadSession(ctx, t, in.Body.SessionPhone)
		if p != nil {
			return nil, p
		}
		nc, ok := s.p.Providers[zapbase.ProviderType(info.Provider)].(providers.NumberChecker)
		if !ok {
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider,
				fmt.Sprintf("O provedor %s não permite conferir números.", info.Provider))
		}
		res, err := nc.CheckNumbers(ctx, info.SessionID, in.Body.Numbers)
		if err != nil {
			return nil, providerProblem(err)
		}
		return &struct{ Body CheckNumbersResponse }{CheckNumbersResponse{Results: res}}, nil
	})
}
