package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
)

// AgentConfiguration is an agent's configuration (the spec's annex A,
// extended). On create with a template and on configure, omitted fields
// keep the template's (or the stored) value.
type AgentConfiguration struct {
	Name             string                 `json:"name,omitempty" maxLength:"120" doc:"Nome do agente" example:"Assistente Imobiliário"`
	Type             string                 `json:"type,omitempty" enum:"real_estate,customer_support,custom" doc:"Tipo do agente" example:"real_estate"`
	SystemPrompt     string                 `json:"systemPrompt,omitempty" maxLength:"20000" doc:"Prompt do sistema: quem o agente é e como responde" example:"Você é um corretor de imóveis virtual, cordial e objetivo."`
	Capabilities     []string               `json:"capabilities,omitempty" maxItems:"20" doc:"Ferramentas do agente: search_properties, schedule_visits, provide_documentation, calculate_financing, search_knowledge_base (handoff_to_human está sempre disponível)" example:"[\"search_properties\",\"calculate_financing\"]"`
	KnowledgeBase    *KnowledgeBaseRef      `json:"knowledgeBase,omitempty" doc:"Base de conhecimento: um nome, ou o objeto do anexo A ({\"type\": \"postgres_fts\", \"name\": ...})"`
	ResponseSettings *AgentResponseSettings `json:"responseSettings,omitempty"`
	Model            *AgentModel            `json:"model,omitempty" doc:"Backend e modelo preferidos (opcional)"`
	AllowGroups      bool                   `json:"allowGroups" required:"false" doc:"Responder também em grupos (padrão: não)"`
	HandoffKeywords  []string               `json:"handoffKeywords,omitempty" maxItems:"50" doc:"Palavras com que o contato pede um humano" example:"[\"atendente\",\"humano\"]"`
	HandoffMessage   string                 `json:"handoffMessage,omitempty" maxLength:"1000" doc:"Mensagem enviada ao transferir para um humano" example:"Vou transferir você para um atendente humano."`
}

// AgentResponseSettings tune the model's answers.
type AgentResponseSettings struct {
	MaxTokens   int     `json:"maxTokens" required:"false" minimum:"0" maximum:"8192" doc:"Máximo de tokens por resposta" example:"500"`
	Temperature float64 `json:"temperature" required:"false" minimum:"0" maximum:"2" doc:"Temperatura do modelo (0 é um valor válido)" example:"0.7"`
	Language    string  `json:"language" required:"false" maxLength:"10" doc:"Idioma das respostas" example:"pt-BR"`
}

// AgentModel pins an agent to a backend.
type AgentModel struct {
	Backend string `json:"backend" enum:"gemini,openai,local" doc:"Backend do modelo" example:"gemini"`
	Name    string `json:"name,omitempty" maxLength:"200" doc:"Nome do modelo no backend" example:"gemini-2.5-flash"`
}

// KnowledgeBaseRef is knowledgeBase: a name, or the annex's object. The
// only supported type is zapbase's own (Postgres full-text search over the
// documents sent in `knowledge`); an external vector database is refused
// with a problem naming the field, never silently ignored.
type KnowledgeBaseRef struct {
	Name             string `json:"name,omitempty"`
	Type             string `json:"type,omitempty"`
	ConnectionString string `json:"connectionString,omitempty"`
}

// KnowledgeBaseTypeBuiltin is the supported knowledge base type.
const KnowledgeBaseTypeBuiltin = "postgres_fts"

// UnmarshalJSON accepts a string (the name) or an object.
func (k *KnowledgeBaseRef) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*k = KnowledgeBaseRef{Name: name}
		return nil
	}
	type plain KnowledgeBaseRef
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*k = KnowledgeBaseRef(p)
	return nil
}

// MarshalJSON writes a bare name as a string (the nested configuration's
// form) and a typed reference as an object (the annex's form).
func (k KnowledgeBaseRef) MarshalJSON() ([]byte, error) {
	if k.Type == "" && k.ConnectionString == "" {
		return json.Marshal(k.Name)
	}
	type plain KnowledgeBaseRef
	return json.Marshal(plain(k))
}

