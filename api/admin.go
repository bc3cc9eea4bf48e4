package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/pgerr"
	"github.com/zapbase/zapbase/store"
)

// CreateTenantRequest is POST /admin/tenants.
type CreateTenantRequest struct {
	ClientID           string `json:"clientId" pattern:"^[a-z0-9][a-z0-9_-]{1,62}$" doc:"Identificador do tenant (minúsculas, dígitos, _ e -)" example:"acme"`
	Name               string `json:"name" minLength:"1" maxLength:"200" example:"ACME Ltda"`
	DefaultProvider    string `json:"defaultProvider,omitempty" enum:"baileys,meta_api,sandbox,auto" default:"auto"`
	RateLimitPerMinute int    `json:"rateLimitPerMinute,omitempty" minimum:"1" maximum:"100000" doc:"Padrão 100"`
	MaxSessions        int    `json:"maxSessions,omitempty" minimum:"1" maximum:"10000" doc:"Padrão 10"`
}

// TenantInfo describes a tenant.
type TenantInfo struct {
	ID                 string    `json:"id"`
	ClientID           string    `json:"clientId"`
	Name               string    `json:"name"`
	DefaultProvider    string    `json:"defaultProvider"`
	RateLimitPerMinute int       `json:"rateLimitPerMinute"`
	MaxSessions        int       `json:"maxSessions"`
	IsActive           bool      `json:"isActive"`
	CreatedAt          time.Time `json:"createdAt"`
}

// AddMemberRequest is POST /admin/tenants/{clientId}/members.
type AddMemberRequest struct {
	UserID string `json:"userId" format:"uuid" doc:"Id do usuário no Supabase Auth (auth.users.id)"`
	Role   string `json:"role,omitempty" enum:"owner,admin,member" default:"member"`
}

// Member describes a membership.
type Member struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

// CreateAPIKeyRequest is POST /admin/tenants/{clientId}/api-keys.
type CreateAPIKeyRequest struct {
	Name string `json:"name" minLength:"1" maxLength:"120" example:"backend-crm"`
}

// APIKeyCreated is shown once: only a hash is stored.
type APIKeyCreated struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix" doc:"Início da chave, para reconhecê-la depois"`
	Key       string    `json:"key" doc:"A chave completa. Guarde agora: ela não será mostrada de novo."`
	CreatedAt time.Time `json:"createdAt"`
}

// WebhookSecretRequest is PUT /admin/tenants/{clientId}/webhook-secret.
type WebhookSecretRequest struct {
	Secret string `json:"secret,omitempty" minLength:"32" maxLength:"256" doc:"Segredo a usar; vazio gera um aleatório"`
}

// WebhookSecretSet is shown once.
type WebhookSecretSet struct {
	Secret string `json:"secret" doc:"O segredo de assinatura. Guarde agora: ele não será mostrado de novo."`
}

