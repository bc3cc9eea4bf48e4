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

// MessageRecord is GET /messages/{messageId}: the original spec's annex B
// message structure, for every type and both directions.
type MessageRecord struct {
	ID        string         `json:"id" doc:"Id da mensagem no zapbase (messages.id)" example:"0b8f6c1e-8a47-4c1b-9f7e-3f1d2a9c4e55"`
	TenantID  string         `json:"tenantId" doc:"Tenant (tenants.id)"`
	SessionID *string        `json:"sessionId" doc:"Sessão do WhatsApp (whatsapp_sessions.id); null antes de o despachante escolher"`
	MessageID *string        `json:"messageId" doc:"Id da mensagem no provedor (WhatsApp Web, wamid da Meta, sandbox)" example:"3EB0C431D5F1A2B3C4D5"`
	From      *string        `json:"from" doc:"Quem enviou: o número da sessão (saída) ou o contato (entrada)" example:"5511900000000"`
	To        *string        `json:"to" doc:"Quem recebe: o contato (saída) ou o número da sessão (entrada)" example:"5511988887777"`
	Type      string         `json:"type" doc:"text, image, video, audio, voice, document, sticker, location, contacts, template, interactive, reaction..." example:"text"`
	Content   RecordContent  `json:"content"`
	Metadata  RecordMetadata `json:"metadata"`
}

// RecordContent is annex B's content: the text, the media URL, the
// location and the audio, each null when the type has none. Extra holds
// the rest of the canonical content (contacts, template, reaction...).
type RecordContent struct {
	Text     *string            `json:"text" doc:"Texto, ou a legenda da mídia" example:"Olá do zapbase!"`
	MediaURL *string            `json:"mediaUrl" doc:"URL da mídia (imagem, vídeo, documento, figurinha, áudio)"`
	Location *RecordLocation    `json:"location" doc:"Localização (tipo location)"`
	Audio    *RecordAudio       `json:"audio" doc:"Áudio (tipos audio e voice)"`
	Extra    *providers.Content `json:"extra,omitempty" doc:"Demais campos do conteúdo canônico (contatos, template, reação, mimeType, nome do arquivo...)"`
}

// RecordLocation is a location's content.
type RecordLocation struct {
	Latitude  float64 `json:"latitude" example:"-23.5614"`
	Longitude float64 `json:"longitude" example:"-46.6559"`
	Name      string  `json:"name,omitempty" example:"MASP"`
	Address   string  `json:"address,omitempty"`
}

// RecordAudio is an audio's content.
type RecordAudio struct {
	URL      string `json:"url,omitempty"`
	MimeType string `json:"mimeType,omitempty" example:"audio/ogg"`
	Seconds  int    `json:"seconds,omitempty"`
	Voice    bool   `json:"voice" doc:"Mensagem de voz (PTT)"`
}

// RecordMetadata is annex B's metadata.
type RecordMetadata struct {
	Provider       string    `json:"provider" example:"baileys"`
	AIProcessed    bool      `json:"aiProcessed" doc:"Entrada: o agente já tratou a mensagem. Saída: a mensagem foi escrita pelo agente"`
	AgentID        *string   `json:"agentId" doc:"Agente da mensagem (o agentId escolhido pelo tenant, ou o UUID)"`
	Timestamp      time.Time `json:"timestamp" doc:"Quando a mensagem foi gravada"`
	DeliveryStatus string    `json:"deliveryStatus" enum:"pending,sending,sent,delivered,read,played,failed,received" example:"delivered"`
	Direction      string    `json:"direction" enum:"outbound,inbound"`
	UpdatedAt      time.Time `json:"updatedAt" doc:"Última mudança de status"`
	ErrorCode      string    `json:"errorCode,omitempty"`
	ErrorReason    string    `json:"errorReason,omitempty"`
}

