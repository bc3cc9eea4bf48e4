package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/store"
)

// Tenant settings limits.
const (
	MaxTenantRateLimit = 6000
)

// AISettings are the tenant's AI defaults (stored in tenants.settings.ai).
type AISettings struct {
	Enabled               bool     `json:"enabled,omitempty" doc:"Agentes de IA respondem mensagens recebidas"`
	DefaultAgentID        string   `json:"defaultAgentId,omitempty" maxLength:"64" doc:"Agente padrão do tenant: o UUID ou o agentId escolhido pelo tenant (guardado como UUID). É sempre o mesmo agente que tem isDefault em /agents; null remove o padrão" example:"real_estate_agent"`
	MaxConsecutiveReplies int      `json:"maxConsecutiveReplies,omitempty" minimum:"0" maximum:"100" doc:"Máximo de respostas seguidas do agente sem mensagem humana (0: padrão)"`
	HandoffKeywords       []string `json:"handoffKeywords,omitempty" maxItems:"50" doc:"Palavras que passam a conversa para um humano" example:"[\"atendente\",\"humano\"]"`
}

// TenantSettings is GET/PUT /tenant/settings.
type TenantSettings struct {
	ClientID           string     `json:"clientId" readOnly:"true" example:"demo"`
	Name               string     `json:"name" minLength:"1" maxLength:"200" example:"Empresa Demo"`
	DefaultProvider    string     `json:"defaultProvider" enum:"baileys,meta_api,sandbox,auto" doc:"Provedor preferido" example:"auto"`
	FallbackProvider   string     `json:"fallbackProvider,omitempty" enum:"baileys,meta_api,sandbox," doc:"Provedor alternativo quando o preferido não estiver disponível (vazio: nenhum)"`
	RateLimitPerMinute int        `json:"rateLimitPerMinute" minimum:"1" maximum:"6000" doc:"Limite de requisições por minuto do tenant" example:"100"`
	MaxSessions        int        `json:"maxSessions" readOnly:"true" doc:"Máximo de sessões (definido pela administração)" example:"10"`
	AI                 AISettings `json:"ai"`
}

// TenantSettingsUpdate is the body of PUT /tenant/settings.
type TenantSettingsUpdate struct {
	Name               string     `json:"name" minLength:"1" maxLength:"200" example:"Empresa Demo"`
	DefaultProvider    string     `json:"defaultProvider" enum:"baileys,meta_api,sandbox,auto" example:"auto"`
	FallbackProvider   string     `json:"fallbackProvider,omitempty" enum:"baileys,meta_api,sandbox,"`
	RateLimitPerMinute int        `json:"rateLimitPerMinute" minimum:"1" maximum:"6000" example:"100"`
	AI                 AISettings `json:"ai"`
}

// ProviderSwitchRequest is POST /tenant/provider-switch.
type ProviderSwitchRequest struct {
	Provider         string `json:"provider" enum:"baileys,meta_api,sandbox,auto" doc:"Novo provedor preferido" example:"meta_api"`
	FallbackProvider string `json:"fallbackProvider,omitempty" enum:"baileys,meta_api,sandbox," doc:"Novo provedor alternativo (opcional)"`
	MovePending      bool   `json:"movePending,omitempty" doc:"Também move para o novo provedor as mensagens ainda pendentes"`
}

// ProviderSwitchResponse answers a provider switch.
type ProviderSwitchResponse struct {
	Settings      TenantSettings `json:"settings"`
	MovedMessages int64          `json:"movedMessages" doc:"Mensagens pendentes movidas"`
}

type storedSettings struct {
	FallbackProvider string     `json:"fallbackProvider,omitempty"`
	AI               AISettings `json:"ai"`
}

