package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/media"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
)

// Limits and defaults of the HTTP surface.
const (
	// Prefix of the versioned API.
	Prefix = "/api/v1"
	// DefaultBodyLimit bounds JSON bodies (huma answers 413 above it).
	DefaultBodyLimit = 1 << 20
	// MaxMediaUploadBytes bounds a media upload through the API; larger
	// files are sent by URL.
	MaxMediaUploadBytes = 25 << 20
	// RequestTimeout bounds one request (a send waits at most SendWait).
	RequestTimeout = 60 * time.Second
	// MaxBulkMessages is the documented limit of POST /messages/send-bulk.
	MaxBulkMessages = 100
	// DefaultSendWait is how long a single send waits for sent/failed.
	DefaultSendWait = 5 * time.Second
	// WebhookTolerance is the accepted clock skew of signed webhooks.
	WebhookTolerance = 5 * time.Minute
)

// Waiter waits until an outbound row reaches a final send state (sent or
// failed, or later ones) and returns it. dispatch implements it; when nil
// the API polls the row.
type Waiter interface {
	WaitFinal(ctx context.Context, rowID string) (zapbase.Status, error)
}

// Waker wakes the dispatcher for rows it may not have seen (Supabase
// Database Webhooks). dispatch implements it.
type Waker interface {
	Wake(ctx context.Context, rowIDs []string) error
}

// TokenVerifier verifies Supabase user JWTs (supabase.Verifier).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*supabase.Claims, error)
}

// Mount is a raw handler mounted on the mux with the common middleware
// (request id, access log, recovery, body limit). Pattern uses ServeMux
// syntax, e.g. "POST /api/v1/webhooks/meta".
type Mount struct {
	Pattern string
	Handler http.Handler
	// BodyLimit overrides DefaultBodyLimit (bytes).
	BodyLimit int64
}

// Params wire the HTTP surface.
type Params struct {
	// Store runs every query of the API.
	Store *store.Store
	// Pool is not queried by the API: it builds the default Events sink
	// and is what Router.Pool gives the operations of other packages.
	Pool        *pgxpool.Pool
	Logger      *slog.Logger
	ReadyChecks []ReadyCheck
	// Providers are the registered providers by type; sessions are
	// delegated to the ones implementing providers.SessionManager.
	Providers map[zapbase.ProviderType]providers.Provider
	// Events receives generic-webhook events (default dispatch.NewEvents).
	Events providers.EventSink
	Waiter Waiter
	Waker  Waker
	// Verifier checks user JWTs; nil disables JWT auth (API keys only).
	Verifier TokenVerifier
	// Box encrypts tenant webhook secrets at rest.
	Box   *secret.Box
	Media media.Store
	// AdminToken is the service credential of /api/v1/admin ("" disables).
	AdminToken string
	// SupabaseWebhookSecret authenticates POST /webhooks/supabase ("" disables).
	SupabaseWebhookSecret string
	// SendWait bounds the wait of single sends (0: DefaultSendWait; <0: no wait).
	SendWait time.Duration
	// Mounts are raw handlers of other packages (Meta webhook, /metrics).
	Mounts []Mount
	// RegisterFuncs add huma operations of other packages (agents...).
	RegisterFuncs []func(*Router)
	// Version is shown in the OpenAPI document.
	Version string
	// EventHub feeds GET /events (nil: one is made; close it on shutdown).
	EventHub *EventHub
}

// Server is the HTTP surface.
type Server struct {
	p       Params
	log     *slog.Logger
	api     huma.API
	v1      *huma.Group
	mux     *http.ServeMux
	handler http.Handler
	tracer  trace.Tracer
	events  *EventHub
}

// NewHandler returns the root HTTP handler.
func NewHandler(p Params) http.Handler { return New(p).handler }

// New builds the server.
func New(p Params) *Server {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Events == nil && p.Pool != nil {
		p.Events = dispatch.NewEvents(p.Pool)
	}
	if p.SendWait == 0 {
		p.SendWait = DefaultSendWait
	}
	if p.Version == "" {
		p.Version = "1.0.0"
	}
	hookHumaErrors()
	s := &Server{p: p, log: p.Logger, mux: http.NewServeMux(), tracer: otel.Tracer("github.com/zapbase/zapbase/api")}
	s.events = p.EventHub
	if s.events == nil {
		s.events = NewEventHub(p.Store, p.Logger, 0)
	}
	s.api = humago.New(s.mux, s.humaConfig())
	s.v1 = huma.NewGroup(s.api, Prefix)

	s.mux.HandleFunc("GET /healthz", healthHandler)
	s.mux.HandleFunc("GET /readyz", readyHandler(p.ReadyChecks))
	s.mux.HandleFunc("GET /docs", docsPage)
	s.mux.HandleFunc("GET /docs/{file}", docsAsset)

	r := &Router{s: s}
	// Live events and the console's read endpoints (issue 20).
	s.registerEvents(r)
	s.registerConsoleAPI(r)
	s.registerSessions(r)
	s.registerMessages(r)
	s.registerTenant(r)
	s.registerWebhooks(r)
	s.registerAdmin(r)
	// Groups, chats, polls, contact profiles, session settings (issue 21).
	s.registerGroups(r)
	s.registerChats(r)
	s.registerPolls(r)
	s.registerContactProfile(r)
	s.registerSessionSettings(r)
	s.registerSandboxSim(r)
	s.registerPasskey(r)
	s.registerContacts(r)
	s.registerMessageEdits(r)
	for _, f := range p.RegisterFuncs {
		f(r)
	}
	for _, m := range p.Mounts {
		limit := m.BodyLimit
		if limit == 0 {
			limit = DefaultBodyLimit
		}
		s.mux.Handle(m.Pattern, limitBody(m.Handler, limit))
	}
	s.handler = s.middleware(problemMux(s.mux))
	return s
}

