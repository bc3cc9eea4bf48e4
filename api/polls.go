package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// PollRequest is POST /messages/poll.
type PollRequest struct {
	SendCommon
	Name            string   `json:"name" minLength:"1" maxLength:"255" doc:"Pergunta da enquete" example:"Qual horário prefere?"`
	Options         []string `json:"options" minItems:"2" maxItems:"12" doc:"Opções (2 a 12, sem repetir)" example:"[\"Manhã\",\"Tarde\",\"Noite\"]"`
	SelectableCount int      `json:"selectableCount,omitempty" minimum:"0" maximum:"12" doc:"Quantas opções cada pessoa pode marcar (0 ou 1: uma só)" example:"1"`
}

// PollVoter is one contact's current vote.
type PollVoter struct {
	Contact         string    `json:"contact" example:"5511988887777"`
	SelectedOptions []string  `json:"selectedOptions" example:"[\"Tarde\"]"`
	VotedAt         time.Time `json:"votedAt"`
}

// PollOptionCount counts votes of one option.
type PollOptionCount struct {
	Option string `json:"option" example:"Tarde"`
	Votes  int    `json:"votes" example:"3"`
}

// PollResults answers GET /messages/{messageId}/poll-votes.
type PollResults struct {
	MessageID string            `json:"messageId" doc:"Id da enquete no zapbase" example:"0b8f6c1e-8a47-4c1b-9f7e-3f1d2a9c4e55"`
	Name      string            `json:"name" example:"Qual horário prefere?"`
	Options   []PollOptionCount `json:"options"`
	Voters    []PollVoter       `json:"voters" doc:"Voto atual de cada contato (o último que ele enviou; quem retirou o voto não aparece)"`
}

func (s *Server) registerPolls(r *Router) {
	tags := []string{"Mensagens"}

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "send-poll", Method: http.MethodPost, Path: "/messages/poll", Tags: tags,
		Summary: "Envia uma enquete",
		Description: "Grava a enquete em `messages` (`message_type` = `poll`) e a envia como as outras mensagens (também para grupos: `to` = JID …@g.us). " +
			"Os votos chegam como linhas `poll_vote` ligadas à enquete (`content.pollVote.pollRowId`) e o resultado está em `GET /messages/{messageId}/poll-votes`. " +
			"Somente WhatsApp Web e sandbox; na API oficial da Meta use mensagens interativas (botões ou lista).",
		Errors: []int{http.StatusConflict, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *struct {
		SendParams
		Body PollRequest
	}) (*sendOutput, error) {
		c := providers.Content{Poll: &providers.Poll{Name: in.Body.Name, Options: in.Body.Options, SelectableCount: in.Body.SelectableCount}}
		if p := validateContent(zapbase.MessagePoll, &c, "body"); p != nil {
			return nil, p
		}
		return s.sendOne(ctx, in.SendParams, "poll", in.Body, in.Body.SendCommon, zapbase.MessagePoll, c)
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "poll-votes", Method: http.MethodGet, Path: "/messages/{messageId}/poll-votes", Tags: tags,
		Summary:     "Resultado de uma enquete",
		Description: "Conta o voto atual de cada contato (o WhatsApp manda o voto inteiro de novo a cada mudança) por opção.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" format:"uuid" doc:"Id da enquete no zapbase (messages.id)"`
	}) (*struct{ Body PollResults }, error) {
		t := MustTenant(ctx)
		if _, err := uuid.Parse(in.MessageID); err != nil {
			return nil, errInvalid("Id de mensagem inválido.", FieldError{Location: "path.messageId", Message: "UUID esperado"})
		}
		raw, err := s.p.Store.Messages().PollContent(ctx, t.ID, in.MessageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound(zapbase.CodeNotFound, "Enquete não encontrada.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		var poll providers.Poll
		_ = json.Unmarshal(raw, &poll)
		votes, err := s.p.Store.Messages().PollVotes(ctx, t.ID, in.MessageID)
		if err != nil {
			return nil, Internal(err)
		}
		voters := make([]PollVoter, 0, len(votes))
		for _, r := range votes {
			v := PollVoter{Contact: r.Contact, VotedAt: r.VotedAt}
			_ = json.Unmarshal(r.SelectedOptions, &v.SelectedOptions)
			voters = append(voters, v)
		}
		out := PollResults{MessageID: in.MessageID, Name: poll.Name, Options: []PollOptionCount{}, Voters: []PollVoter{}}
		counts := map[string]int{}
		for _, v := range voters {
			if len(v.SelectedOptions) == 0 {
				continue // withdrawn
			}
			for _, o := range v.SelectedOptions {
				counts[o]++
			}
			out.Voters = append(out.Voters, v)
		}
		for _, o := range poll.Options {
			out.Options = append(out.Options, PollOptionCount{Option: o, Votes: counts[o]})
		}
		return &struct{ Body PollResults }{out}, nil
	})
}
