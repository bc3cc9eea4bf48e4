package api

// File size: the message endpoints (single, batch, media, status) share the
// idempotency and insert path; routing and problems are shared helpers.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/pgerr"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/tracing"
)

// Recipient pattern: international digits (optional +), or a WhatsApp JID
// / provider contact id (user@server).
const recipientPattern = `^(\+?[0-9]{8,15}|[0-9A-Za-z._:-]{1,80}@[a-z.]{2,32})$`

// SendCommon are the fields shared by every send request.
type SendCommon struct {
	To       string `json:"to" pattern:"^(\\+?[0-9]{8,15}|[0-9A-Za-z._:-]{1,80}@[a-z.]{2,32})$" doc:"Destinatário: número internacional só com dígitos (ex.: 5511988887777) ou JID do WhatsApp" example:"5511988887777"`
	Provider string `json:"provider,omitempty" enum:"baileys,meta_api,sandbox,auto" default:"auto" doc:"Provedor: baileys (WhatsApp Web), meta_api (API oficial), sandbox ou auto (preferência do tenant)"`
	From     string `json:"from,omitempty" pattern:"^[0-9]{8,15}$" doc:"Número da sessão que envia (opcional; padrão: escolhida pelo despachante)" example:"5511900000000"`
	EnableAI bool   `json:"enableAI,omitempty" doc:"Entrega a conversa com este contato ao agente de IA: a próxima mensagem dele é respondida pelo agente (agentId, ou o agente já atribuído, ou o padrão do tenant). Sem enableAI, um envio manual pausa o agente nessa conversa"`
	AgentID  string `json:"agentId,omitempty" maxLength:"64" doc:"Agente de IA que deve responder: o UUID ou o agentId escolhido pelo tenant (opcional)" example:"real_estate_agent"`
	// Metadata is free-form data stored with the row (max 16 keys).
	Metadata map[string]any `json:"metadata,omitempty" maxProperties:"16" doc:"Dados livres guardados com a mensagem"`
}

// TextRequest is POST /messages/text (the original spec's example).
type TextRequest struct {
	SendCommon
	Content    string `json:"content" minLength:"1" maxLength:"4096" doc:"Texto da mensagem" example:"Olá do zapbase!"`
	PreviewURL bool   `json:"previewUrl,omitempty" doc:"Mostra a prévia do primeiro link"`
	ReplyTo    string `json:"replyTo,omitempty" maxLength:"128" doc:"Id (do provedor) da mensagem citada"`
}

// SendRequest is POST /messages/send: any message type in the canonical
// content format.
type SendRequest struct {
	SendCommon
	Type    string            `json:"type" enum:"text,image,video,audio,voice,document,sticker,location,contacts,template,interactive,reaction,poll" doc:"Tipo da mensagem (poll: enquete, só WhatsApp Web e sandbox)" example:"text"`
	Content providers.Content `json:"content" doc:"Conteúdo canônico (somente os campos do tipo são usados)"`
}

// LocationRequest is POST /messages/location.
type LocationRequest struct {
	SendCommon
	Latitude  float64 `json:"latitude" minimum:"-90" maximum:"90" example:"-23.5614"`
	Longitude float64 `json:"longitude" minimum:"-180" maximum:"180" example:"-46.6559"`
	Name      string  `json:"name,omitempty" maxLength:"256" example:"MASP"`
	Address   string  `json:"address,omitempty" maxLength:"512" example:"Av. Paulista, 1578 - São Paulo"`
}

// MediaRequest is POST /messages/media (JSON form; multipart carries the
// same fields plus a `file` part).
type MediaRequest struct {
	SendCommon
	Type        string `json:"type" enum:"image,video,audio,voice,document,sticker" doc:"Tipo da mídia" example:"image"`
	MediaURL    string `json:"mediaUrl,omitempty" format:"uri" maxLength:"2048" doc:"URL pública (https) da mídia" example:"https://exemplo.com/foto.jpg"`
	MediaBase64 string `json:"mediaBase64,omitempty" doc:"Conteúdo da mídia em base64 (alternativa à URL)"`
	MimeType    string `json:"mimeType,omitempty" maxLength:"128" example:"image/jpeg"`
	Caption     string `json:"caption,omitempty" maxLength:"1024" example:"Nossa vitrine"`
	Filename    string `json:"filename,omitempty" maxLength:"240" example:"catalogo.pdf"`
}