func (s *Server) registerTenant(r *Router) {
	tags := []string{"Tenant"}
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "get-tenant-settings", Method: http.MethodGet, Path: "/tenant/settings", Tags: tags,
		Summary: "Lê as configurações do tenant",
	}), func(ctx context.Context, _ *struct{}) (*struct{ Body TenantSettings }, error) {
		st, p := s.loadSettings(ctx, MustTenant(ctx).ID)
		if p != nil {
			return nil, p
		}
		return &struct{ Body TenantSettings }{st}, nil
	})

	reg := s.api.OpenAPI().Components.Schemas
	updateSchema := reg.Schema(reflect.TypeFor[TenantSettingsUpdate](), true, "TenantSettingsUpdate")
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "put-tenant-settings", Method: http.MethodPut, Path: "/tenant/settings", Tags: tags,
		Summary: "Altera as configurações do tenant (JSON Merge Patch)",
		Description: "O corpo é um **JSON Merge Patch** (RFC 7396) sobre as configurações atuais: envie só o que muda " +
			"(ex.: `{\"rateLimitPerMinute\": 200}` ou `{\"ai\": {\"defaultAgentId\": \"real_estate_agent\"}}`); `null` remove um campo opcional. " +
			"`ai.defaultAgentId` aceita o UUID ou o agentId do agente e move o agente padrão (o mesmo `isDefault` de /agents). " +
			"Somente donos e administradores do tenant, ou chave de API. O limite de sessões é definido pela administração.",
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: updateSchema, Examples: map[string]*huma.Example{
				"limite":       {Summary: "Só o limite de requisições", Value: map[string]any{"rateLimitPerMinute": 200}},
				"agentePadrao": {Summary: "Agente padrão pelo agentId", Value: map[string]any{"ai": map[string]any{"defaultAgentId": "real_estate_agent"}}},
			}},
			"application/merge-patch+json": {Schema: updateSchema},
		}},
	}), func(ctx context.Context, in *struct{ RawBody []byte }) (*struct{ Body TenantSettings }, error) {
		t := MustTenant(ctx)
		if !t.CanManage() {
			return nil, NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "Somente donos e administradores do tenant podem alterar as configurações.")
		}
		var patch map[string]any
		if err := json.Unmarshal(in.RawBody, &patch); err != nil || patch == nil {
			return nil, errInvalid("O corpo deve ser um objeto JSON (merge patch).", FieldError{Location: "body", Message: "objeto JSON inválido"})
		}
		// Read-only fields may be echoed back from a GET; they never change.
		delete(patch, "clientId")
		delete(patch, "maxSessions")
		cur, p := s.loadSettings(ctx, t.ID)
		if p != nil {
			return nil, p
		}
		curJSON, _ := json.Marshal(TenantSettingsUpdate{Name: cur.Name, DefaultProvider: cur.DefaultProvider,
			FallbackProvider: cur.FallbackProvider, RateLimitPerMinute: cur.RateLimitPerMinute, AI: cur.AI})
		var curMap any
		_ = json.Unmarshal(curJSON, &curMap)
		var b TenantSettingsUpdate
		if p := s.validateInto(mergePatch(curMap, patch), &b); p != nil {
			return nil, p
		}
		if b.FallbackProvider != "" && b.FallbackProvider == b.DefaultProvider {
			return nil, errInvalid("O provedor alternativo deve ser diferente do preferido.",
				FieldError{Location: "body.fallbackProvider", Message: "igual ao provedor preferido", Value: b.FallbackProvider})
		}
		agentID, p := s.checkAgent(ctx, t.ID, b.AI.DefaultAgentID)
		if p != nil {
			return nil, p
		}
		b.AI.DefaultAgentID = agentID
		settings, _ := json.Marshal(storedSettings{FallbackProvider: b.FallbackProvider, AI: b.AI})
		err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
			// settings.ai.defaultAgentId and ai_agents.is_default are kept
			// equal by triggers (migration 000081), whoever writes.
			if err := tx.Tenants().UpdateSettings(ctx, store.UpdateSettingsParams{ID: t.ID, Name: b.Name,
				DefaultProvider: b.DefaultProvider, RateLimitPerMinute: b.RateLimitPerMinute, Settings: settings}); err != nil {
				return err
			}
			s.audit(ctx, tx, auditEntry{TenantID: t.ID, Action: "tenant.settings.update", Target: t.ClientID,
				Details: map[string]any{"defaultProvider": b.DefaultProvider, "fallbackProvider": b.FallbackProvider,
					"rateLimitPerMinute": b.RateLimitPerMinute, "aiEnabled": b.AI.Enabled, "defaultAgentId": b.AI.DefaultAgentID}})
			return nil
		})
		if err != nil {
			return nil, Internal(err)
		}
		st, p := s.loadSettings(ctx, t.ID)
		if p != nil {
			return nil, p
		}
		return &struct{ Body TenantSettings }{st}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "provider-switch", Method: http.MethodPost, Path: "/tenant/provider-switch", Tags: tags,
		Summary:     "Troca o provedor preferido do tenant",
		Description: "Novas mensagens com `provider: auto` passam a usar o novo provedor. Com `movePending`, as mensagens ainda pendentes também são movidas.",
		Errors:      []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *struct{ Body ProviderSwitchRequest }) (*struct{ Body ProviderSwitchResponse }, error) {
		t := MustTenant(ctx)
		if !t.CanManage() {
			return nil, NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "Somente donos e administradores do tenant podem trocar o provedor.")
		}
		pt := zapbase.ProviderType(in.Body.Provider)
		if pt.Concrete() {
			if prov, ok := s.p.Providers[pt]; !ok || prov == nil {
				return nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeProviderUnavailable,
					"O provedor "+string(pt)+" não está disponível neste servidor.")
			}
		}
		if in.Body.FallbackProvider != "" && in.Body.FallbackProvider == in.Body.Provider {
			return nil, errInvalid("O provedor alternativo deve ser diferente do preferido.",
				FieldError{Location: "body.fallbackProvider", Message: "igual ao provedor preferido"})
		}
		patch := map[string]any{}
		if in.Body.FallbackProvider != "" {
			patch["fallbackProvider"] = in.Body.FallbackProvider
		}
		pb, _ := json.Marshal(patch)
		var moved int64
		err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
			if err := tx.Tenants().SwitchProvider(ctx, t.ID, pt, pb); err != nil {
				return err
			}
			if in.Body.MovePending && pt.Concrete() {
				n, err := tx.Messages().MovePending(ctx, t.ID, pt)
				if err != nil {
					return err
				}
				moved = n
			}
			s.audit(ctx, tx, auditEntry{TenantID: t.ID, Action: "tenant.provider_switch", Target: t.ClientID,
				Details: map[string]any{"from": t.DefaultProvider, "to": pt, "movedMessages": moved}})
			return nil
		})
		if err != nil {
			return nil, Internal(err)
		}
		st, p := s.loadSettings(ctx, t.ID)
		if p != nil {
			return nil, p
		}
		return &struct{ Body ProviderSwitchResponse }{ProviderSwitchResponse{Settings: st, MovedMessages: moved}}, nil
	})
}

