package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/store"
)

// Tenant is the authenticated caller's tenant, in the request context of
// every operation registered with Router.Tenant.
type Tenant struct {
	ID                 string
	ClientID           string
	Name               string
	DefaultProvider    zapbase.ProviderType
	RateLimitPerMinute int
	// Actor names the caller for the audit log: "user:<uuid>" or
	// "api_key:<id>".
	Actor string
	// UserID is set for JWT callers.
	UserID string
	// Role is the member role (API keys act as admin).
	Role zapbase.MemberRole
}

// CanManage reports whether the caller may change tenant settings.
func (t Tenant) CanManage() bool { return t.Role == zapbase.RoleOwner || t.Role == zapbase.RoleAdmin }

type tenantKey struct{}

// TenantFromContext returns the authenticated tenant of a request.
func TenantFromContext(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(Tenant)
	return t, ok
}

// MustTenant returns the tenant of an operation registered with
// Router.Tenant (it panics elsewhere: a wiring bug).
func MustTenant(ctx context.Context) Tenant {
	t, ok := TenantFromContext(ctx)
	if !ok {
		panic("api: no tenant in context (operation not registered with Router.Tenant)")
	}
	return t
}

// APIKeyPrefix starts every tenant API key.
const APIKeyPrefix = "zb_"

var tenantErrors = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests}

func (s *Server) tenantOp(op huma.Operation) huma.Operation {
	op.Security = []map[string][]string{{"supabaseJWT": {}, "clientId": {}}, {"apiKey": {}}}
	op.Middlewares = append(huma.Middlewares{s.tenantAuth}, op.Middlewares...)
	op.Errors = mergeErrors(op.Errors, tenantErrors)
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = DefaultBodyLimit
	}
	return op
}

func (s *Server) adminOp(op huma.Operation) huma.Operation {
	op.Security = []map[string][]string{{"adminToken": {}}}
	op.Middlewares = append(huma.Middlewares{s.adminAuth}, op.Middlewares...)
	op.Errors = mergeErrors(op.Errors, []int{http.StatusUnauthorized, http.StatusUnprocessableEntity})
	op.Tags = []string{"Administração"}
	return op
}

func mergeErrors(a, b []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, c := range append(a, b...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// tenantAuth authenticates the caller, resolves its tenant, applies the
// rate limit and puts the Tenant in the context.
func (s *Server) tenantAuth(hctx huma.Context, next func(huma.Context)) {
	ctx := hctx.Context()
	t, p := s.authenticate(ctx, hctx.Header("Authorization"), hctx.Header("X-API-Key"), hctx.Header("X-Client-Id"))
	if p != nil {
		writeHumaProblem(hctx, p)
		return
	}
	if ri := reqInfoFrom(ctx); ri != nil {
		ri.tenantID, ri.actor = t.ID, t.Actor
	}
	if p := s.rateLimit(ctx, t); p != nil {
		writeHumaProblem(hctx, p)
		return
	}
	next(huma.WithValue(hctx, tenantKey{}, t))
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func errUnauthorized(msg string) *Problem {
	p := NewProblem(http.StatusUnauthorized, zapbase.CodeUnauthorized, msg)
	p.GetHeaders().Set("WWW-Authenticate", `Bearer realm="zapbase"`)
	return p
}

func (s *Server) authenticate(ctx context.Context, authz, apiKey, clientID string) (Tenant, *Problem) {
	tok, hasBearer := bearer(authz)
	if apiKey == "" && hasBearer && strings.HasPrefix(tok, APIKeyPrefix) {
		apiKey = tok
	}
	if apiKey != "" {
		return s.authenticateAPIKey(ctx, apiKey, clientID)
	}
	if !hasBearer {
		return Tenant{}, errUnauthorized("Autenticação ausente: envie Authorization: Bearer <JWT do Supabase> com X-Client-Id, ou X-API-Key.")
	}
	if s.p.Verifier == nil {
		return Tenant{}, errUnauthorized("Autenticação por JWT não está configurada neste servidor; use X-API-Key.")
	}
	claims, err := s.p.Verifier.Verify(ctx, tok)
	if err != nil {
		return Tenant{}, errUnauthorized("Token inválido ou expirado.").WithCause(err)
	}
	if clientID == "" {
		return Tenant{}, NewProblem(http.StatusBadRequest, zapbase.CodeMissingClientID,
			"Cabeçalho X-Client-Id obrigatório: informe o client_id do tenant.",
			FieldError{Location: "header.X-Client-Id", Message: "obrigatório"})
	}
	if !zapbase.ValidClientID(clientID) {
		return Tenant{}, NewProblem(http.StatusUnauthorized, zapbase.CodeUnknownTenant, "Tenant desconhecido.")
	}
	row, err := s.p.Store.Tenants().AuthForUser(ctx, clientID, claims.UserID())
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, NewProblem(http.StatusUnauthorized, zapbase.CodeUnknownTenant, "Tenant desconhecido.")
	}
	if err != nil {
		return Tenant{}, Internal(err)
	}
	t := Tenant{ID: row.ID, ClientID: row.ClientID, Name: row.Name, DefaultProvider: row.DefaultProvider,
		RateLimitPerMinute: row.RateLimitPerMinute}
	role, active := row.Role, row.IsActive
	if role == nil {
		return Tenant{}, NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "Você não é membro deste tenant.")
	}
	if !active {
		return Tenant{}, NewProblem(http.StatusForbidden, zapbase.CodeTenantInactive, "Este tenant está desativado.")
	}
	t.Role = zapbase.MemberRole(*role)
	t.UserID = claims.UserID()
	t.Actor = "user:" + t.UserID
	return t, nil
}

// hashAPIKey is how keys are stored (SHA-256; keys are 256-bit random, so
// a slow hash adds nothing).
func hashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

func (s *Server) authenticateAPIKey(ctx context.Context, key, clientID string) (Tenant, *Problem) {
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) > 200 {
		return Tenant{}, errUnauthorized("Chave de API inválida.")
	}
	k, err := s.p.Store.APIKeys().Use(ctx, hashAPIKey(key))
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, errUnauthorized("Chave de API inválida ou revogada.")
	}
	if err != nil {
		return Tenant{}, Internal(err)
	}
	t := Tenant{ID: k.ID, ClientID: k.ClientID, Name: k.Name, DefaultProvider: k.DefaultProvider,
		RateLimitPerMinute: k.RateLimitPerMinute}
	keyID, active := k.KeyID, k.IsActive
	if clientID != "" && clientID != t.ClientID {
		return Tenant{}, NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "A chave de API não pertence ao tenant informado em X-Client-Id.")
	}
	if !active {
		return Tenant{}, NewProblem(http.StatusForbidden, zapbase.CodeTenantInactive, "Este tenant está desativado.")
	}
	t.Role = zapbase.RoleAdmin
	t.Actor = "api_key:" + keyID
	return t, nil
}

