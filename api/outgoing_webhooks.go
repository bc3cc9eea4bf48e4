package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/webhooks"
)

// Outgoing webhooks (webhooks.Store): subscriptions, delivery log, replay.

// WebhookSubscriptionRequest creates a subscription.
type WebhookSubscriptionRequest struct {
	URL         string   `json:"url" minLength:"8" maxLength:"2048" doc:"Endereço que recebe os eventos por POST (http ou https; endereços privados, loopback e link-local são recusados, salvo liberação do operador)" example:"https://n8n.exemplo.com.br/webhook/zapbase"`
	Events      []string `json:"events" minItems:"1" maxItems:"8" enum:"message.received,message.status,session.state,session.qr,ai.reply,call,message.updated,presence" doc:"Eventos desejados: message.received (mensagem recebida), message.status (mudança de status), session.state (estado da sessão), session.qr (QR/código de pareamento), ai.reply (resposta do agente de IA), call (chamada), message.updated (conteúdo alterado), presence (presença)" example:"[\"message.received\",\"message.status\"]"`
	SessionID   string   `json:"sessionId,omitempty" maxLength:"36" doc:"Opcional: só eventos desta sessão (whatsapp_sessions.id)" example:"6f1c2a4e-8d0b-4b7e-9a55-2f8e1d3c4b5a"`
	Description string   `json:"description,omitempty" maxLength:"200" doc:"Nota livre" example:"Fluxo de atendimento no n8n"`
}

// WebhookSubscriptionUpdate changes a subscription; absent fields are kept.
type WebhookSubscriptionUpdate struct {
	URL          *string  `json:"url,omitempty" minLength:"8" maxLength:"2048" doc:"Novo endereço" example:"https://n8n.exemplo.com.br/webhook/zapbase-v2"`
	Events       []string `json:"events,omitempty" minItems:"1" maxItems:"8" enum:"message.received,message.status,session.state,session.qr,ai.reply,call,message.updated,presence" doc:"Nova lista de eventos (substitui a anterior)"`
	SessionID    *string  `json:"sessionId,omitempty" maxLength:"36" doc:"Nova sessão do filtro; \"\" remove o filtro"`
	Description  *string  `json:"description,omitempty" maxLength:"200"`
	IsActive     *bool    `json:"isActive,omitempty" doc:"false pausa a assinatura (as entregas pendentes esperam); true reativa (inclusive depois de um 410 Gone). Eventos do período desativado não são entregues"`
	RotateSecret bool     `json:"rotateSecret,omitempty" doc:"Gera um novo segredo de assinatura, mostrado uma única vez na resposta"`
}

// WebhookSubscription is a subscription as shown by the API (never the
// secret).
type WebhookSubscription struct {
	ID             string     `json:"id" example:"2b0c9a51-7f0e-4d8e-a1f3-6c2e5b9d8a70"`
	URL            string     `json:"url" example:"https://n8n.exemplo.com.br/webhook/zapbase"`
	Events         []string   `json:"events" example:"[\"message.received\",\"message.status\"]"`
	SessionID      string     `json:"sessionId,omitempty"`
	Description    string     `json:"description,omitempty"`
	IsActive       bool       `json:"isActive" example:"true"`
	DisabledReason string     `json:"disabledReason,omitempty" enum:"gone,disabled" doc:"Por que está desativada: gone (o receptor respondeu 410) ou disabled (um usuário desativou)"`
	DisabledAt     *time.Time `json:"disabledAt,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// WebhookSubscriptionWithSecret is the answer of create (and of a secret
// rotation): the only time the secret is shown.
type WebhookSubscriptionWithSecret struct {
	Subscription WebhookSubscription `json:"subscription"`
	Secret       string              `json:"secret,omitempty" doc:"Segredo de assinatura HMAC-SHA256. Mostrado uma única vez: guarde-o agora (o zapbase só guarda a versão cifrada)" example:"whsec_3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`
}

