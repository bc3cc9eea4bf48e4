package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// Generic webhook signing: X-Zapbase-Timestamp (unix seconds) and
// X-Zapbase-Signature = "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + raw body)).
const (
	HeaderWebhookTimestamp = "X-Zapbase-Timestamp"
	HeaderWebhookSignature = "X-Zapbase-Signature"
	// webhookSecretName is the wa.tenant_secrets name of the signing secret.
	webhookSecretName = "webhook_secret"
)

// SignWebhook computes the signature header value for body at ts.
func SignWebhook(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a signature in constant time and the timestamp
// against now ± WebhookTolerance (replay protection).
func VerifyWebhook(secret []byte, tsHeader, sigHeader string, body []byte, now time.Time) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(tsHeader), 10, 64)
	if err != nil {
		return errors.New("missing or invalid timestamp")
	}
	skew := now.Sub(time.Unix(ts, 0))
	if skew > WebhookTolerance || skew < -WebhookTolerance {
		return errors.New("timestamp outside tolerance")
	}
	want := SignWebhook(secret, ts, body)
	for _, sig := range strings.Split(sigHeader, ",") { // several during secret rotation
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature mismatch")
}

// IncomingMessageWebhook is the canonical inbound message of an external
// gateway.
type IncomingMessageWebhook struct {
	Session   string            `json:"session" pattern:"^[0-9]{8,15}$" doc:"Número da sessão do tenant que recebeu" example:"5511900000000"`
	MessageID string            `json:"messageId" minLength:"1" maxLength:"256" doc:"Id da mensagem no gateway (idempotência)" example:"gw-123"`
	From      string            `json:"from" minLength:"1" maxLength:"128" doc:"Contato que enviou" example:"5511988887777"`
	PushName  string            `json:"pushName,omitempty" maxLength:"256"`
	Type      string            `json:"type" enum:"text,image,video,audio,voice,document,sticker,location,contacts,interactive,reaction,unsupported" example:"text"`
	Content   providers.Content `json:"content"`
	Timestamp *time.Time        `json:"timestamp,omitempty"`
}

// StatusUpdateWebhook is a receipt from an external gateway.
type StatusUpdateWebhook struct {
	Session     string     `json:"session" pattern:"^[0-9]{8,15}$" doc:"Número da sessão do tenant que enviou" example:"5511900000000"`
	MessageIDs  []string   `json:"messageIds" minItems:"1" maxItems:"1000" doc:"Ids (do provedor) das mensagens" example:"[\"gw-123\"]"`
	Status      string     `json:"status" enum:"sent,delivered,read,played,failed" example:"delivered"`
	Timestamp   *time.Time `json:"timestamp,omitempty"`
	Recipient   string     `json:"recipient,omitempty" maxLength:"128"`
	ErrorCode   string     `json:"errorCode,omitempty" maxLength:"64"`
	ErrorReason string     `json:"errorReason,omitempty" maxLength:"1024"`
}

// WebhookAck answers accepted webhooks.
type WebhookAck struct {
	Accepted bool `json:"accepted" example:"true"`
}

// SupabaseWebhook is the Database Webhook payload.
type SupabaseWebhook struct {
	Type      string         `json:"type" doc:"INSERT, UPDATE ou DELETE" example:"INSERT"`
	Table     string         `json:"table" example:"messages"`
	Schema    string         `json:"schema" example:"public"`
	Record    map[string]any `json:"record" nullable:"true" doc:"Linha nova"`
	OldRecord map[string]any `json:"old_record,omitempty" nullable:"true" doc:"Linha anterior (UPDATE)"`
}

// SupabaseWebhookAck answers POST /webhooks/supabase.
type SupabaseWebhookAck struct {
	Woken int `json:"woken" doc:"Linhas entregues ao despachante"`
}

type signedInput struct {
	// The headers are checked by verifySigned, not by huma: a missing
	// signature is an authentication failure (401), not bad input (422).
	ClientID  string `header:"X-Client-Id" doc:"client_id do tenant (obrigatório)"`
	Timestamp string `header:"X-Zapbase-Timestamp" doc:"Horário Unix (segundos) da assinatura (obrigatório)"`
	Signature string `header:"X-Zapbase-Signature" doc:"sha256=<hex do HMAC-SHA256(segredo, timestamp + \".\" + corpo)> (obrigatório)"`
	RawBody   []byte
}