// Schema documents both forms.
func (KnowledgeBaseRef) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Description: "Nome da base (texto) ou objeto {type, name}. Único tipo suportado: `postgres_fts` (busca textual do Postgres sobre os documentos enviados em `knowledge`). " +
			"`vector_db` com `connectionString` é recusado com 422 `unsupported_knowledge_base`.",
		OneOf: []*huma.Schema{
			{Type: "string", MaxLength: intPtr(120), Examples: []any{"property_database"}},
			{Type: "object", Properties: map[string]*huma.Schema{
				"type":             {Type: "string", Enum: []any{KnowledgeBaseTypeBuiltin, "vector_db"}},
				"name":             {Type: "string", MaxLength: intPtr(120)},
				"connectionString": {Type: "string", Description: "Não suportado (banco vetorial externo)"},
			}},
		},
	}
}

func intPtr(i int) *int { return &i }

// AgentInfo is a stored agent, in both vocabularies: the annex's flat
// fields and the nested configuration.
type AgentInfo struct {
	ID               string                `json:"id" example:"3b8f4d0e-5a51-4c5e-9a3e-0f3f7f2a9b10"`
	AgentID          string                `json:"agentId" doc:"Id escolhido pelo tenant (anexo A); sem um, o mesmo UUID de id. Vale em todo {agentId}" example:"real_estate_agent"`
	Name             string                `json:"name" example:"Especialista em Imóveis"`
	Type             string                `json:"type" example:"real_estate"`
	SystemPrompt     string                `json:"systemPrompt" example:"Você é um especialista em imóveis..."`
	Capabilities     []string              `json:"capabilities" example:"[\"search_properties\",\"schedule_visits\",\"provide_documentation\",\"calculate_financing\"]"`
	KnowledgeBase    *KnowledgeBaseRef     `json:"knowledgeBase,omitempty"`
	ResponseSettings AgentResponseSettings `json:"responseSettings"`
	Configuration    AgentConfiguration    `json:"configuration" doc:"A mesma configuração, na forma aninhada"`
	IsActive         bool                  `json:"isActive" doc:"Agente ativo (responde conversas)"`
	IsDefault        bool                  `json:"isDefault" doc:"Agente padrão do tenant (responde conversas sem agente atribuído)"`
	CreatedAt        time.Time             `json:"createdAt"`
	UpdatedAt        time.Time             `json:"updatedAt"`
}

// KnowledgeDocumentInfo is one knowledge-base document.
type KnowledgeDocumentInfo struct {
	ID       string `json:"id,omitempty" readOnly:"true"`
	Title    string `json:"title" minLength:"1" maxLength:"300" doc:"Título do documento" example:"Apartamento 2 quartos — Vila Mariana"`
	Category string `json:"category,omitempty" pattern:"^[a-z][a-z0-9_]{0,39}$" doc:"Categoria (properties, documentation, visits, faq, general...)" example:"properties"`
	Content  string `json:"content" minLength:"1" maxLength:"200000" doc:"Conteúdo; dividido em trechos e pesquisado com a busca textual do Postgres (português)" example:"Apartamento de 2 quartos na Vila Mariana, 68 m², R$ 650.000."`
}