// WebhookDelivery is one entry of the delivery log.
type WebhookDelivery struct {
	ID             string          `json:"id" example:"0d7e1c9a-3b4f-4a2e-8c6d-5f1e2a3b4c5d"`
	SubscriptionID string          `json:"subscriptionId"`
	Event          string          `json:"event" example:"message.received"`
	EventID        string          `json:"eventId" doc:"Id do evento (igual em todas as assinaturas e nos reenvios: use para descartar duplicatas)" example:"48213-1772"`
	State          string          `json:"state" enum:"pending,sending,delivered,dead" doc:"pending (aguardando tentativa), sending (em envio), delivered (o receptor respondeu 2xx), dead (desistimos: janela de novas tentativas esgotada ou 410)"`
	Attempts       int             `json:"attempts" example:"1"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt,omitempty" doc:"Próxima tentativa (somente pending)"`
	LastAttemptAt  *time.Time      `json:"lastAttemptAt,omitempty"`
	LastStatus     *int            `json:"lastStatus,omitempty" doc:"Status HTTP da última resposta (ausente: sem resposta, ex.: tempo esgotado)" example:"200"`
	LastError      string          `json:"lastError,omitempty" doc:"Motivo da última falha" example:"O receptor respondeu HTTP 500."`
	LastResponse   string          `json:"lastResponse,omitempty" doc:"Início (até 1 KiB) do corpo da última resposta"`
	LastDurationMs *int            `json:"lastDurationMs,omitempty" example:"84"`
	DeliveredAt    *time.Time      `json:"deliveredAt,omitempty"`
	DeadAt         *time.Time      `json:"deadAt,omitempty"`
	ReplayOf       string          `json:"replayOf,omitempty" doc:"Entrega original, quando esta é um reenvio"`
	Payload        json.RawMessage `json:"payload" doc:"O corpo JSON enviado"`
	CreatedAt      time.Time       `json:"createdAt"`
}

// WebhookSubscriptionPath is the {subscriptionId} path parameter.
type WebhookSubscriptionPath struct {
	SubscriptionID string `path:"subscriptionId" doc:"Id da assinatura" example:"2b0c9a51-7f0e-4d8e-a1f3-6c2e5b9d8a70"`
}

// WebhookSubscriptionRoutes returns the register func of the outgoing
// webhook endpoints (/api/v1/webhooks/subscriptions, deliveries), to
// append to Params.RegisterFuncs.
func WebhookSubscriptionRoutes(store *webhooks.Store) func(*Router) {
	return func(r *Router) { registerWebhookSubscriptions(r, store) }
}