func (s *Server) humaConfig() huma.Config {
	cfg := huma.DefaultConfig("zapbase API", s.p.Version)
	cfg.CreateHooks = nil // no $schema links in bodies
	cfg.DocsPath = ""     // our own Scalar page, no CDN
	cfg.OpenAPIPath = "/openapi"
	cfg.Info.Description = apiDescription
	cfg.Info.License = &huma.License{Name: "MIT"}
	cfg.Servers = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"supabaseJWT": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "JWT de usuário do Supabase Auth (`Authorization: Bearer <access_token>`). Use junto com `X-Client-Id`."},
		"clientId": {Type: "apiKey", In: "header", Name: "X-Client-Id",
			Description: "client_id do tenant em nome do qual o usuário age (ele precisa ser membro)."},
		"apiKey": {Type: "apiKey", In: "header", Name: "X-API-Key",
			Description: "Chave de API do tenant (`zb_...`), para integrações servidor-a-servidor. Também aceita como `Authorization: Bearer zb_...`."},
		"supabaseWebhookSecret": {Type: "apiKey", In: "header", Name: "X-Zapbase-Webhook-Secret",
			Description: "Segredo compartilhado `ZAPBASE_SUPABASE_WEBHOOK_SECRET` do Database Webhook."},
		"adminToken": {Type: "http", Scheme: "bearer",
			Description: "Credencial de serviço `ZAPBASE_ADMIN_TOKEN` (somente endpoints /admin)."},
	}
	cfg.Transformers = append(cfg.Transformers, func(hctx huma.Context, _ string, v any) (any, error) {
		if p, ok := v.(*Problem); ok {
			annotate(hctx.Context(), p)
		}
		return v, nil
	})
	return cfg
}

// Router lets packages add operations under /api/v1 with the same auth,
// rate limit, audit and problem shape:
//
//	func(r *api.Router) {
//		huma.Register(r.API(), r.Tenant(huma.Operation{
//			OperationID: "list-agents", Method: http.MethodGet, Path: "/agents",
//			Summary: "Lista agentes", Tags: []string{"Agentes"},
//		}), func(ctx context.Context, in *struct{}) (*Out, error) {
//			t := api.MustTenant(ctx)
//			...
//		})
//	}
type Router struct{ s *Server }

// API is the /api/v1 group; paths are relative to it.
func (r *Router) API() huma.API { return r.s.v1 }

// Tenant decorates op with tenant authentication (JWT + X-Client-Id or
// API key), the per-tenant rate limit and the documented error answers.
func (r *Router) Tenant(op huma.Operation) huma.Operation { return r.s.tenantOp(op) }

// Admin decorates op with the admin credential check.
func (r *Router) Admin(op huma.Operation) huma.Operation { return r.s.adminOp(op) }

// Audit records a mutation of the request's tenant in wa.audit_log.
// details must not contain secrets.
func (r *Router) Audit(ctx context.Context, action, target, result string, details map[string]any) {
	r.s.audit(ctx, r.s.p.Store, auditEntry{Action: action, Target: target, Result: result, Details: details})
}

// Pool is the database pool (for operations of other packages that are
// built on a pool).
func (r *Router) Pool() *pgxpool.Pool { return r.s.p.Pool }

// Store is the data layer (for operations of other packages).
func (r *Router) Store() *store.Store { return r.s.p.Store }

// Handle mounts a raw handler (same as Params.Mounts).
func (r *Router) Handle(m Mount) {
	limit := m.BodyLimit
	if limit == 0 {
		limit = DefaultBodyLimit
	}
	r.s.mux.Handle(m.Pattern, limitBody(m.Handler, limit))
}

func limitBody(h http.Handler, n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
}

const apiDescription = `API HTTP do **zapbase**, o sidecar de WhatsApp para Supabase.

Toda mensagem enviada pela API vira uma linha em ` + "`public.messages`" + ` com status ` + "`pending`" + `: é o mesmo caminho
de uma linha inserida pelo supabase-js. O despachante entrega a mensagem ao provedor (WhatsApp Web ` + "`baileys`" + `,
API oficial ` + "`meta_api`" + ` ou ` + "`sandbox`" + `) e o status evolui ` + "`pending → sending → sent → delivered → read`" + ` (ou ` + "`failed`" + `).

## Autenticação
- **Usuários do Supabase:** ` + "`Authorization: Bearer <JWT do Supabase Auth>`" + ` e ` + "`X-Client-Id: <client_id do tenant>`" + `.
  O JWT é validado localmente (JWKS ES256/RS256 ou segredo HS256 legado; ` + "`iss`, `aud`, `exp`" + ` conferidos) e o usuário
  precisa ser membro do tenant. Sem ` + "`X-Client-Id`" + ` → 400; token inválido ou tenant desconhecido → 401; não membro → 403.
- **Servidores:** chave de API do tenant em ` + "`X-API-Key: zb_...`" + ` (ou ` + "`Authorization: Bearer zb_...`" + `).
- **Administração:** ` + "`Authorization: Bearer <ZAPBASE_ADMIN_TOKEN>`" + ` nos endpoints ` + "`/api/v1/admin`" + `.

## Erros
Todos os erros seguem a RFC 9457 (` + "`application/problem+json`" + `) com ` + "`code`" + ` estável em inglês (snake_case),
` + "`message`" + ` em português e ` + "`errors`" + ` por campo quando a entrada é inválida.

## Limites
Cada tenant tem um limite de requisições por minuto (padrão 100; ` + "`429`" + ` com ` + "`Retry-After`" + ` acima dele).
Envio em lote: até 100 mensagens por requisição. Corpo JSON: até 1 MiB; upload de mídia: até 25 MiB.`