// CreateAgentRequest is POST /agents/create. Three shapes, all in one
// body: the annex A's flat fields (agentId, name, systemPrompt,
// capabilities, knowledgeBase, responseSettings), {"name", "type"} (the
// template of that type), or template/configuration. Flat fields win over
// configuration, which wins over the template.
type CreateAgentRequest struct {
	AgentID          string                  `json:"agentId,omitempty" pattern:"^[a-z0-9][a-z0-9_-]{0,63}$" doc:"Id escolhido pelo tenant (único no tenant); vale em todo {agentId}" example:"real_estate_agent"`
	Name             string                  `json:"name,omitempty" maxLength:"120" doc:"Nome do agente" example:"Especialista em Imóveis"`
	Type             string                  `json:"type,omitempty" enum:"real_estate,customer_support,custom" doc:"Tipo; real_estate e customer_support partem do modelo pronto do tipo" example:"real_estate"`
	SystemPrompt     string                  `json:"systemPrompt,omitempty" maxLength:"20000" doc:"Prompt do sistema"`
	Capabilities     []string                `json:"capabilities,omitempty" maxItems:"20" doc:"search_properties, schedule_visits, provide_documentation, calculate_financing, search_knowledge_base"`
	KnowledgeBase    *KnowledgeBaseRef       `json:"knowledgeBase,omitempty"`
	ResponseSettings *AgentResponseSettings  `json:"responseSettings,omitempty"`
	Template         string                  `json:"template,omitempty" enum:"real_estate,customer_support" doc:"Modelo pronto (veja GET /agents/templates)" example:"real_estate"`
	Configuration    *AgentConfiguration     `json:"configuration,omitempty" doc:"Configuração na forma aninhada"`
	Knowledge        []KnowledgeDocumentInfo `json:"knowledge,omitempty" maxItems:"200" doc:"Documentos da base de conhecimento; partindo de um modelo e sem documentos, os exemplos do modelo são carregados"`
	IsDefault        *bool                   `json:"isDefault,omitempty" doc:"Torna o agente o padrão do tenant (o primeiro agente já é o padrão)"`
}

// ConfigureAgentRequest is PUT /agents/{agentId}/configure, a JSON Merge
// Patch (RFC 7396): present fields are set, null removes (back to the
// default), absent fields keep their value. Flat (annex A) and nested
// (configuration) fields are both accepted.
type ConfigureAgentRequest struct {
	AgentID          *string                 `json:"agentId,omitempty" doc:"Novo id escolhido pelo tenant; null remove"`
	Name             string                  `json:"name,omitempty" maxLength:"120"`
	Type             string                  `json:"type,omitempty" enum:"real_estate,customer_support,custom"`
	SystemPrompt     string                  `json:"systemPrompt,omitempty" maxLength:"20000"`
	Capabilities     []string                `json:"capabilities,omitempty" maxItems:"20"`
	KnowledgeBase    *KnowledgeBaseRef       `json:"knowledgeBase,omitempty"`
	ResponseSettings *AgentResponseSettings  `json:"responseSettings,omitempty"`
	Model            *AgentModel             `json:"model,omitempty"`
	AllowGroups      *bool                   `json:"allowGroups,omitempty"`
	HandoffKeywords  []string                `json:"handoffKeywords,omitempty" maxItems:"50"`
	HandoffMessage   string                  `json:"handoffMessage,omitempty" maxLength:"1000"`
	Configuration    *AgentConfiguration     `json:"configuration,omitempty" doc:"Campos a alterar, na forma aninhada"`
	IsActive         *bool                   `json:"isActive,omitempty" doc:"Ativa ou desativa o agente"`
	IsDefault        *bool                   `json:"isDefault,omitempty" doc:"Torna o agente o padrão do tenant"`
	Knowledge        []KnowledgeDocumentInfo `json:"knowledge,omitempty" maxItems:"200" doc:"Se enviada, substitui toda a base de conhecimento do agente"`
}

// AssignConversationRequest is POST /agents/{agentId}/assign-conversation.
type AssignConversationRequest struct {
	SessionID string `json:"sessionId" format:"uuid" doc:"Sessão do WhatsApp do tenant (whatsapp_sessions.id)" example:"7d7f8c1a-3f55-4a8e-9d2e-0c4b6a1f2e33"`
	Contact   string `json:"contact" minLength:"1" maxLength:"200" doc:"Número do contato (só dígitos com DDI) ou id do chat" example:"5511988887777"`
}