// AudioRequest is POST /messages/audio (JSON form; multipart also accepted).
type AudioRequest struct {
	SendCommon
	MediaURL    string `json:"mediaUrl,omitempty" format:"uri" maxLength:"2048" example:"https://exemplo.com/audio.ogg"`
	MediaBase64 string `json:"mediaBase64,omitempty" doc:"Áudio em base64 (alternativa à URL)"`
	MimeType    string `json:"mimeType,omitempty" maxLength:"128" example:"audio/ogg"`
	Voice       bool   `json:"voice,omitempty" doc:"Envia como mensagem de voz (PTT) em vez de arquivo de áudio"`
}

// BulkRequest is POST /messages/send-bulk. Besides this canonical form the
// endpoint accepts {"recipients": [...], "content": "texto", ...} (one
// message per recipient) and messages whose content is a plain string and
// whose type is absent (text); see normalizeBulk.
type BulkRequest struct {
	Messages []SendRequest `json:"messages" minItems:"1" maxItems:"100" doc:"Até 100 mensagens, gravadas numa única transação. Sem type, a mensagem é de texto; content pode ser o próprio texto"`
}

// BulkRecipientsRequest is the other form of send-bulk: the same message
// to several recipients.
type BulkRecipientsRequest struct {
	Recipients []string `json:"recipients" minItems:"1" maxItems:"100" doc:"Destinatários (dígitos internacionais ou JID)" example:"[\"5511988887777\",\"5511977776666\"]"`
	Content    any      `json:"content" doc:"O texto (string) ou o conteúdo canônico do tipo" example:"\"Promoção de hoje: 10% de desconto!\""`
	Type       string   `json:"type,omitempty" doc:"Tipo (padrão: text)"`
	Provider   string   `json:"provider,omitempty" enum:"baileys,meta_api,sandbox,auto"`
	From       string   `json:"from,omitempty"`
	EnableAI   bool     `json:"enableAI,omitempty"`
	AgentID    string   `json:"agentId,omitempty"`
}

// normalizeBulk rewrites the accepted send-bulk forms into BulkRequest's.
func normalizeBulk(v map[string]any) (map[string]any, *Problem) {
	if rs, ok := v["recipients"]; ok {
		if _, both := v["messages"]; both {
			return nil, errInvalid("Use recipients ou messages, não os dois.", FieldError{Location: "body.recipients", Message: "use recipients ou messages"})
		}
		list, ok := rs.([]any)
		if !ok || len(list) == 0 {
			return nil, errInvalid("recipients deve ser uma lista de números.", FieldError{Location: "body.recipients", Message: "lista de números esperada"})
		}
		if len(list) > MaxBulkMessages {
			return nil, errInvalid(fmt.Sprintf("No máximo %d destinatários por lote.", MaxBulkMessages), FieldError{Location: "body.recipients", Message: "lista longa demais"})
		}
		msgs := make([]any, 0, len(list))
		for i, r := range list {
			to, ok := r.(string)
			if !ok {
				return nil, errInvalid("recipients deve conter números como texto.", FieldError{Location: fmt.Sprintf("body.recipients[%d]", i), Message: "texto esperado"})
			}
			m := map[string]any{}
			for k, x := range v {
				if k != "recipients" {
					m[k] = x
				}
			}
			m["to"] = to
			msgs = append(msgs, m)
		}
		v = map[string]any{"messages": msgs}
	}
	msgs, _ := v["messages"].([]any)
	for i, x := range msgs {
		m, ok := x.(map[string]any)
		if !ok {
			continue // the schema names it
		}
		if _, ok := m["type"]; !ok {
			m["type"] = string(zapbase.MessageText)
		}
		if text, ok := m["content"].(string); ok {
			if m["type"] != string(zapbase.MessageText) {
				return nil, errInvalid("content como texto só vale para mensagens de texto.",
					FieldError{Location: fmt.Sprintf("body.messages[%d].content", i), Message: "use o conteúdo canônico do tipo"})
			}
			m["content"] = map[string]any{"text": text}
		}
	}
	return v, nil
}