func (s *Server) registerWebhooks(r *Router) {
	tags := []string{"Webhooks"}
	reg := s.api.OpenAPI().Components.Schemas
	signedDoc := "Assinado com o segredo de webhook do tenant (definido pela administração): cabeçalhos `X-Zapbase-Timestamp` (segundos Unix, tolerância de 5 minutos) e " +
		"`X-Zapbase-Signature: sha256=<hex(HMAC-SHA256(segredo, timestamp + \".\" + corpo bruto))>`. "
	webhookErrors := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity}

	huma.Register(s.v1, huma.Operation{
		OperationID: "webhook-incoming-message", Method: http.MethodPost, Path: "/webhooks/incoming-message", Tags: tags,
		Summary:     "Recebe mensagem de um gateway externo",
		Description: signedDoc + "A mensagem vira uma linha `inbound` em `messages` (idempotente pelo `messageId`).",
		Errors:      webhookErrors, MaxBodyBytes: DefaultBodyLimit, SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[IncomingMessageWebhook](), true, "IncomingMessageWebhook")}}},
	}, func(ctx context.Context, in *signedInput) (*struct{ Body WebhookAck }, error) {
		var body IncomingMessageWebhook
		t, p := s.verifySigned(ctx, in, &body)
		if p != nil {
			return nil, p
		}
		sess, p := s.sessionForWebhook(ctx, t, body.Session)
		if p != nil {
			return nil, p
		}
		m := providers.InboundMessage{TenantID: t.ID, SessionID: sess.ID, Provider: sess.Provider,
			ProviderMessageID: body.MessageID, From: strings.TrimPrefix(body.From, "+"), PushName: body.PushName,
			To: body.Session, Type: zapbase.MessageType(body.Type), Content: body.Content}
		if body.Timestamp != nil {
			m.Timestamp = *body.Timestamp
		}
		if err := s.p.Events.Inbound(ctx, m); err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: t.ID, Action: "webhook.incoming_message", Target: body.MessageID})
		return &struct{ Body WebhookAck }{WebhookAck{Accepted: true}}, nil
	})

	huma.Register(s.v1, huma.Operation{
		OperationID: "webhook-status-update", Method: http.MethodPost, Path: "/webhooks/status-update", Tags: tags,
		Summary:     "Recebe atualização de status de um gateway externo",
		Description: signedDoc + "O status só avança (um recibo atrasado ou repetido é ignorado).",
		Errors:      webhookErrors, MaxBodyBytes: DefaultBodyLimit, SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[StatusUpdateWebhook](), true, "StatusUpdateWebhook")}}},
	}, func(ctx context.Context, in *signedInput) (*struct{ Body WebhookAck }, error) {
		var body StatusUpdateWebhook
		t, p := s.verifySigned(ctx, in, &body)
		if p != nil {
			return nil, p
		}
		sess, p := s.sessionForWebhook(ctx, t, body.Session)
		if p != nil {
			return nil, p
		}
		rc := providers.Receipt{TenantID: t.ID, SessionID: sess.ID, Provider: sess.Provider, ProviderMessageIDs: body.MessageIDs,
			Status: zapbase.Status(body.Status), Recipient: body.Recipient, ErrorCode: body.ErrorCode, ErrorReason: body.ErrorReason}
		if body.Timestamp != nil {
			rc.Timestamp = *body.Timestamp
		}
		if err := s.p.Events.Receipt(ctx, rc); err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: t.ID, Action: "webhook.status_update", Target: body.Status,
			Details: map[string]any{"count": len(body.MessageIDs)}})
		return &struct{ Body WebhookAck }{WebhookAck{Accepted: true}}, nil
	})

	huma.Register(s.v1, huma.Operation{
		OperationID: "webhook-supabase", Method: http.MethodPost, Path: "/webhooks/supabase", Tags: tags,
		Summary: "Recebe um Database Webhook do Supabase",
		Description: "Alternativa ao listener de replicação lógica para hospedagens que não alcançam a conexão direta do banco: configure um Database Webhook " +
			"de INSERT em `public.messages` apontando para esta URL com o cabeçalho `X-Zapbase-Webhook-Secret: <ZAPBASE_SUPABASE_WEBHOOK_SECRET>` " +
			"(ou `Authorization: Bearer <segredo>`). O webhook só acorda o despachante; o envio sempre parte da tabela.",
		Errors:       []int{http.StatusUnauthorized, http.StatusForbidden},
		MaxBodyBytes: DefaultBodyLimit,
		Security:     []map[string][]string{{"supabaseWebhookSecret": {}}},
		Middlewares:  huma.Middlewares{s.supabaseWebhookAuth},
	}, func(ctx context.Context, in *struct {
		Body SupabaseWebhook
	}) (*struct{ Body SupabaseWebhookAck }, error) {
		woken := 0
		if in.Body.Table == "messages" && (in.Body.Type == "INSERT" || in.Body.Type == "UPDATE") && in.Body.Record != nil {
			id, _ := in.Body.Record["id"].(string)
			status, _ := in.Body.Record["status"].(string)
			dir, _ := in.Body.Record["direction"].(string)
			if id != "" && (status == "" || status == string(zapbase.StatusPending)) && (dir == "" || dir == string(zapbase.DirectionOutbound)) {
				if s.p.Waker != nil {
					if err := s.p.Waker.Wake(ctx, []string{id}); err != nil {
						return nil, Internal(err)
					}
				}
				woken = 1
			}
		}
		return &struct{ Body SupabaseWebhookAck }{SupabaseWebhookAck{Woken: woken}}, nil
	})
}