func (s *Server) adminAuth(hctx huma.Context, next func(huma.Context)) {
	if s.p.AdminToken == "" {
		writeHumaProblem(hctx, NewProblem(http.StatusForbidden, zapbase.CodeAdminDisabled,
			"A administração está desativada: defina ZAPBASE_ADMIN_TOKEN."))
		return
	}
	tok, ok := bearer(hctx.Header("Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.p.AdminToken)) != 1 {
		writeHumaProblem(hctx, errUnauthorized("Credencial de administração inválida."))
		return
	}
	if ri := reqInfoFrom(hctx.Context()); ri != nil {
		ri.actor = "admin"
	}
	next(hctx)
}

// Rate limiting: GCRA over wa.rate_limits (store.RateLimitQuery). A
// tenant may burst its whole per-minute allowance, then one request every
// 60s/limit.
const rateWindow = time.Minute

func (s *Server) rateLimit(ctx context.Context, t Tenant) *Problem {
	limit := t.RateLimitPerMinute
	if limit <= 0 {
		limit = zapbase.DefaultRateLimitPerMinute
	}
	interval := rateWindow.Seconds() / float64(limit)
	err := s.p.Store.RateLimits().Take(ctx, t.ID, interval, rateWindow.Seconds())
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		// Fail open: the limit protects capacity; an outage of the limiter
		// must not take the API down with it. The cause is logged.
		if ri := reqInfoFrom(ctx); ri != nil {
			ri.err = err
		}
		return nil
	}
	wait, _ := s.p.Store.RateLimits().RetryAfter(ctx, t.ID, interval, rateWindow.Seconds())
	secs := int(math.Ceil(wait))
	if secs < 1 {
		secs = 1
	}
	return NewProblem(http.StatusTooManyRequests, zapbase.CodeRateLimited,
		"Limite de requisições do tenant excedido; tente novamente em alguns segundos.").WithRetryAfter(secs)
}

// Audit log.

type auditEntry struct {
	TenantID string
	Action   string
	Target   string
	Result   string
	Details  map[string]any
}

// audit writes e through st: the server's store, or one bound to the
// transaction of the change it records. A failure is logged, never
// answered.
func (s *Server) audit(ctx context.Context, st *store.Store, e auditEntry) {
	ri := reqInfoFrom(ctx)
	actor, reqID := "system", ""
	if ri != nil {
		reqID = ri.id
		if ri.actor != "" {
			actor = ri.actor
		}
	}
	if e.TenantID == "" {
		if t, ok := TenantFromContext(ctx); ok {
			e.TenantID = t.ID
		}
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	if e.Result == "" {
		e.Result = "ok"
	}
	details, _ := json.Marshal(e.Details)
	if err := st.AuditLog().Insert(ctx, store.AuditParams{TenantID: nullIfEmpty(e.TenantID), Actor: actor, Action: e.Action,
		Target: nullIfEmpty(e.Target), RequestID: nullIfEmpty(reqID), Result: e.Result, Details: details}); err != nil {
		s.log.Error("write audit log", "error", err, "action", e.Action, "tenant_id", e.TenantID, "request_id", reqID)
	}
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