// ConversationInfo is an AI conversation.
type ConversationInfo struct {
	ID          string     `json:"id"`
	AgentID     *string    `json:"agentId"`
	SessionID   *string    `json:"sessionId"`
	Contact     string     `json:"contact" example:"5511988887777"`
	State       string     `json:"state" enum:"active,paused,handoff" doc:"active: o agente responde; paused/handoff: um humano atende" example:"active"`
	PausedUntil *time.Time `json:"pausedUntil,omitempty"`
}

// AgentTemplate is a built-in template.
type AgentTemplate struct {
	ID              string                  `json:"id" example:"real_estate"`
	Description     string                  `json:"description"`
	Configuration   AgentConfiguration      `json:"configuration"`
	SampleKnowledge []KnowledgeDocumentInfo `json:"sampleKnowledge,omitempty"`
}

// ModelCredentialsRequest is PUT /agents/settings/model-credentials.
type ModelCredentialsRequest struct {
	Backend string `json:"backend" enum:"gemini,openai,local" doc:"Backend" example:"gemini"`
	APIKey  string `json:"apiKey,omitempty" maxLength:"1000" doc:"Chave da API (obrigatória para gemini e openai); guardada cifrada, nunca devolvida" example:"AIza..."`
	BaseURL string `json:"baseUrl,omitempty" maxLength:"1000" doc:"URL base (servidores compatíveis com OpenAI, proxies)" example:"https://api.openai.com/v1"`
	Model   string `json:"model,omitempty" maxLength:"200" doc:"Modelo" example:"gemini-2.5-flash"`
}

// ToolEndpointRequest is PUT /agents/settings/tool-endpoint.
type ToolEndpointRequest struct {
	URL    string `json:"url" maxLength:"2000" doc:"URL HTTPS que responde às ferramentas (vazia: remove)" example:"https://exemplo.com.br/zapbase/tools"`
	Secret string `json:"secret,omitempty" maxLength:"500" doc:"Segredo HMAC (mínimo de 16 caracteres) que assina as chamadas; guardado cifrado"`
}

// TokenBudgetRequest is PUT /agents/settings/token-budget.
type TokenBudgetRequest struct {
	DailyTokenBudget *int64 `json:"dailyTokenBudget" nullable:"true" minimum:"0" doc:"Tokens por dia (UTC); null volta ao padrão do servidor; 0 bloqueia chamadas ao modelo" example:"200000"`
}

// AISettingsInfo is GET /agents/settings (secrets are never returned).
type AISettingsInfo struct {
	ModelBackend     string `json:"modelBackend,omitempty" doc:"Backend das credenciais próprias do tenant (vazio: as globais do servidor ou o backend local)" example:"gemini"`
	ModelName        string `json:"modelName,omitempty"`
	ModelBaseURL     string `json:"modelBaseUrl,omitempty"`
	ToolEndpoint     string `json:"toolEndpoint,omitempty"`
	DailyTokenBudget *int64 `json:"dailyTokenBudget" doc:"Orçamento diário próprio (null: padrão do servidor)"`
	TokensUsedToday  int64  `json:"tokensUsedToday" doc:"Tokens gastos hoje (UTC)"`
}

// AgentPath is the {agentId} path parameter.
type AgentPath struct {
	AgentID string `path:"agentId" doc:"Id do agente: o UUID ou o agentId escolhido pelo tenant" example:"real_estate_agent"`
}

// AgentRoutes returns the register func of the agent endpoints
// (/api/v1/agents/...), to append to Params.RegisterFuncs.
func AgentRoutes(svc *ai.Service) func(*Router) {
	return func(r *Router) { registerAgents(r, svc) }
}