// AdminTenantPath names the tenant of admin operations.
type AdminTenantPath struct {
	ClientID string `path:"clientId" pattern:"^[a-z0-9][a-z0-9_-]{1,62}$" doc:"client_id do tenant"`
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) registerAdmin(r *Router) {
	huma.Register(s.v1, s.adminOp(huma.Operation{
		OperationID: "admin-create-tenant", Method: http.MethodPost, Path: "/admin/tenants",
		Summary: "Cria um tenant", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *struct{ Body CreateTenantRequest }) (*struct{ Body TenantInfo }, error) {
		b := in.Body
		if b.DefaultProvider == "" {
			b.DefaultProvider = string(zapbase.ProviderAuto)
		}
		if b.RateLimitPerMinute == 0 {
			b.RateLimitPerMinute = zapbase.DefaultRateLimitPerMinute
		}
		if b.MaxSessions == 0 {
			b.MaxSessions = 10
		}
		row, err := s.p.Store.Tenants().Create(ctx, store.CreateTenantParams{ClientID: b.ClientID, Name: b.Name,
			DefaultProvider: b.DefaultProvider, RateLimitPerMinute: b.RateLimitPerMinute, MaxSessions: b.MaxSessions})
		if isUniqueViolation(err) {
			return nil, NewProblem(http.StatusConflict, zapbase.CodeTenantExists, "Já existe um tenant com este clientId.",
				FieldError{Location: "body.clientId", Message: "já existe", Value: b.ClientID})
		}
		if err != nil {
			return nil, Internal(err)
		}
		t := TenantInfo(row)
		s.audit(ctx, s.p.Store, auditEntry{TenantID: t.ID, Action: "admin.tenant.create", Target: t.ClientID})
		return &struct{ Body TenantInfo }{t}, nil
	})

	huma.Register(s.v1, s.adminOp(huma.Operation{
		OperationID: "admin-add-member", Method: http.MethodPost, Path: "/admin/tenants/{clientId}/members",
		Summary: "Adiciona (ou altera o papel de) um membro do tenant", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AdminTenantPath
		Body AddMemberRequest
	}) (*struct{ Body Member }, error) {
		tid, p := s.tenantID(ctx, in.ClientID)
		if p != nil {
			return nil, p
		}
		role := in.Body.Role
		if role == "" {
			role = string(zapbase.RoleMember)
		}
		err := s.p.Store.Members().Upsert(ctx, tid, in.Body.UserID, role)
		if pgerr.IsForeignKeyViolation(err) {
			return nil, errNotFound(zapbase.CodeUserNotFound, "Usuário não encontrado no Supabase Auth.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: tid, Action: "admin.member.add", Target: in.Body.UserID, Details: map[string]any{"role": role}})
		return &struct{ Body Member }{Member{UserID: in.Body.UserID, Role: role}}, nil
	})

	huma.Register(s.v1, s.adminOp(huma.Operation{
		OperationID: "admin-remove-member", Method: http.MethodDelete, Path: "/admin/tenants/{clientId}/members/{userId}",
		Summary: "Remove um membro do tenant", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AdminTenantPath
		UserID string `path:"userId" format:"uuid"`
	}) (*struct{}, error) {
		tid, p := s.tenantID(ctx, in.ClientID)
		if p != nil {
			return nil, p
		}
		removed, err := s.p.Store.Members().Remove(ctx, tid, in.UserID)
		if err != nil {
			return nil, Internal(err)
		}
		if !removed {
			return nil, errNotFound(zapbase.CodeMemberNotFound, "Este usuário não é membro do tenant.")
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: tid, Action: "admin.member.remove", Target: in.UserID})
		return nil, nil
	})

	huma.Register(s.v1, s.adminOp(huma.Operation{
		OperationID: "admin-create-api-key", Method: http.MethodPost, Path: "/admin/tenants/{clientId}/api-keys",
		Summary: "Cria uma chave de API do tenant", Description: "A chave é mostrada uma única vez; só o hash SHA-256 é guardado.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AdminTenantPath
		Body CreateAPIKeyRequest
	}) (*struct{ Body APIKeyCreated }, error) {
		tid, p := s.tenantID(ctx, in.ClientID)
		if p != nil {
			return nil, p
		}
		key := APIKeyPrefix + randomToken(32)
		out := APIKeyCreated{Name: in.Body.Name, Key: key, Prefix: key[:len(APIKeyPrefix)+8]}
		var err error
		out.ID, out.CreatedAt, err = s.p.Store.APIKeys().Create(ctx, store.CreateAPIKeyParams{TenantID: tid, Name: in.Body.Name,
			Prefix: out.Prefix, Hash: hashAPIKey(key)})
		if err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: tid, Action: "admin.api_key.create", Target: out.ID,
			Details: map[string]any{"name": out.Name, "prefix": out.Prefix}})
		return &struct{ Body APIKeyCreated }{out}, nil
	})

	huma.Register(s.v1, s.adminOp(huma.Operation{
		OperationID: "admin-revoke-api-key", Method: http.MethodDelete, Path: "/admin/tenants/{clientId}/api-keys/{keyId}",
		Summary: "Revoga uma chave de API", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AdminTenantPath
		KeyID string `path:"keyId" format:"uuid"`
	}) (*struct{}, error) {
		tid, p := s.tenantID(ctx, in.ClientID)
		if p != nil {
			return nil, p
		}
		revoked, err := s.p.Store.APIKeys().Revoke(ctx, tid, in.KeyID)
		if err != nil {
			return nil, Internal(err)
		}
		if !revoked {
			return nil, errNotFound(zapbase.CodeAPIKeyNotFound, "Chave de API não encontrada (ou já revogada).")
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: tid, Action: "admin.api_key.revoke", Target: in.KeyID})
		return nil, nil
	})

	huma.Register(s.v1, s.adminOp(huma.Operation{
		OperationID: "admin-set-webhook-secret", Method: http.MethodPut, Path: "/admin/tenants/{clientId}/webhook-secret",
		Summary:     "Define ou troca o segredo de webhook do tenant",
		Description: "Usado para assinar `/webhooks/incoming-message` e `/webhooks/status-update`. Guardado cifrado (AES-256-GCM); mostrado uma única vez.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AdminTenantPath
		Body *WebhookSecretRequest `required:"false"`
	}) (*struct{ Body WebhookSecretSet }, error) {
		tid, p := s.tenantID(ctx, in.ClientID)
		if p != nil {
			return nil, p
		}
		secret := ""
		if in.Body != nil {
			secret = in.Body.Secret
		}
		if secret == "" {
			secret = "whsec_" + randomToken(32)
		}
		if s.p.Box == nil {
			return nil, Internal(errors.New("no secret box configured"))
		}
		keyID, sealed, err := s.p.Box.Seal([]byte(secret), secretAAD(tid, webhookSecretName))
		if err != nil {
			return nil, Internal(err)
		}
		if err := s.p.Store.TenantSecrets().Upsert(ctx, store.SealedSecret{TenantID: tid, Name: webhookSecretName,
			KeyID: keyID, Ciphertext: sealed}); err != nil {
			return nil, Internal(err)
		}
		s.audit(ctx, s.p.Store, auditEntry{TenantID: tid, Action: "admin.webhook_secret.set", Target: in.ClientID})
		return &struct{ Body WebhookSecretSet }{WebhookSecretSet{Secret: secret}}, nil
	})
}

func (s *Server) tenantID(ctx context.Context, clientID string) (string, *Problem) {
	id, err := s.p.Store.Tenants().IDByClientID(ctx, clientID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errNotFound(zapbase.CodeTenantNotFound, "Tenant não encontrado.")
	}
	if err != nil {
		return "", Internal(err)
	}
	return id, nil
}

func isUniqueViolation(err error) bool { return pgerr.IsUniqueViolation(err) }