// SendResponse answers a send.
type SendResponse struct {
	MessageID         string    `json:"messageId" doc:"Id da mensagem no zapbase (messages.id)" example:"0b8f6c1e-8a47-4c1b-9f7e-3f1d2a9c4e55"`
	Status            string    `json:"status" enum:"pending,sending,sent,delivered,read,played,failed" example:"sent"`
	Provider          string    `json:"provider" example:"sandbox"`
	Timestamp         time.Time `json:"timestamp" doc:"Última mudança de status"`
	To                string    `json:"to,omitempty" example:"5511988887777"`
	ProviderMessageID string    `json:"providerMessageId,omitempty" doc:"Id atribuído pelo provedor"`
	ErrorCode         string    `json:"errorCode,omitempty" doc:"Código do erro do provedor (status failed)"`
	ErrorReason       string    `json:"errorReason,omitempty" doc:"Motivo em português (status failed)"`
}

// MessageStatus answers GET /messages/{messageId}/status.
type MessageStatus struct {
	SendResponse
	Direction   string     `json:"direction" enum:"outbound,inbound"`
	Type        string     `json:"type"`
	Attempts    int        `json:"attempts"`
	CreatedAt   time.Time  `json:"createdAt"`
	SentAt      *time.Time `json:"sentAt,omitempty"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
	ReadAt      *time.Time `json:"readAt,omitempty"`
	FailedAt    *time.Time `json:"failedAt,omitempty"`
}

// BulkResponse answers send-bulk.
type BulkResponse struct {
	Count    int            `json:"count"`
	Messages []SendResponse `json:"messages"`
}

// SendParams are the query and header parameters of single sends.
type SendParams struct {
	Wait           string `query:"wait" enum:"true,false" default:"true" doc:"Espera o envio (sent/failed) até o limite configurado; false responde 202 pending imediatamente"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Chave de idempotência: repetir a requisição com a mesma chave devolve a primeira resposta (guardada por 48 h por padrão; ZAPBASE_RETENTION_IDEMPOTENCY)"`
}

type sendOutput struct {
	Status   int
	Replayed string `header:"Idempotent-Replayed"`
	Body     SendResponse
}

type bulkOutput struct {
	Status   int
	Replayed string `header:"Idempotent-Replayed"`
	Body     BulkResponse
}

// outRow is one outbound row to insert.
type outRow struct {
	ID        string
	SessionID *string
	To        string
	Type      string
	Content   providers.Content
	Provider  string
	EnableAI  bool
	AgentID   *string
	Metadata  map[string]any
}