func registerAgents(r *Router, svc *ai.Service) {
	tags := []string{"Agentes de IA"}
	api := r.API()
	manageOnly := func(t Tenant) *Problem {
		if !t.CanManage() {
			return NewProblem(http.StatusForbidden, zapbase.CodeForbidden, "Somente donos e administradores do tenant podem configurar agentes.")
		}
		return nil
	}

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "list-agent-templates", Method: http.MethodGet, Path: "/agents/templates", Tags: tags,
		Summary:     "Lista os modelos prontos de agente",
		Description: "`real_estate` (corretor virtual com imóveis de exemplo) e `customer_support` (atendimento com perguntas frequentes). Criar um agente a partir de um modelo dá um agente que já funciona.",
	}), func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Templates []AgentTemplate `json:"templates"`
		}
	}, error) {
		out := &struct {
			Body struct {
				Templates []AgentTemplate `json:"templates"`
			}
		}{}
		for _, t := range ai.Templates() {
			out.Body.Templates = append(out.Body.Templates, AgentTemplate{ID: t.ID, Description: t.Description,
				Configuration: toAPIConfig(t.Config), SampleKnowledge: toAPIDocs(t.Knowledge)})
		}
		return out, nil
	})

	reg := api.OpenAPI().Components.Schemas
	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "create-agent", Method: http.MethodPost, Path: "/agents/create", Tags: tags,
		Summary: "Cria um agente de IA",
		Description: "Aceita três formas no mesmo corpo: os campos do **anexo A** da especificação (`agentId`, `name`, `systemPrompt`, `capabilities`, " +
			"`knowledgeBase`, `responseSettings`); `{\"name\", \"type\"}`, que parte do modelo pronto do tipo; ou `template` + `configuration`. " +
			"`agentId` é um id escolhido pelo tenant (único no tenant) e vale em todo `{agentId}` da API, como o UUID. " +
			"A base de conhecimento é a busca textual do Postgres sobre os documentos de `knowledge`; `knowledgeBase.type: vector_db` responde 422 `unsupported_knowledge_base`. " +
			"O primeiro agente do tenant vira o agente padrão: ele responde as conversas sem agente atribuído.",
		DefaultStatus:    http.StatusCreated,
		Errors:           []int{http.StatusConflict},
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[CreateAgentRequest](), true, "CreateAgentRequest"), Examples: createAgentExamples},
		}},
	}), func(ctx context.Context, in *struct{ RawBody []byte }) (*struct{ Body AgentInfo }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		params, tpl, p := createParams(in.RawBody)
		if p != nil {
			return nil, p
		}
		a, err := svc.CreateAgent(ctx, t.ID, params)
		if err != nil {
			r.Audit(ctx, "agent.create", tpl, "error", nil)
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.create", a.ID, "ok", map[string]any{"template": tpl, "type": a.Type, "isDefault": a.IsDefault, "agentId": a.Slug})
		return &struct{ Body AgentInfo }{toAPIAgent(a)}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "list-agents", Method: http.MethodGet, Path: "/agents/list", Tags: tags,
		Summary: "Lista os agentes do tenant",
	}), func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Agents []AgentInfo `json:"agents"`
		}
	}, error) {
		agents, err := svc.ListAgents(ctx, MustTenant(ctx).ID)
		if err != nil {
			return nil, agentProblem(err)
		}
		out := &struct {
			Body struct {
				Agents []AgentInfo `json:"agents"`
			}
		}{}
		out.Body.Agents = make([]AgentInfo, 0, len(agents))
		for _, a := range agents {
			out.Body.Agents = append(out.Body.Agents, toAPIAgent(a))
		}
		return out, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "get-agent", Method: http.MethodGet, Path: "/agents/{agentId}", Tags: tags,
		Summary: "Lê um agente", Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *AgentPath) (*struct{ Body AgentInfo }, error) {
		a, err := svc.GetAgent(ctx, MustTenant(ctx).ID, in.AgentID)
		if err != nil {
			return nil, agentProblem(err)
		}
		return &struct{ Body AgentInfo }{toAPIAgent(a)}, nil
	})

	patchSchema := reg.Schema(reflect.TypeFor[ConfigureAgentRequest](), true, "ConfigureAgentRequest")
	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "configure-agent", Method: http.MethodPut, Path: "/agents/{agentId}/configure", Tags: tags,
		Summary: "Altera um agente (JSON Merge Patch)",
		Description: "O corpo é um **JSON Merge Patch** (RFC 7396): campos presentes são gravados — inclusive valores zero, como `temperature: 0` ou " +
			"`allowGroups: false` —, `null` remove o campo (volta ao padrão) e campos ausentes mantêm o valor atual. Aceita os campos do anexo A no topo " +
			"ou aninhados em `configuration`; a configuração resultante é validada inteira. `agentId` troca o id escolhido pelo tenant (`null` remove). " +
			"`knowledge`, se enviada, substitui a base de conhecimento. Também aceito como `application/merge-patch+json`.",
		Errors:           []int{http.StatusNotFound, http.StatusConflict},
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json":             {Schema: patchSchema, Examples: configureAgentExamples},
			"application/merge-patch+json": {Schema: patchSchema},
		}},
	}), func(ctx context.Context, in *struct {
		AgentPath
		RawBody []byte
	}) (*struct{ Body AgentInfo }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		params, p := configureParams(in.RawBody)
		if p != nil {
			return nil, p
		}
		a, err := svc.ConfigureAgent(ctx, t.ID, in.AgentID, params)
		if err != nil {
			r.Audit(ctx, "agent.configure", in.AgentID, "error", nil)
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.configure", a.ID, "ok", map[string]any{"isActive": a.IsActive, "isDefault": a.IsDefault,
			"configuration": params.PatchFunc != nil, "knowledgeReplaced": params.Knowledge != nil})
		return &struct{ Body AgentInfo }{toAPIAgent(a)}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "assign-conversation", Method: http.MethodPost, Path: "/agents/{agentId}/assign-conversation", Tags: tags,
		Summary:     "Atribui uma conversa a um agente",
		Description: "O agente passa a responder o contato nessa sessão (a conversa é criada se ainda não existir). Uma conversa pausada ou transferida para humano volta a ser atendida pelo agente. Somente donos e administradores do tenant (um membro pode assumir uma conversa, não devolvê-la à IA).",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AgentPath
		Body AssignConversationRequest
	}) (*struct{ Body ConversationInfo }, error) {
		t := MustTenant(ctx)
		// Assigning resumes a paused conversation: the same rule as in SQL
		// (migration 000070), where a member may pause but not resume.
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		c, err := svc.AssignConversation(ctx, t.ID, in.AgentID, ai.AssignConversationParams{SessionID: in.Body.SessionID, Contact: in.Body.Contact})
		if err != nil {
			r.Audit(ctx, "agent.assign_conversation", in.AgentID, "error", nil)
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.assign_conversation", c.ID, "ok", map[string]any{"agentId": in.AgentID, "sessionId": in.Body.SessionID})
		return &struct{ Body ConversationInfo }{ConversationInfo{ID: c.ID, AgentID: c.AgentID, SessionID: c.SessionID,
			Contact: c.Contact, State: c.State, PausedUntil: c.PausedUntil}}, nil
	})

	type docsBody struct {
		Documents []KnowledgeDocumentInfo `json:"documents"`
	}
	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "add-agent-knowledge", Method: http.MethodPost, Path: "/agents/{agentId}/knowledge", Tags: tags,
		Summary:       "Adiciona documentos à base de conhecimento do agente",
		Description:   "Cada documento é dividido em trechos e indexado com a busca textual do Postgres (configuração `portuguese`).",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		AgentPath
		Body struct {
			Documents []KnowledgeDocumentInfo `json:"documents" minItems:"1" maxItems:"200"`
		}
	}) (*struct{ Body docsBody }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		docs, err := svc.AddKnowledge(ctx, t.ID, in.AgentID, fromAPIDocs(in.Body.Documents))
		if err != nil {
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.knowledge.add", in.AgentID, "ok", map[string]any{"documents": len(docs)})
		return &struct{ Body docsBody }{docsBody{Documents: toAPIDocs(docs)}}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "list-agent-knowledge", Method: http.MethodGet, Path: "/agents/{agentId}/knowledge", Tags: tags,
		Summary: "Lista a base de conhecimento do agente", Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *AgentPath) (*struct{ Body docsBody }, error) {
		docs, err := svc.ListKnowledge(ctx, MustTenant(ctx).ID, in.AgentID)
		if err != nil {
			return nil, agentProblem(err)
		}
		out := toAPIDocs(docs)
		if out == nil {
			out = []KnowledgeDocumentInfo{}
		}
		return &struct{ Body docsBody }{docsBody{Documents: out}}, nil
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "get-ai-settings", Method: http.MethodGet, Path: "/agents/settings", Tags: tags,
		Summary:     "Lê as configurações de IA do tenant",
		Description: "Backend das credenciais próprias, endpoint de ferramentas e orçamento diário de tokens. Segredos nunca são devolvidos.",
	}), func(ctx context.Context, _ *struct{}) (*struct{ Body AISettingsInfo }, error) {
		return aiSettings(ctx, svc, MustTenant(ctx).ID)
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "put-model-credentials", Method: http.MethodPut, Path: "/agents/settings/model-credentials", Tags: tags,
		Summary:     "Define as credenciais de modelo do tenant",
		Description: "Guardadas cifradas (AES-256-GCM); têm prioridade sobre as credenciais globais do servidor (`GEMINI_API_KEY`, `OPENAI_API_KEY`).",
		Errors:      []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *struct{ Body ModelCredentialsRequest }) (*struct{ Body AISettingsInfo }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		b := in.Body
		if err := svc.SetModelCredentials(ctx, t.ID, &ai.ModelCredentials{Backend: b.Backend, APIKey: b.APIKey, BaseURL: b.BaseURL, Model: b.Model}); err != nil {
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.model_credentials.set", b.Backend, "ok", map[string]any{"backend": b.Backend, "model": b.Model})
		return aiSettings(ctx, svc, t.ID)
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "delete-model-credentials", Method: http.MethodDelete, Path: "/agents/settings/model-credentials", Tags: tags,
		Summary: "Remove as credenciais de modelo do tenant (as globais voltam a valer)",
	}), func(ctx context.Context, _ *struct{}) (*struct{ Body AISettingsInfo }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		if err := svc.SetModelCredentials(ctx, t.ID, nil); err != nil {
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.model_credentials.delete", t.ClientID, "ok", nil)
		return aiSettings(ctx, svc, t.ID)
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "put-tool-endpoint", Method: http.MethodPut, Path: "/agents/settings/tool-endpoint", Tags: tags,
		Summary: "Define o endpoint HTTPS de ferramentas do tenant",
		Description: "`search_properties`, `schedule_visits`, `provide_documentation` e `search_knowledge_base` passam a ser respondidas por esta URL " +
			"(POST assinado com `X-Zapbase-Timestamp` e `X-Zapbase-Signature: sha256=<hex(HMAC-SHA256(segredo, timestamp + \".\" + corpo))>`). URL vazia remove.",
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *struct{ Body ToolEndpointRequest }) (*struct{ Body AISettingsInfo }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		if err := svc.SetToolEndpoint(ctx, t.ID, in.Body.URL, in.Body.Secret); err != nil {
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.tool_endpoint.set", in.Body.URL, "ok", nil)
		return aiSettings(ctx, svc, t.ID)
	})

	huma.Register(api, r.Tenant(huma.Operation{
		OperationID: "put-token-budget", Method: http.MethodPut, Path: "/agents/settings/token-budget", Tags: tags,
		Summary:     "Define o orçamento diário de tokens do tenant",
		Description: "Esgotado o orçamento, a conversa é transferida para um humano com uma mensagem ao contato (nunca silêncio).",
	}), func(ctx context.Context, in *struct{ Body TokenBudgetRequest }) (*struct{ Body AISettingsInfo }, error) {
		t := MustTenant(ctx)
		if p := manageOnly(t); p != nil {
			return nil, p
		}
		if err := svc.SetDailyTokenBudget(ctx, t.ID, in.Body.DailyTokenBudget); err != nil {
			return nil, agentProblem(err)
		}
		r.Audit(ctx, "agent.token_budget.set", t.ClientID, "ok", map[string]any{"dailyTokenBudget": in.Body.DailyTokenBudget})
		return aiSettings(ctx, svc, t.ID)
	})
}