// supabaseWebhookAuth checks the shared secret before the body is read.
func (s *Server) supabaseWebhookAuth(hctx huma.Context, next func(huma.Context)) {
	if s.p.SupabaseWebhookSecret == "" {
		writeHumaProblem(hctx, NewProblem(http.StatusForbidden, zapbase.CodeWebhookDisabled, "Webhook do Supabase desativado: defina ZAPBASE_SUPABASE_WEBHOOK_SECRET."))
		return
	}
	got := hctx.Header("X-Zapbase-Webhook-Secret")
	if got == "" {
		got, _ = bearer(hctx.Header("Authorization"))
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.p.SupabaseWebhookSecret)) != 1 {
		writeHumaProblem(hctx, NewProblem(http.StatusUnauthorized, zapbase.CodeInvalidSignature, "Segredo do webhook inválido."))
		return
	}
	if ri := reqInfoFrom(hctx.Context()); ri != nil {
		ri.actor = "supabase_webhook"
	}
	next(hctx)
}

// verifySigned resolves the tenant, checks the signature over the raw
// body, then decodes and validates the body into dst.
func (s *Server) verifySigned(ctx context.Context, in *signedInput, dst any) (Tenant, *Problem) {
	var t Tenant
	bad := NewProblem(http.StatusUnauthorized, zapbase.CodeInvalidSignature, "Assinatura do webhook inválida ou expirada.")
	if !zapbase.ValidClientID(in.ClientID) || in.Timestamp == "" || in.Signature == "" {
		return t, bad
	}
	row, err := s.p.Store.Tenants().ActiveWithSecret(ctx, in.ClientID, webhookSecretName)
	t.ID, t.ClientID = row.ID, row.ClientID
	keyID, sealed := row.KeyID, row.Ciphertext
	if errors.Is(err, pgx.ErrNoRows) {
		return t, bad
	}
	if err != nil {
		return t, Internal(err)
	}
	if s.p.Box == nil {
		return t, Internal(errors.New("no secret box configured"))
	}
	secret, err := s.p.Box.Open(keyID, sealed, secretAAD(t.ID, webhookSecretName))
	if err != nil {
		return t, Internal(err)
	}
	if err := VerifyWebhook(secret, in.Timestamp, in.Signature, in.RawBody, time.Now()); err != nil {
		return t, bad.WithCause(err)
	}
	if ri := reqInfoFrom(ctx); ri != nil {
		ri.tenantID, ri.actor = t.ID, "webhook:"+t.ClientID
	}
	var v any
	if err := json.Unmarshal(in.RawBody, &v); err != nil {
		return t, NewProblem(http.StatusBadRequest, zapbase.CodeInvalidInput, "JSON inválido.", FieldError{Location: "body", Message: err.Error()})
	}
	if p := s.validateInto(v, dst); p != nil {
		return t, p
	}
	return t, nil
}

func (s *Server) sessionForWebhook(ctx context.Context, t Tenant, phone string) (store.SessionRef, *Problem) {
	ref, err := s.p.Store.Sessions().RefByPhone(ctx, t.ID, phone)
	if errors.Is(err, pgx.ErrNoRows) {
		return ref, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeSessionNotFound, "Sessão não encontrada para este número.",
			FieldError{Location: "body.session", Message: "sessão não encontrada", Value: phone})
	}
	if err != nil {
		return ref, Internal(err)
	}
	return ref, nil
}

// secretAAD binds a sealed tenant secret to its tenant and name.
func secretAAD(tenantID, name string) []byte { return []byte("tenant_secret:" + tenantID + ":" + name) }