// checkAgent resolves an agent reference (UUID or the tenant's agentId) of
// the tenant's to its UUID; "" stays "".
func (s *Server) checkAgent(ctx context.Context, tenantID, ref string) (string, *Problem) {
	if ref == "" {
		return "", nil
	}
	id, found, err := s.resolveAgent(ctx, tenantID, ref)
	if err != nil {
		return "", Internal(err)
	}
	if !found {
		return "", NewProblem(http.StatusUnprocessableEntity, zapbase.CodeAgentNotFound, "Agente de IA não encontrado neste tenant.",
			FieldError{Location: "body.ai.defaultAgentId", Message: "agente não encontrado", Value: ref})
	}
	return id, nil
}

// resolveAgent finds the tenant's agent by UUID or agentId (slug).
func (s *Server) resolveAgent(ctx context.Context, tenantID, ref string) (string, bool, error) {
	byID := ai.IsUUID(ref)
	if !byID && !ai.ValidSlug(ref) {
		return "", false, nil
	}
	id, err := s.p.Store.Agents().ResolveID(ctx, tenantID, ref, byID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}

func (s *Server) loadSettings(ctx context.Context, tenantID string) (TenantSettings, *Problem) {
	row, err := s.p.Store.Tenants().Settings(ctx, tenantID)
	if err != nil {
		return TenantSettings{}, Internal(err)
	}
	st := TenantSettings{ClientID: row.ClientID, Name: row.Name, DefaultProvider: row.DefaultProvider,
		RateLimitPerMinute: row.RateLimitPerMinute, MaxSessions: row.MaxSessions}
	raw := row.Settings
	var stored storedSettings
	_ = json.Unmarshal(raw, &stored) // unknown shapes written by hand fall back to defaults
	st.FallbackProvider, st.AI = stored.FallbackProvider, stored.AI
	return st, nil
}