func aiSettings(ctx context.Context, svc *ai.Service, tenantID string) (*struct{ Body AISettingsInfo }, error) {
	st, err := svc.GetAISettings(ctx, tenantID)
	if err != nil {
		return nil, agentProblem(err)
	}
	return &struct{ Body AISettingsInfo }{AISettingsInfo{ModelBackend: st.ModelBackend, ModelName: st.ModelName,
		ModelBaseURL: st.ModelBaseURL, ToolEndpoint: st.ToolEndpoint, DailyTokenBudget: st.DailyTokenBudget,
		TokensUsedToday: st.TokensUsedToday}}, nil
}

// agentProblem maps the agent service's errors to problems.
func agentProblem(err error) *Problem {
	var ze *zapbase.Error
	if !errors.As(err, &ze) {
		return Internal(err)
	}
	status := http.StatusUnprocessableEntity
	code := ze.Code
	switch ze.Code {
	case zapbase.CodeNotFound:
		status, code = http.StatusNotFound, zapbase.CodeAgentNotFound
		if errors.Is(err, ai.ErrSessionNotFound) {
			code = zapbase.CodeSessionNotFound
		}
	case zapbase.CodeConflict:
		status = http.StatusConflict
	case zapbase.CodeUnavailable:
		status = http.StatusServiceUnavailable
	}
	return NewProblem(status, code, ze.Message).WithCause(ze.Cause)
}