func toAPISubscription(s webhooks.Subscription) WebhookSubscription {
	return WebhookSubscription{ID: s.ID, URL: s.URL, Events: s.Events, SessionID: s.SessionID, Description: s.Description,
		IsActive: s.IsActive, DisabledReason: s.DisabledReason, DisabledAt: s.DisabledAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

func toAPIDelivery(d webhooks.Delivery) WebhookDelivery {
	return WebhookDelivery{ID: d.ID, SubscriptionID: d.SubscriptionID, Event: d.Event, EventID: d.EventID, State: d.State,
		Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt, LastAttemptAt: d.LastAttemptAt, LastStatus: d.LastStatus,
		LastError: d.LastError, LastResponse: d.LastResponse, LastDurationMs: d.LastDurationMs, DeliveredAt: d.DeliveredAt,
		DeadAt: d.DeadAt, ReplayOf: d.ReplayOf, Payload: d.Payload, CreatedAt: d.CreatedAt}
}

func webhookProblem(err error) *Problem {
	var ze *zapbase.Error
	if !errors.As(err, &ze) {
		return Internal(err)
	}
	status := http.StatusUnprocessableEntity
	switch ze.Code {
	case zapbase.CodeNotFound:
		status = http.StatusNotFound
	case zapbase.CodeConflict:
		status = http.StatusConflict
	}
	return NewProblem(status, ze.Code, ze.Message).WithCause(ze.Cause)
}

const webhooksDescription = `Cada evento é enviado por POST com corpo JSON e os cabeçalhos ` + "`X-Zapbase-Event`, `X-Zapbase-Event-Id`, `X-Zapbase-Delivery`, `X-Zapbase-Timestamp` e `X-Zapbase-Signature: sha256=<hex>`" + `,
o HMAC-SHA256 de ` + "`<timestamp>.<corpo>`" + ` com o segredo da assinatura. Respostas 2xx confirmam; qualquer outra resposta (ou
nenhuma, em 15 s) é tentada de novo com espera exponencial por até 24 h, depois a entrega fica ` + "`dead`" + ` no log. 410 Gone
desativa a assinatura. Eventos de uma mesma conversa chegam em ordem. Veja o README (seção "Webhooks de saída") para
verificar a assinatura no n8n/Node.`

func registerWebhookSubscriptions(r *Router, store *webhooks.Store) {
	tags := []string{"Webhooks de saída"}
	api := r.API()
	manageOnly := func(t Tenant) *Problem {
		if !t.CanManage() {
			return NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "Somente donos e administradores do tenant podem gerenciar webhooks.")
		}
		return nil
	}

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "create-webhook-subscription", Method: http.MethodPost, Path: "/webhooks/subscriptions", Tags: tags,
		Summary:       "Cria uma assinatura de webhook de saída",
		Description:   "Para n8n, Typebot, Make ou qualquer backend. O segredo de assinatura vem **só nesta resposta**.\n\n" + webhooksDescription,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusConflict},
	}), func(ctx context.Context, in *struct{ Body WebhookSubscriptionRequest }) (*struct {
		Body WebhookSubscriptionWithSecret
	}, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		sub, plain, err := store.Create(ctx, t.ID, webhooks.CreateParams{URL: in.Body.URL, Events: in.Body.Events,
			SessionID: in.Body.SessionID, Description: in.Body.Description})
		if err != nil {
			r.Audit(ctx, "webhook_subscription.create", "", "error", map[string]any{"code": zapbase.ErrorCode(err)})
			return nil, webhookProblem(err)
		}
		r.Audit(ctx, "webhook_subscription.create", sub.ID, "ok", map[string]any{"events": sub.Events})
		return &struct{ Body WebhookSubscriptionWithSecret }{WebhookSubscriptionWithSecret{toAPISubscription(sub), plain}}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "list-webhook-subscriptions", Method: http.MethodGet, Path: "/webhooks/subscriptions", Tags: tags,
		Summary: "Lista as assinaturas de webhook do tenant",
	}), func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Subscriptions []WebhookSubscription `json:"subscriptions"`
		}
	}, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		subs, err := store.List(ctx, t.ID)
		if err != nil {
			return nil, webhookProblem(err)
		}
		out := &struct {
			Body struct {
				Subscriptions []WebhookSubscription `json:"subscriptions"`
			}
		}{}
		out.Body.Subscriptions = make([]WebhookSubscription, 0, len(subs))
		for _, s := range subs {
			out.Body.Subscriptions = append(out.Body.Subscriptions, toAPISubscription(s))
		}
		return out, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "get-webhook-subscription", Method: http.MethodGet, Path: "/webhooks/subscriptions/{subscriptionId}", Tags: tags,
		Summary: "Mostra uma assinatura de webhook",
		Errors:  []int{http.StatusNotFound},
	}), func(ctx context.Context, in *WebhookSubscriptionPath) (*struct{ Body WebhookSubscription }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		sub, err := store.Get(ctx, t.ID, in.SubscriptionID)
		if err != nil {
			return nil, webhookProblem(err)
		}
		return &struct{ Body WebhookSubscription }{toAPISubscription(sub)}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "update-webhook-subscription", Method: http.MethodPut, Path: "/webhooks/subscriptions/{subscriptionId}", Tags: tags,
		Summary:     "Altera uma assinatura de webhook",
		Description: "Campos ausentes ficam como estão. `rotateSecret: true` gera um novo segredo (mostrado só nesta resposta; o antigo deixa de valer na hora). `isActive: true` reativa uma assinatura desativada por 410 Gone.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		WebhookSubscriptionPath
		Body WebhookSubscriptionUpdate
	}) (*struct{ Body WebhookSubscriptionWithSecret }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		b := in.Body
		sub, plain, err := store.Update(ctx, t.ID, in.SubscriptionID, webhooks.UpdateParams{URL: b.URL, Events: b.Events,
			SessionID: b.SessionID, Description: b.Description, IsActive: b.IsActive, RotateSecret: b.RotateSecret})
		if err != nil {
			r.Audit(ctx, "webhook_subscription.update", in.SubscriptionID, "error", map[string]any{"code": zapbase.ErrorCode(err)})
			return nil, webhookProblem(err)
		}
		r.Audit(ctx, "webhook_subscription.update", sub.ID, "ok", map[string]any{"rotateSecret": b.RotateSecret, "isActive": sub.IsActive})
		return &struct{ Body WebhookSubscriptionWithSecret }{WebhookSubscriptionWithSecret{toAPISubscription(sub), plain}}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "delete-webhook-subscription", Method: http.MethodDelete, Path: "/webhooks/subscriptions/{subscriptionId}", Tags: tags,
		Summary:       "Remove uma assinatura de webhook",
		Description:   "Remove também o log de entregas dela; entregas pendentes não são mais tentadas.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}), func(ctx context.Context, in *WebhookSubscriptionPath) (*struct{}, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		if err := store.Delete(ctx, t.ID, in.SubscriptionID); err != nil {
			return nil, webhookProblem(err)
		}
		r.Audit(ctx, "webhook_subscription.delete", in.SubscriptionID, "ok", nil)
		return nil, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/webhooks/subscriptions/{subscriptionId}/deliveries", Tags: tags,
		Summary:     "Log de entregas de uma assinatura",
		Description: "Mais recentes primeiro, com o status e o início da última resposta. Pagine com `cursor` (o `nextCursor` da página anterior).",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		WebhookSubscriptionPath
		State  string `query:"state" enum:"pending,sending,delivered,dead" doc:"Filtra por estado"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Itens por página"`
		Cursor string `query:"cursor" maxLength:"20" doc:"nextCursor da página anterior"`
	}) (*struct {
		Body struct {
			Deliveries []WebhookDelivery `json:"deliveries"`
			NextCursor string            `json:"nextCursor,omitempty" doc:"Presente quando há mais entregas"`
		}
	}, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		page, err := store.ListDeliveries(ctx, t.ID, in.SubscriptionID, webhooks.ListDeliveriesParams{State: in.State, Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, webhookProblem(err)
		}
		out := &struct {
			Body struct {
				Deliveries []WebhookDelivery `json:"deliveries"`
				NextCursor string            `json:"nextCursor,omitempty" doc:"Presente quando há mais entregas"`
			}
		}{}
		out.Body.Deliveries = make([]WebhookDelivery, 0, len(page.Deliveries))
		for _, d := range page.Deliveries {
			out.Body.Deliveries = append(out.Body.Deliveries, toAPIDelivery(d))
		}
		out.Body.NextCursor = page.NextCursor
		return out, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "replay-webhook-delivery", Method: http.MethodPost, Path: "/webhooks/deliveries/{deliveryId}/replay", Tags: tags,
		Summary:       "Reenvia uma entrega",
		Description:   "Cria uma nova entrega com o mesmo corpo e o mesmo `eventId` (o receptor pode descartar duplicatas por ele), assinada na hora do envio. Só para entregas `delivered` ou `dead`; ela respeita a ordem da conversa e espera a assinatura estar ativa.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusNotFound, http.StatusConflict},
	}), func(ctx context.Context, in *struct {
		DeliveryID string `path:"deliveryId" doc:"Id da entrega" example:"0d7e1c9a-3b4f-4a2e-8c6d-5f1e2a3b4c5d"`
	}) (*struct{ Body WebhookDelivery }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		d, err := store.Replay(ctx, t.ID, in.DeliveryID)
		if err != nil {
			return nil, webhookProblem(err)
		}
		r.Audit(ctx, "webhook_delivery.replay", d.ID, "ok", map[string]any{"replayOf": in.DeliveryID})
		return &struct{ Body WebhookDelivery }{toAPIDelivery(d)}, nil
	})
}
