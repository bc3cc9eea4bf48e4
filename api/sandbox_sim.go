package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
)

// sandboxSimulator is what the simulation endpoints need of the sandbox
// provider (`zapbase dev`): a contact's message, call or poll vote, without
// a phone.
type sandboxSimulator interface {
	SimulateInbound(ctx context.Context, ip sandbox.InboundParams) (string, error)
	SimulateCall(ctx context.Context, cp sandbox.CallParams) (sandbox.CallResult, error)
	SimulatePollVote(ctx context.Context, vp sandbox.VoteParams) (string, error)
}

// SimInboundRequest is POST /sandbox/{phoneNumber}/inbound.
type SimInboundRequest struct {
	From  string `json:"from" pattern:"^[0-9]{8,15}$" doc:"Número do contato que escreve" example:"5511988887777"`
	Text  string `json:"text" minLength:"1" maxLength:"4096" example:"Oi, quero um orçamento"`
	Group string `json:"group,omitempty" pattern:"^[0-9-]{6,60}@g\\.us$" doc:"JID do grupo, para simular uma mensagem de grupo" example:"120363041234567890@g.us"`
}

// SimResult answers a simulated inbound message or vote.
type SimResult struct {
	ProviderMessageID string `json:"providerMessageId,omitempty" doc:"Vazio quando as configurações da sessão descartaram a mensagem (ignoreGroups)"`
	Ignored           bool   `json:"ignored"`
}

// SimCallRequest is POST /sandbox/{phoneNumber}/calls.
type SimCallRequest struct {
	From  string `json:"from" pattern:"^[0-9]{8,15}$" doc:"Número de quem liga" example:"5511988887777"`
	Video bool   `json:"video,omitempty" doc:"Chamada de vídeo"`
}

// SimVoteRequest is POST /sandbox/{phoneNumber}/poll-votes.
type SimVoteRequest struct {
	From      string   `json:"from" pattern:"^[0-9]{8,15}$" doc:"Número de quem vota" example:"5511988887777"`
	MessageID string   `json:"messageId" format:"uuid" doc:"Id da enquete no zapbase (messages.id)"`
	Options   []string `json:"options" maxItems:"12" doc:"Opções escolhidas (vazio: retira o voto)" example:"[\"Tarde\"]"`
}

func (s *Server) registerSandboxSim(r *Router) {
	tags := []string{"Sandbox (desenvolvimento)"}
	errs := []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable}
	simFor := func(ctx context.Context, phone string) (Tenant, SessionInfo, sandboxSimulator, *Problem) {
		t := MustTenant(ctx)
		info, p := s.loadSession(ctx, t, phone)
		if p != nil {
			return t, info, nil, p
		}
		if info.Provider != string(zapbase.ProviderSandbox) {
			return t, info, nil, unsupportedByProvider(info.Provider, "simulação (só sessões sandbox)")
		}
		sim, ok := s.p.Providers[zapbase.ProviderSandbox].(sandboxSimulator)
		if !ok {
			return t, info, nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable, "O provedor sandbox não está disponível neste servidor.")
		}
		// The simulator keeps settings in memory: give it the stored ones
		// (they survive a restart of zapbase dev, its memory does not).
		if sa, ok := sim.(providers.SettingsApplier); ok {
			st, err := readSessionSettings(ctx, s.p.Store, t.ID, info.SessionID)
			if err != nil {
				return t, info, nil, Internal(err)
			}
			if err := sa.ApplySettings(ctx, info.SessionID, st); err != nil {
				return t, info, nil, Internal(err)
			}
		}
		return t, info, sim, nil
	}

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "sandbox-simulate-inbound", Method: http.MethodPost, Path: "/sandbox/{phoneNumber}/inbound", Tags: tags,
		Summary:     "Simula uma mensagem recebida (sandbox)",
		Description: "Um contato escreve para a sessão sandbox (ou num grupo, com `group`): vira uma linha `inbound` como no WhatsApp de verdade.",
		Errors:      errs,
	}), func(ctx context.Context, in *struct {
		SessionSettingsPath
		Body SimInboundRequest
	}) (*struct{ Body SimResult }, error) {
		t, info, sim, p := simFor(ctx, in.PhoneNumber)
		if p != nil {
			return nil, p
		}
		id, err := sim.SimulateInbound(ctx, sandbox.InboundParams{TenantID: t.ID, SessionID: info.SessionID, From: in.Body.From,
			To: info.PhoneNumber, Group: in.Body.Group, Content: providers.Content{Text: in.Body.Text}})
		if err != nil {
			return nil, Internal(err)
		}
		return &struct{ Body SimResult }{SimResult{ProviderMessageID: id, Ignored: id == ""}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "sandbox-simulate-call", Method: http.MethodPost, Path: "/sandbox/{phoneNumber}/calls", Tags: tags,
		Summary: "Simula uma chamada recebida (sandbox)",
		Description: "Com `rejectCalls` nas configurações da sessão, a chamada é recusada e a mensagem configurada vira uma linha de saída. " +
			"A chamada vira um evento `call` no feed de mudanças.",
		Errors: errs,
	}), func(ctx context.Context, in *struct {
		SessionSettingsPath
		Body SimCallRequest
	}) (*struct{ Body sandbox.CallResult }, error) {
		t, info, sim, p := simFor(ctx, in.PhoneNumber)
		if p != nil {
			return nil, p
		}
		res, err := sim.SimulateCall(ctx, sandbox.CallParams{TenantID: t.ID, SessionID: info.SessionID, From: in.Body.From, Video: in.Body.Video})
		if err != nil {
			return nil, Internal(err)
		}
		return &struct{ Body sandbox.CallResult }{res}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "sandbox-simulate-poll-vote", Method: http.MethodPost, Path: "/sandbox/{phoneNumber}/poll-votes", Tags: tags,
		Summary:     "Simula o voto de um contato numa enquete (sandbox)",
		Description: "Grava o voto como uma linha `poll_vote` ligada à enquete, como um voto descriptografado do WhatsApp Web.",
		Errors:      errs,
	}), func(ctx context.Context, in *struct {
		SessionSettingsPath
		Body SimVoteRequest
	}) (*struct{ Body SimResult }, error) {
		t, info, sim, p := simFor(ctx, in.PhoneNumber)
		if p != nil {
			return nil, p
		}
		providerID, raw, err := s.p.Store.Messages().PollForVote(ctx, t.ID, in.Body.MessageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound(zapbase.CodeNotFound, "Enquete não encontrada.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		var poll providers.Poll
		_ = json.Unmarshal(raw, &poll)
		for i, o := range in.Body.Options {
			known := false
			for _, po := range poll.Options {
				known = known || po == o
			}
			if !known {
				return nil, errInvalid("Opção que não existe na enquete: "+o+".", FieldError{Location: "body.options[" + strconv.Itoa(i) + "]", Message: "opção desconhecida", Value: o})
			}
		}
		id, err := sim.SimulatePollVote(ctx, sandbox.VoteParams{TenantID: t.ID, SessionID: info.SessionID, From: in.Body.From, To: info.PhoneNumber,
			PollMessageID: providerID, PollRowID: in.Body.MessageID, Options: in.Body.Options})
		if err != nil {
			return nil, Internal(err)
		}
		return &struct{ Body SimResult }{SimResult{ProviderMessageID: id}}, nil
	})
}