func toAPIAgent(a ai.Agent) AgentInfo {
	c := toAPIConfig(a.Config)
	out := AgentInfo{ID: a.ID, AgentID: a.Slug, Name: a.Name, Type: a.Type, SystemPrompt: a.Config.SystemPrompt,
		Capabilities: a.Config.Capabilities, ResponseSettings: *c.ResponseSettings, Configuration: c,
		IsActive: a.IsActive, IsDefault: a.IsDefault, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if out.AgentID == "" {
		out.AgentID = a.ID
	}
	if out.Capabilities == nil {
		out.Capabilities = []string{}
	}
	if a.Config.KnowledgeBase != "" {
		out.KnowledgeBase = &KnowledgeBaseRef{Type: KnowledgeBaseTypeBuiltin, Name: a.Config.KnowledgeBase}
	}
	return out
}

func toAPIConfig(c ai.AgentConfig) AgentConfiguration {
	out := AgentConfiguration{Name: c.Name, Type: c.Type, SystemPrompt: c.SystemPrompt, Capabilities: c.Capabilities,
		AllowGroups: c.AllowGroups, HandoffKeywords: c.HandoffKeywords, HandoffMessage: c.HandoffMessage,
		ResponseSettings: &AgentResponseSettings{MaxTokens: c.ResponseSettings.MaxTokens, Temperature: c.ResponseSettings.Temperature,
			Language: c.ResponseSettings.Language}}
	if c.KnowledgeBase != "" {
		out.KnowledgeBase = &KnowledgeBaseRef{Name: c.KnowledgeBase}
	}
	if c.Model != nil {
		out.Model = &AgentModel{Backend: c.Model.Backend, Name: c.Model.Name}
	}
	return out
}

func toAPIDocs(in []ai.KnowledgeDocument) []KnowledgeDocumentInfo {
	if in == nil {
		return nil
	}
	out := make([]KnowledgeDocumentInfo, len(in))
	for i, d := range in {
		out[i] = KnowledgeDocumentInfo{ID: d.ID, Title: d.Title, Category: d.Category, Content: d.Content}
	}
	return out
}

func fromAPIDocs(in []KnowledgeDocumentInfo) []ai.KnowledgeDocument {
	if in == nil {
		return nil
	}
	out := make([]ai.KnowledgeDocument, len(in))
	for i, d := range in {
		out[i] = ai.KnowledgeDocument{Title: d.Title, Category: d.Category, Content: d.Content}
	}
	return out
}