func (s *Server) registerMessageRecord(tags []string) {
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "get-message", Method: http.MethodGet, Path: "/messages/{messageId}", Tags: tags,
		Summary: "Lê uma mensagem (estrutura do anexo B)",
		Description: "Devolve a mensagem na estrutura do anexo B da especificação: `id, tenantId, sessionId, messageId, from, to, type, " +
			"content{text, mediaUrl, location, audio}, metadata{provider, aiProcessed, agentId, timestamp, deliveryStatus}`, para todo tipo e nas duas direções. " +
			"Aceita o id do zapbase (UUID) ou o id do provedor.",
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" minLength:"1" maxLength:"256" doc:"Id da mensagem (UUID do zapbase ou id do provedor)"`
	}) (*struct{ Body MessageRecord }, error) {
		t := MustTenant(ctx)
		_, uerr := uuid.Parse(in.MessageID)
		r, err := s.p.Store.Messages().Record(ctx, t.ID, in.MessageID, uerr == nil)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound("message_not_found", "Mensagem não encontrada neste tenant.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		var c providers.Content
		if err := json.Unmarshal(r.Content, &c); err != nil {
			return nil, Internal(err)
		}
		m := MessageRecord{ID: r.ID, TenantID: r.TenantID, SessionID: r.SessionID, MessageID: r.ProviderMessageID,
			From: r.From, To: r.To, Type: r.Type}
		m.Metadata.Provider, m.Metadata.Timestamp, m.Metadata.DeliveryStatus = r.Provider, r.CreatedAt, r.Status
		m.Metadata.Direction, m.Metadata.UpdatedAt = r.Direction, r.UpdatedAt
		agentRef, aiDone, agentWrote, errCode, errReason := r.AgentRef, r.AIProcessed, r.AgentWrote, r.ErrorCode, r.ErrorReason
		m.Metadata.AgentID = agentRef
		m.Metadata.AIProcessed = aiDone
		if m.Metadata.Direction == string(zapbase.DirectionOutbound) {
			m.Metadata.AIProcessed = agentWrote
		}
		m.Metadata.ErrorCode, m.Metadata.ErrorReason = deref(errCode), deref(errReason)
		m.Content = recordContent(zapbase.MessageType(m.Type), c)
		return &struct{ Body MessageRecord }{m}, nil
	})
}

// recordContent maps the canonical content to annex B's.
func recordContent(typ zapbase.MessageType, c providers.Content) RecordContent {
	var out RecordContent
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	out.Text = str(c.Text)
	if out.Text == nil {
		out.Text = str(c.Caption)
	}
	out.MediaURL = str(c.MediaURL)
	if c.Latitude != nil && c.Longitude != nil {
		out.Location = &RecordLocation{Latitude: *c.Latitude, Longitude: *c.Longitude, Name: c.Name, Address: c.Address}
	}
	if typ == zapbase.MessageAudio || typ == zapbase.MessageVoice {
		out.Audio = &RecordAudio{URL: c.MediaURL, MimeType: c.MimeType, Seconds: c.Seconds, Voice: typ == zapbase.MessageVoice}
	}
	// What annex B has no field for stays available, without duplicates
	// and without internal fields.
	extra := c
	extra.Text, extra.Caption, extra.MediaURL, extra.Latitude, extra.Longitude = "", "", "", nil, nil
	extra.MediaPath, extra.Raw = "", nil
	if out.Location != nil {
		extra.Name, extra.Address = "", ""
	}
	if out.Audio != nil {
		extra.MimeType, extra.Seconds = "", 0
	}
	if !isZeroContent(extra) {
		out.Extra = &extra
	}
	return out
}

func isZeroContent(c providers.Content) bool {
	return !c.PreviewURL && c.ReplyTo == "" && c.MediaID == "" && c.MimeType == "" && c.Filename == "" &&
		c.SizeBytes == 0 && c.Seconds == 0 && c.Name == "" && c.Address == "" && c.Emoji == "" && c.TargetMessageID == "" &&
		len(c.Contacts) == 0 && c.Template == nil && len(c.Interactive) == 0
}