func (s *Server) registerMessages(r *Router) {
	tags := []string{"Mensagens"}
	sendErrors := []int{http.StatusConflict, http.StatusServiceUnavailable}

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "send-text", Method: http.MethodPost, Path: "/messages/text", Tags: tags,
		Summary:       "Envia uma mensagem de texto",
		Description:   "Grava a mensagem em `messages` (status `pending`) e espera o envio até o limite configurado (`ZAPBASE_SEND_WAIT`). Responde 200 com `sent`/`failed`, ou 202 com `pending` se o tempo acabar ou `wait=false`.",
		DefaultStatus: http.StatusOK, Errors: sendErrors,
	}), func(ctx context.Context, in *struct {
		SendParams
		Body TextRequest
	}) (*sendOutput, error) {
		c := providers.Content{Text: in.Body.Content, PreviewURL: in.Body.PreviewURL, ReplyTo: in.Body.ReplyTo}
		return s.sendOne(ctx, in.SendParams, "text", in.Body, in.Body.SendCommon, zapbase.MessageText, c)
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "send-message", Method: http.MethodPost, Path: "/messages/send", Tags: tags,
		Summary:     "Envia uma mensagem de qualquer tipo",
		Description: "Aceita o conteúdo canônico do zapbase (`type` + `content`): texto, mídia por URL ou id, localização, contatos, template, interativa ou reação.",
		Errors:      sendErrors,
	}), func(ctx context.Context, in *struct {
		SendParams
		Body SendRequest
	}) (*sendOutput, error) {
		if p := validateContent(zapbase.MessageType(in.Body.Type), &in.Body.Content, "body.content"); p != nil {
			return nil, p
		}
		return s.sendOne(ctx, in.SendParams, "send", in.Body, in.Body.SendCommon, zapbase.MessageType(in.Body.Type), in.Body.Content)
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "send-location", Method: http.MethodPost, Path: "/messages/location", Tags: tags,
		Summary: "Envia uma localização", Errors: sendErrors,
	}), func(ctx context.Context, in *struct {
		SendParams
		Body LocationRequest
	}) (*sendOutput, error) {
		lat, lng := in.Body.Latitude, in.Body.Longitude
		c := providers.Content{Latitude: &lat, Longitude: &lng, Name: in.Body.Name, Address: in.Body.Address}
		return s.sendOne(ctx, in.SendParams, "location", in.Body, in.Body.SendCommon, zapbase.MessageLocation, c)
	})

	s.registerMedia(tags, sendErrors)

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "send-bulk", Method: http.MethodPost, Path: "/messages/send-bulk", Tags: tags,
		Summary: "Envia várias mensagens (até 100)",
		Description: "Grava todas as mensagens numa única transação (tudo ou nada) e responde 202 com os ids, sem esperar o envio. Acompanhe cada uma por `GET /messages/{messageId}/status` ou pelo Realtime do Supabase. " +
			"Duas formas: `{\"recipients\": [...], \"content\": \"texto\"}` (a mesma mensagem para todos) ou `{\"messages\": [{\"to\", \"content\"}, ...]}`; sem `type`, a mensagem é de texto e `content` pode ser o próprio texto.",
		DefaultStatus: http.StatusAccepted, Errors: sendErrors,
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{OneOf: []*huma.Schema{
				s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[BulkRequest](), true, "BulkRequest"),
				s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[BulkRecipientsRequest](), true, "BulkRecipientsRequest"),
			}}, Examples: map[string]*huma.Example{
				"destinatarios": {Summary: "O mesmo texto para vários números", Value: map[string]any{
					"recipients": []string{"5511988887777", "5511977776666"}, "content": "Promoção de hoje: 10% de desconto!"}},
				"mensagens": {Summary: "Uma mensagem por destinatário (texto por padrão)", Value: map[string]any{
					"messages": []map[string]any{{"to": "5511988887777", "content": "Olá, Ana!"}, {"to": "5511977776666", "content": "Olá, Bruno!"}}}},
			}},
		}},
	}), func(ctx context.Context, req *struct {
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Chave de idempotência: repetir a requisição com a mesma chave devolve a primeira resposta (guardada por 48 h por padrão; ZAPBASE_RETENTION_IDEMPOTENCY)"`
		RawBody        []byte
	}) (*bulkOutput, error) {
		var raw map[string]any
		if err := json.Unmarshal(req.RawBody, &raw); err != nil || raw == nil {
			return nil, errInvalid("O corpo deve ser um objeto JSON.", FieldError{Location: "body", Message: "objeto JSON inválido"})
		}
		norm, p := normalizeBulk(raw)
		if p != nil {
			return nil, p
		}
		in := &struct {
			IdempotencyKey string
			Body           BulkRequest
		}{IdempotencyKey: req.IdempotencyKey}
		if p := s.validateInto(norm, &in.Body); p != nil {
			return nil, p
		}
		t := MustTenant(ctx)
		if len(in.Body.Messages) > MaxBulkMessages {
			return nil, errInvalid(fmt.Sprintf("No máximo %d mensagens por lote.", MaxBulkMessages))
		}
		rows := make([]outRow, 0, len(in.Body.Messages))
		sessions := map[string]store.SessionRef{}
		for i, m := range in.Body.Messages {
			loc := fmt.Sprintf("body.messages[%d]", i)
			if p := validateContent(zapbase.MessageType(m.Type), &m.Content, loc+".content"); p != nil {
				return nil, p
			}
			row, p := s.prepare(ctx, t, m.SendCommon, zapbase.MessageType(m.Type), m.Content, loc, sessions)
			if p != nil {
				return nil, p
			}
			rows = append(rows, row)
		}
		res, replay, p := s.enqueue(ctx, t, rows, in.IdempotencyKey, requestHash("send-bulk", in.Body), "message.send_bulk")
		if p != nil {
			return nil, p
		}
		if replay != nil {
			out := &bulkOutput{Status: replay.status, Replayed: "true"}
			if err := json.Unmarshal(replay.body, &out.Body); err != nil {
				return nil, Internal(err)
			}
			return out, nil
		}
		return &bulkOutput{Status: http.StatusAccepted, Body: BulkResponse{Count: len(res), Messages: res}}, nil
	})

	s.registerMessageRecord(tags)

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "message-status", Method: http.MethodGet, Path: "/messages/{messageId}/status", Tags: tags,
		Summary:     "Consulta o status de uma mensagem",
		Description: "Aceita o id do zapbase (UUID) ou o id do provedor. A mensagem inteira, na estrutura do anexo B, está em `GET /messages/{messageId}`.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" minLength:"1" maxLength:"256" doc:"Id da mensagem (UUID do zapbase ou id do provedor)"`
	}) (*struct{ Body MessageStatus }, error) {
		t := MustTenant(ctx)
		_, uerr := uuid.Parse(in.MessageID)
		r, err := s.p.Store.Messages().StatusOf(ctx, t.ID, in.MessageID, uerr == nil)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound(zapbase.CodeMessageNotFound, "Mensagem não encontrada neste tenant.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		m := MessageStatus{SendResponse: SendResponse{MessageID: r.ID, Status: r.Status, Provider: r.Provider, Timestamp: r.UpdatedAt},
			Direction: r.Direction, Type: r.Type, Attempts: r.Attempts, CreatedAt: r.CreatedAt, SentAt: r.SentAt,
			DeliveredAt: r.DeliveredAt, ReadAt: r.ReadAt, FailedAt: r.FailedAt}
		to, msgID, errCode, errReason := r.To, r.ProviderMessageID, r.ErrorCode, r.ErrorReason
		m.To, m.ProviderMessageID, m.ErrorCode, m.ErrorReason = deref(to), deref(msgID), deref(errCode), deref(errReason)
		return &struct{ Body MessageStatus }{m}, nil
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func requestHash(op string, body any) []byte {
	b, _ := json.Marshal(body)
	sum := sha256.Sum256(append([]byte(op+"\n"), b...))
	return sum[:]
}

// sendOne is the shared path of the single-send endpoints.
func (s *Server) sendOne(ctx context.Context, q SendParams, op string, body any, c SendCommon, typ zapbase.MessageType, content providers.Content) (*sendOutput, error) {
	t := MustTenant(ctx)
	row, p := s.prepare(ctx, t, c, typ, content, "body", nil)
	if p != nil {
		return nil, p
	}
	return s.sendRow(ctx, t, q, row, requestHash(op, body))
}

// sendRow writes one outbound row (idempotently), waits for its outcome
// when asked, and records the final answer for Idempotency-Key replays. It
// is the common tail of every single-send endpoint.
func (s *Server) sendRow(ctx context.Context, t Tenant, q SendParams, row outRow, hash []byte) (*sendOutput, error) {
	res, replay, p := s.enqueue(ctx, t, []outRow{row}, q.IdempotencyKey, hash, "message.send")
	if p != nil {
		return nil, p
	}
	if replay != nil {
		out := &sendOutput{Status: replay.status, Replayed: "true"}
		if err := json.Unmarshal(replay.body, &out.Body); err != nil {
			return nil, Internal(err)
		}
		return out, nil
	}
	resp := res[0]
	if q.Wait != "false" && s.p.SendWait > 0 {
		resp = s.wait(ctx, t, resp)
	}
	status := http.StatusAccepted
	if zapbase.Status(resp.Status).Terminal() {
		status = http.StatusOK
	}
	if q.IdempotencyKey != "" && status == http.StatusOK {
		b, _ := json.Marshal(resp)
		err := s.p.Store.IdempotencyKeys().SetResponse(context.WithoutCancel(ctx), t.ID, q.IdempotencyKey, status, b)
		if err != nil {
			s.log.Warn("update idempotency answer", "error", err, "tenant_id", t.ID)
		}
	}
	return &sendOutput{Status: status, Body: resp}, nil
}

// prepare validates one send against the tenant's sessions and the
// registered providers and returns the row to insert.
func (s *Server) prepare(ctx context.Context, t Tenant, c SendCommon, typ zapbase.MessageType, content providers.Content, loc string, cache map[string]store.SessionRef) (outRow, *Problem) {
	row := outRow{ID: uuid.NewString(), To: strings.TrimPrefix(c.To, "+"), Type: string(typ), Content: content,
		Provider: c.Provider, EnableAI: c.EnableAI, Metadata: c.Metadata}
	if err := zapbase.CheckRecipient(row.To); err != nil {
		return row, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeInvalidRecipient,
			"Destinatário inválido (campo to): "+zapbase.ErrorMessage(err)+".",
			FieldError{Location: loc + ".to", Message: zapbase.ErrorMessage(err), Value: c.To})
	}
	if row.Provider == "" {
		row.Provider = string(zapbase.ProviderAuto)
	}
	if c.AgentID != "" {
		// agentId is the agent's UUID or the tenant's own slug for it;
		// another tenant's agent is simply not found.
		id, found, err := s.resolveAgent(ctx, t.ID, c.AgentID)
		if err != nil {
			return row, Internal(err)
		}
		if !found {
			return row, NewProblem(http.StatusUnprocessableEntity, "agent_not_found", "Agente de IA não encontrado neste tenant.",
				FieldError{Location: loc + ".agentId", Message: "agente não encontrado", Value: c.AgentID})
		}
		row.AgentID = &id
	}
	if row.Metadata == nil {
		row.Metadata = map[string]any{}
	}
	if c.From != "" {
		ref, ok := cache[c.From]
		if !ok {
			var err error
			ref, err = s.p.Store.Sessions().ActiveRef(ctx, t.ID, c.From)
			if errors.Is(err, pgx.ErrNoRows) {
				return row, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeSessionNotFound,
					"Nenhuma sessão ativa com este número no tenant.", FieldError{Location: loc + ".from", Message: "sessão não encontrada", Value: c.From})
			}
			if err != nil {
				return row, Internal(err)
			}
			if cache != nil {
				cache[c.From] = ref
			}
		}
		if row.Provider == string(zapbase.ProviderAuto) {
			row.Provider = string(ref.Provider)
		} else if row.Provider != string(ref.Provider) {
			return row, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeSessionProviderMismatch,
				fmt.Sprintf("A sessão %s usa o provedor %s, não %s.", c.From, ref.Provider, row.Provider),
				FieldError{Location: loc + ".provider", Message: "diferente do provedor da sessão", Value: row.Provider})
		}
		id := ref.ID
		row.SessionID = &id
	}
	if p := s.checkProvider(zapbase.ProviderType(row.Provider), typ, loc); p != nil {
		return row, p
	}
	if strings.HasSuffix(row.To, "@g.us") && row.Provider == string(zapbase.ProviderMeta) {
		return row, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedByProvider,
			"A API oficial da Meta não envia mensagens para grupos; use uma sessão WhatsApp Web.",
			FieldError{Location: loc + ".to", Message: "grupo não suportado pelo provedor", Value: row.To})
	}
	return row, nil
}

// checkProvider refuses sends no registered provider can carry.
func (s *Server) checkProvider(pt zapbase.ProviderType, typ zapbase.MessageType, loc string) *Problem {
	unavailable := NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable,
		fmt.Sprintf("O provedor %s não está disponível neste servidor.", pt))
	if pt != zapbase.ProviderAuto {
		prov, ok := s.p.Providers[pt]
		if !ok || prov == nil {
			return unavailable
		}
		if !prov.Capabilities().Supports(typ) {
			return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupported,
				fmt.Sprintf("O provedor %s não envia mensagens do tipo %s.", pt, typ),
				FieldError{Location: loc + ".type", Message: "tipo não suportado pelo provedor", Value: string(typ)})
		}
		return nil
	}
	if len(s.p.Providers) == 0 {
		return NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable, "Nenhum provedor está disponível neste servidor.")
	}
	for _, prov := range s.p.Providers {
		if prov != nil && prov.Capabilities().Supports(typ) {
			return nil
		}
	}
	return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupported,
		fmt.Sprintf("Nenhum provedor disponível envia mensagens do tipo %s.", typ))
}

type replayed struct {
	status int
	body   []byte
}

// errReplay rolls back enqueue's transaction when the Idempotency-Key was
// used before.
var errReplay = errors.New("idempotency key used before")

// enqueue inserts rows in one transaction together with the idempotency
// record and the audit entry: all or nothing. A repeated Idempotency-Key
// returns the stored answer instead.
func (s *Server) enqueue(ctx context.Context, t Tenant, rows []outRow, idemKey string, hash []byte, action string) ([]SendResponse, *replayed, *Problem) {
	insert := store.InsertOutboundParams{TenantID: t.ID, Rows: make([]store.OutboundRow, len(rows)),
		// The request's trace context goes on the rows: the send, whenever
		// and wherever it happens, joins this request's trace.
		Traceparent: tracing.TraceparentOrNil(ctx)}
	for i, r := range rows {
		content, err := json.Marshal(r.Content)
		if err != nil {
			return nil, nil, Internal(err)
		}
		insert.Rows[i] = store.OutboundRow{ID: r.ID, SessionID: r.SessionID, To: r.To, Type: r.Type, Content: content,
			Provider: r.Provider, EnableAI: r.EnableAI, AgentID: r.AgentID, Metadata: r.Metadata}
	}
	var (
		out  []SendResponse
		prob *Problem
	)
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if idemKey != "" {
			fresh, err := tx.IdempotencyKeys().Claim(ctx, t.ID, idemKey, hash)
			if err != nil {
				prob = Internal(err)
				return err
			}
			if !fresh {
				return errReplay
			}
		}
		inserted, err := tx.Messages().InsertOutbound(ctx, insert)
		if err != nil {
			prob = s.insertProblem(err)
			return err
		}
		// RETURNING order follows the input order for INSERT ... SELECT
		// from jsonb_to_recordset, but do not rely on it: reorder by id.
		byID := make(map[string]SendResponse, len(inserted))
		for _, r := range inserted {
			byID[r.ID] = SendResponse{MessageID: r.ID, Status: r.Status, Provider: r.Provider, Timestamp: r.UpdatedAt, To: r.To}
		}
		out = make([]SendResponse, len(rows))
		for i, row := range rows {
			out[i] = byID[row.ID]
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		target := ids[0]
		if len(ids) > 1 {
			target = fmt.Sprintf("%d messages", len(ids))
		}
		s.audit(ctx, tx, auditEntry{TenantID: t.ID, Action: action, Target: target, Details: map[string]any{"count": len(ids), "ids": truncateIDs(ids)}})
		if idemKey != "" {
			var body any = out[0]
			if action == "message.send_bulk" {
				body = BulkResponse{Count: len(out), Messages: out}
			}
			b, _ := json.Marshal(body)
			if err := tx.IdempotencyKeys().SetAccepted(ctx, t.ID, idemKey, b); err != nil {
				prob = Internal(err)
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errReplay):
		return s.replay(ctx, t, idemKey, hash)
	case prob != nil:
		return nil, nil, prob
	case err != nil: // begin or commit
		return nil, nil, s.insertProblem(err)
	}
	return out, nil, nil
}

func truncateIDs(ids []string) []string {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}

func (s *Server) replay(ctx context.Context, t Tenant, key string, hash []byte) ([]SendResponse, *replayed, *Problem) {
	rec, err := s.p.Store.IdempotencyKeys().Get(ctx, t.ID, key)
	stored, status, body := rec.RequestHash, rec.StatusCode, rec.Response
	if err != nil {
		return nil, nil, Internal(err)
	}
	if string(stored) != string(hash) {
		return nil, nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeIdempotencyKeyReused,
			"Esta Idempotency-Key já foi usada com outra requisição.", FieldError{Location: "header.Idempotency-Key", Message: "reutilizada com outro corpo"})
	}
	if status == nil || body == nil {
		return nil, nil, NewProblem(http.StatusConflict, zapbase.CodeIdempotencyInProgress,
			"Uma requisição com esta Idempotency-Key ainda está em andamento.")
	}
	return nil, &replayed{status: *status, body: body}, nil
}

// insertProblem maps constraint violations to 4xx.
func (s *Server) insertProblem(err error) *Problem {
	if pgerr.Code(err) != "" {
		switch {
		case pgerr.IsForeignKeyViolation(err) && strings.Contains(pgerr.Constraint(err), "agent"):
			return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeAgentNotFound, "Agente de IA não encontrado neste tenant.",
				FieldError{Location: "body.agentId", Message: "agente não encontrado"})
		case pgerr.IsForeignKeyViolation(err) && strings.Contains(pgerr.Constraint(err), "session"):
			return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeSessionNotFound, "Sessão não encontrada neste tenant.")
		case pgerr.IsCheckViolation(err) || pgerr.IsInvalidText(err) || pgerr.IsStringTooLong(err):
			return errInvalid("Dados de entrada inválidos.").WithCause(err)
		}
	}
	return Internal(err)
}

// wait waits for sent/failed until SendWait and answers the row's state.
func (s *Server) wait(ctx context.Context, t Tenant, r SendResponse) SendResponse {
	wctx, cancel := context.WithTimeout(ctx, s.p.SendWait)
	defer cancel()
	if s.p.Waiter != nil {
		_, _ = s.p.Waiter.WaitFinal(wctx, r.MessageID)
	} else {
		s.pollFinal(wctx, t, r.MessageID)
	}
	o, err := s.p.Store.Messages().Outcome(context.WithoutCancel(ctx), t.ID, r.MessageID)
	if err != nil {
		s.log.Warn("read message after wait", "error", err, "tenant_id", t.ID)
		return r
	}
	r.Status, r.Provider, r.Timestamp = o.Status, o.Provider, o.UpdatedAt
	r.ProviderMessageID, r.ErrorCode, r.ErrorReason = deref(o.ProviderMessageID), deref(o.ErrorCode), deref(o.ErrorReason)
	return r
}

// pollInterval paces pollFinal when no Waiter is wired.
const pollInterval = 100 * time.Millisecond

func (s *Server) pollFinal(ctx context.Context, t Tenant, id string) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		st, err := s.p.Store.Messages().Status(ctx, t.ID, id)
		if err != nil {
			return
		}
		if st.Terminal() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// validateContent checks that content carries what type needs.
func validateContent(typ zapbase.MessageType, c *providers.Content, loc string) *Problem {
	field := func(name, msg string) *Problem {
		return errInvalid("Conteúdo inválido para o tipo "+string(typ)+".", FieldError{Location: loc + "." + name, Message: msg})
	}
	c.Raw = nil      // never accepted from clients
	c.PollVote = nil // inbound only
	switch typ {
	case zapbase.MessageText:
		if strings.TrimSpace(c.Text) == "" {
			return field("text", "obrigatório")
		}
		if len([]rune(c.Text)) > 4096 {
			return field("text", "tamanho máximo 4096")
		}
	case zapbase.MessageImage, zapbase.MessageVideo, zapbase.MessageAudio, zapbase.MessageVoice,
		zapbase.MessageDocument, zapbase.MessageSticker:
		c.MediaPath = "" // only set by uploads through the API
		if c.MediaURL == "" && c.MediaID == "" {
			return field("mediaUrl", "informe mediaUrl ou mediaId")
		}
		if c.MediaURL != "" && !validMediaURL(c.MediaURL) {
			return field("mediaUrl", "URL http(s) absoluta inválida")
		}
		if len([]rune(c.Caption)) > 1024 {
			return field("caption", "tamanho máximo 1024")
		}
	case zapbase.MessageLocation:
		if c.Latitude == nil || c.Longitude == nil {
			return field("latitude", "latitude e longitude são obrigatórias")
		}
		if *c.Latitude < -90 || *c.Latitude > 90 {
			return field("latitude", "entre -90 e 90")
		}
		if *c.Longitude < -180 || *c.Longitude > 180 {
			return field("longitude", "entre -180 e 180")
		}
	case zapbase.MessageContacts:
		if len(c.Contacts) == 0 {
			return field("contacts", "informe ao menos um contato")
		}
	case zapbase.MessageTemplate:
		if c.Template == nil || c.Template.Name == "" || c.Template.Language == "" {
			return field("template", "name e language são obrigatórios")
		}
	case zapbase.MessageInteractive:
		if len(c.Interactive) == 0 || string(c.Interactive) == "null" {
			return field("interactive", "obrigatório")
		}
	case zapbase.MessageReaction:
		if c.TargetMessageID == "" {
			return field("targetMessageId", "obrigatório")
		}
	case zapbase.MessagePoll: // api/polls.go
		if err := c.Poll.Validate(); err != nil {
			return field("poll", err.Error())
		}
	default:
		return errInvalid("Tipo de mensagem não pode ser enviado: "+string(typ), FieldError{Location: "body.type", Message: "tipo não enviável", Value: string(typ)})
	}
	return nil
}

func validMediaURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
