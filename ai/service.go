package ai

// File size: the agents' management operations (CRUD, knowledge,
// credentials, settings) over the same rows and validation; the HTTP layer
// is api/agents.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/pgerr"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
)

// Agent is a stored agent.
type Agent struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Slug is the tenant's own id for the agent (the spec's agentId); ""
	// when none was chosen.
	Slug      string      `json:"agentId,omitempty"`
	Name      string      `json:"name"`
	Type      string      `json:"type"`
	Config    AgentConfig `json:"configuration"`
	IsActive  bool        `json:"isActive"`
	IsDefault bool        `json:"isDefault"`
	CreatedAt time.Time   `json:"createdAt"`
	UpdatedAt time.Time   `json:"updatedAt"`
}

// Conversation is an AI conversation (tenant, session, contact).
type Conversation struct {
	ID          string     `json:"id"`
	TenantID    string     `json:"tenantId"`
	AgentID     *string    `json:"agentId"`
	SessionID   *string    `json:"sessionId"`
	Contact     string     `json:"contact"`
	State       string     `json:"state"`
	PausedUntil *time.Time `json:"pausedUntil,omitempty"`
}

// Conversation states (zapbase.ConversationState).
const (
	StateActive  = string(zapbase.ConversationActive)
	StatePaused  = string(zapbase.ConversationPaused)
	StateHandoff = string(zapbase.ConversationHandoff)
)

// Service manages agents, their knowledge and the tenant's AI settings.
// Every method filters by tenant id.
type Service struct {
	st  *store.Store
	box *secret.Box
	// AllowInsecureToolEndpoints accepts http:// tool endpoints (tests and
	// local development only).
	AllowInsecureToolEndpoints bool
}

// NewService returns a Service. box seals model credentials and the tool
// endpoint secret.
func NewService(st *store.Store, box *secret.Box) *Service {
	return &Service{st: st, box: box}
}

// CreateAgentParams create an agent from a template, a custom configuration,
// or a template overridden by a configuration.
type CreateAgentParams struct {
	// Template is a template id (real_estate, customer_support); optional.
	Template string `json:"template,omitempty"`
	// Config overrides the template (or is the whole configuration).
	Config *AgentConfig `json:"configuration,omitempty"`
	// Knowledge adds documents; with a template and no Knowledge, the
	// template's sample documents are loaded.
	Knowledge []KnowledgeDocument `json:"knowledge,omitempty"`
	// IsDefault makes it the tenant's default agent (answers conversations
	// without an assigned agent). The tenant's first agent is the default.
	IsDefault *bool `json:"isDefault,omitempty"`
	// Slug is the tenant's own id for the agent (optional, unique per
	// tenant, see ValidSlug).
	Slug string `json:"agentId,omitempty"`
}

// ErrSessionNotFound: the WhatsApp session named in a request is not the
// tenant's.
var ErrSessionNotFound = &zapbase.Error{Code: zapbase.CodeNotFound, Message: "sessão do WhatsApp não encontrada neste tenant"}

// CreateAgent creates an agent.
func (s *Service) CreateAgent(ctx context.Context, tenantID string, p CreateAgentParams) (Agent, error) {
	var cfg AgentConfig
	knowledge := p.Knowledge
	if p.Template != "" {
		t, ok := TemplateByID(p.Template)
		if !ok {
			return Agent{}, zapbase.Errorf(zapbase.CodeInvalidInput, "template: modelo desconhecido %q (disponíveis: real_estate, customer_support)", p.Template)
		}
		cfg = t.Config
		if knowledge == nil {
			knowledge = t.Knowledge
		}
		if p.Config != nil {
			cfg = mergeConfig(cfg, *p.Config)
		}
	} else {
		if p.Config == nil {
			return Agent{}, zapbase.Errorf(zapbase.CodeInvalidInput, "informe um template ou uma configuração")
		}
		cfg = *p.Config
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Agent{}, err
	}
	if p.Slug != "" && !ValidSlug(p.Slug) {
		return Agent{}, errBadSlug(p.Slug)
	}
	if len(knowledge) > MaxDocumentsPerCall {
		return Agent{}, zapbase.Errorf(zapbase.CodeInvalidInput, "knowledge: no máximo %d documentos por chamada", MaxDocumentsPerCall)
	}
	cfgJSON, _ := json.Marshal(cfg)
	var a Agent
	err := s.st.InTx(ctx, func(tx *store.Store) error {
		// Serialize agent creation per tenant so "first agent is default" holds.
		if err := tx.Tenants().LockForUpdate(ctx, tenantID); err != nil {
			return err
		}
		isDefault := false
		if p.IsDefault != nil {
			isDefault = *p.IsDefault
		} else {
			none, err := tx.Agents().HasNoDefault(ctx, tenantID)
			if err != nil {
				return err
			}
			isDefault = none
		}
		if isDefault {
			if err := tx.Agents().ClearDefault(ctx, tenantID); err != nil {
				return err
			}
		}
		row, err := tx.Agents().Insert(ctx, store.InsertAgentParams{
			TenantID: tenantID, Name: cfg.Name, Type: cfg.Type, Config: cfgJSON, IsDefault: isDefault, Slug: p.Slug})
		if err != nil {
			return err
		}
		if a, err = agentFromRow(row); err != nil {
			return err
		}
		_, err = insertDocuments(ctx, tx, tenantID, a.ID, knowledge)
		return err
	})
	if err != nil {
		return Agent{}, classifyDBError("create agent", err)
	}
	return a, nil
}

// mergeConfig overlays the non-zero fields of o on base.
func mergeConfig(base, o AgentConfig) AgentConfig {
	if o.Name != "" {
		base.Name = o.Name
	}
	if o.Type != "" {
		base.Type = o.Type
	}
	if o.SystemPrompt != "" {
		base.SystemPrompt = o.SystemPrompt
	}
	if o.Capabilities != nil {
		base.Capabilities = o.Capabilities
	}
	if o.KnowledgeBase != "" {
		base.KnowledgeBase = o.KnowledgeBase
	}
	if o.ResponseSettings.MaxTokens != 0 {
		base.ResponseSettings.MaxTokens = o.ResponseSettings.MaxTokens
	}
	if o.ResponseSettings.Temperature != 0 {
		base.ResponseSettings.Temperature = o.ResponseSettings.Temperature
	}
	if o.ResponseSettings.Language != "" {
		base.ResponseSettings.Language = o.ResponseSettings.Language
	}
	if o.Model != nil {
		base.Model = o.Model
	}
	if o.AllowGroups {
		base.AllowGroups = true
	}
	if o.HandoffKeywords != nil {
		base.HandoffKeywords = o.HandoffKeywords
	}
	if o.HandoffMessage != "" {
		base.HandoffMessage = o.HandoffMessage
	}
	return base
}

// agentFromRow decodes a stored agent's configuration.
func agentFromRow(r store.Agent) (Agent, error) {
	a := Agent{ID: r.ID, TenantID: r.TenantID, Slug: r.Slug, Name: r.Name, Type: r.Type,
		IsActive: r.IsActive, IsDefault: r.IsDefault, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal(r.Config, &a.Config); err != nil {
		return Agent{}, fmt.Errorf("decode agent %s configuration: %w", r.ID, err)
	}
	return a, nil
}

func errBadSlug(s string) error {
	return zapbase.Errorf(zapbase.CodeInvalidInput, "agentId: %q inválido; use de 1 a 64 letras minúsculas, dígitos, _ ou - (ex.: real_estate_agent)", s)
}

// ResolveAgentID turns an agent reference (its UUID or the tenant's slug)
// into the agent's UUID. Another tenant's agent is not found.
func (s *Service) ResolveAgentID(ctx context.Context, tenantID, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || (!IsUUID(ref) && !slugPattern.MatchString(ref)) {
		return "", &zapbase.Error{Code: zapbase.CodeNotFound, Message: "agente não encontrado"}
	}
	var (
		id  string
		err error
	)
	if IsUUID(ref) {
		id, err = s.st.Agents().IDByUUID(ctx, tenantID, strings.ToLower(ref))
	} else {
		id, err = s.st.Agents().IDBySlug(ctx, tenantID, ref)
	}
	if err != nil {
		return "", classifyDBError("resolve agent", err)
	}
	return id, nil
}

// ListAgents lists a tenant's agents, newest first.
func (s *Service) ListAgents(ctx context.Context, tenantID string) ([]Agent, error) {
	rows, err := s.st.Agents().List(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	agents := make([]Agent, 0, len(rows))
	for _, r := range rows {
		a, err := agentFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		agents = append(agents, a)
	}
	return agents, nil
}

// GetAgent returns one agent.
func (s *Service) GetAgent(ctx context.Context, tenantID, agentID string) (Agent, error) {
	agentID, err := s.ResolveAgentID(ctx, tenantID, agentID)
	if err != nil {
		return Agent{}, err
	}
	row, err := s.st.Agents().Get(ctx, tenantID, agentID)
	if err != nil {
		return Agent{}, classifyDBError("get agent", err)
	}
	return agentFromRow(row)
}

// ConfigureAgentParams change an agent. Nil fields are left as they are.
type ConfigureAgentParams struct {
	// Config replaces the configuration (validated as a whole).
	Config    *AgentConfig `json:"configuration,omitempty"`
	IsActive  *bool        `json:"isActive,omitempty"`
	IsDefault *bool        `json:"isDefault,omitempty"`
	// Knowledge, when not nil, replaces the agent's knowledge base.
	Knowledge []KnowledgeDocument `json:"knowledge,omitempty"`
	// Merge overlays Config's non-empty fields on the stored configuration
	// instead of replacing it.
	Merge bool `json:"-"`
	// PatchFunc, when set, computes the new configuration from the stored
	// one under the row lock (JSON Merge Patch from the API); Config is
	// ignored then.
	PatchFunc func(AgentConfig) (AgentConfig, error) `json:"-"`
	// Slug sets the agent's slug (nil: unchanged; "": removed).
	Slug *string `json:"agentId,omitempty"`
}

// ConfigureAgent updates an agent.
func (s *Service) ConfigureAgent(ctx context.Context, tenantID, agentID string, p ConfigureAgentParams) (Agent, error) {
	if p.Config != nil && !p.Merge {
		c := p.Config.withDefaults()
		if err := c.Validate(); err != nil {
			return Agent{}, err
		}
		p.Config = &c
	}
	if len(p.Knowledge) > MaxDocumentsPerCall {
		return Agent{}, zapbase.Errorf(zapbase.CodeInvalidInput, "knowledge: no máximo %d documentos por chamada", MaxDocumentsPerCall)
	}
	if p.Slug != nil && *p.Slug != "" && !ValidSlug(*p.Slug) {
		return Agent{}, errBadSlug(*p.Slug)
	}
	agentID, err := s.ResolveAgentID(ctx, tenantID, agentID)
	if err != nil {
		return Agent{}, err
	}
	var a Agent
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if p.IsDefault != nil {
			// Changing is_default rewrites tenants.settings (migration
			// 000081): lock the tenant first, in the same order as a
			// settings update does, so the two never deadlock.
			if err := tx.Tenants().LockForUpdate(ctx, tenantID); err != nil {
				return err
			}
		}
		row, err := tx.Agents().GetForUpdate(ctx, tenantID, agentID)
		if err != nil {
			return err
		}
		if a, err = agentFromRow(row); err != nil {
			return err
		}
		if p.PatchFunc != nil {
			c, err := p.PatchFunc(a.Config)
			if err != nil {
				return err
			}
			c = c.withDefaults()
			if err := c.Validate(); err != nil {
				return err
			}
			p.Config = &c
		} else if p.Config != nil && p.Merge {
			c := mergeConfig(a.Config, *p.Config).withDefaults()
			if err := c.Validate(); err != nil {
				return err
			}
			p.Config = &c
		}
		if p.IsDefault != nil && *p.IsDefault {
			if err := tx.Agents().ClearDefaultExcept(ctx, tenantID, agentID); err != nil {
				return err
			}
		}
		var cfgJSON []byte
		if p.Config != nil {
			cfgJSON, _ = json.Marshal(p.Config)
		}
		row, err = tx.Agents().Update(ctx, store.UpdateAgentParams{TenantID: tenantID, AgentID: agentID, Config: cfgJSON,
			Name:     cfgField(p.Config, func(c *AgentConfig) string { return c.Name }),
			Type:     cfgField(p.Config, func(c *AgentConfig) string { return c.Type }),
			IsActive: p.IsActive, IsDefault: p.IsDefault, Slug: p.Slug})
		if err != nil {
			return err
		}
		if a, err = agentFromRow(row); err != nil {
			return err
		}
		if p.Knowledge != nil {
			if err := tx.Knowledge().DeleteAgentDocuments(ctx, tenantID, agentID); err != nil {
				return err
			}
			if _, err := insertDocuments(ctx, tx, tenantID, agentID, p.Knowledge); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Agent{}, classifyDBError("configure agent", err)
	}
	return a, nil
}

func cfgField(c *AgentConfig, f func(*AgentConfig) string) *string {
	if c == nil {
		return nil
	}
	v := f(c)
	return &v
}

// AddKnowledge appends documents to an agent's knowledge base.
func (s *Service) AddKnowledge(ctx context.Context, tenantID, agentID string, docs []KnowledgeDocument) ([]KnowledgeDocument, error) {
	if len(docs) == 0 || len(docs) > MaxDocumentsPerCall {
		return nil, zapbase.Errorf(zapbase.CodeInvalidInput, "knowledge: envie de 1 a %d documentos", MaxDocumentsPerCall)
	}
	agentID, err := s.ResolveAgentID(ctx, tenantID, agentID)
	if err != nil {
		return nil, err
	}
	var out []KnowledgeDocument
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.Agents().EnsureExists(ctx, tenantID, agentID); err != nil {
			return err
		}
		var err error
		out, err = insertDocuments(ctx, tx, tenantID, agentID, docs)
		return err
	})
	if err != nil {
		return nil, classifyDBError("add knowledge", err)
	}
	return out, nil
}

// AssignConversationParams name the conversation to assign.
type AssignConversationParams struct {
	// SessionID is the tenant's WhatsApp session (whatsapp_sessions.id).
	SessionID string `json:"sessionId"`
	// Contact is the contact's phone number (international digits) or chat id.
	Contact string `json:"contact"`
}

// AssignConversation makes agentID answer the conversation (creating it when
// needed) and reactivates it if it was paused or handed off.
func (s *Service) AssignConversation(ctx context.Context, tenantID, agentID string, p AssignConversationParams) (Conversation, error) {
	contact := strings.TrimSpace(p.Contact)
	if contact == "" || len(contact) > 200 {
		return Conversation{}, zapbase.Errorf(zapbase.CodeInvalidInput, "contact: informe o número do contato")
	}
	if strings.TrimSpace(p.SessionID) == "" {
		return Conversation{}, zapbase.Errorf(zapbase.CodeInvalidInput, "sessionId: informe a sessão do WhatsApp")
	}
	agentID, err := s.ResolveAgentID(ctx, tenantID, agentID)
	if err != nil {
		return Conversation{}, err
	}
	var c Conversation
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.Agents().IsActive(ctx, tenantID, agentID); err != nil {
			return err
		}
		if err := tx.Sessions().EnsureExists(ctx, tenantID, p.SessionID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrSessionNotFound
			}
			return err
		}
		row, err := tx.Conversations().Assign(ctx, store.AssignConversationParams{
			TenantID: tenantID, SessionID: p.SessionID, Contact: contact, AgentID: agentID})
		c = Conversation(row)
		return err
	})
	if err != nil {
		return Conversation{}, classifyDBError("assign conversation", err)
	}
	return c, nil
}

// ModelCredentials are a tenant's own model credentials, sealed at rest.
type ModelCredentials = ModelSpec

// SetModelCredentials seals and stores a tenant's model credentials (nil
// deletes them: the global ones apply again).
func (s *Service) SetModelCredentials(ctx context.Context, tenantID string, c *ModelCredentials) error {
	if c == nil {
		err := s.st.TenantSecrets().Delete(ctx, tenantID, modelCredentialsName)
		return classifyDBError("delete model credentials", err)
	}
	switch c.Backend {
	case BackendGemini, BackendOpenAI:
		if c.APIKey == "" {
			return zapbase.Errorf(zapbase.CodeInvalidInput, "apiKey: obrigatória para o backend %s", c.Backend)
		}
	case BackendLocal:
	default:
		return zapbase.Errorf(zapbase.CodeInvalidInput, "backend: use gemini, openai ou local")
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return zapbase.Errorf(zapbase.CodeInvalidInput, "baseUrl: URL inválida")
		}
	}
	plain, _ := json.Marshal(c)
	return s.putSecret(ctx, tenantID, modelCredentialsName, plain)
}

// SetToolEndpoint configures the tenant's HTTPS tool endpoint and its HMAC
// secret (an empty url removes it).
func (s *Service) SetToolEndpoint(ctx context.Context, tenantID, endpointURL, hmacSecret string) error {
	if endpointURL == "" {
		err := s.st.AISettings().ClearToolEndpoint(ctx, tenantID)
		return classifyDBError("remove tool endpoint", err)
	}
	u, err := url.Parse(endpointURL)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || (s.AllowInsecureToolEndpoints && u.Scheme == "http")) {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "toolEndpoint: use uma URL https://")
	}
	if len(hmacSecret) < 16 {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "secret: o segredo HMAC deve ter pelo menos 16 caracteres")
	}
	if err := s.putSecret(ctx, tenantID, toolEndpointSecretName, []byte(hmacSecret)); err != nil {
		return err
	}
	err = s.st.AISettings().SetToolEndpoint(ctx, tenantID, endpointURL)
	return classifyDBError("set tool endpoint", err)
}

// SetDailyTokenBudget sets the tenant's daily token budget (nil: the
// runtime's default applies; 0 blocks model calls).
func (s *Service) SetDailyTokenBudget(ctx context.Context, tenantID string, budget *int64) error {
	if budget != nil && *budget < 0 {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "dailyTokenBudget: não pode ser negativo")
	}
	err := s.st.AISettings().SetDailyTokenBudget(ctx, tenantID, budget)
	return classifyDBError("set token budget", err)
}

func (s *Service) putSecret(ctx context.Context, tenantID, name string, plain []byte) error {
	if s.box == nil {
		return zapbase.Errorf(zapbase.CodeUnavailable, "criptografia não configurada (ZAPBASE_ENCRYPTION_KEY)")
	}
	keyID, sealed, err := s.box.Seal(plain, secretAAD(tenantID, name))
	if err != nil {
		return fmt.Errorf("seal %s: %w", name, err)
	}
	err = s.st.TenantSecrets().Put(ctx, store.PutTenantSecretParams{TenantID: tenantID, Name: name, KeyID: keyID, Ciphertext: sealed})
	return classifyDBError("store secret", err)
}

// secretAAD binds a sealed tenant secret to its tenant and name.
func secretAAD(tenantID, name string) []byte { return []byte("tenant_secret:" + tenantID + ":" + name) }

// openSecret reads and opens a tenant secret; nil when absent.
func openSecret(ctx context.Context, st *store.Store, box *secret.Box, tenantID, name string) ([]byte, error) {
	sec, err := st.TenantSecrets().Get(ctx, tenantID, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if box == nil {
		return nil, fmt.Errorf("open secret %s: no encryption key", name)
	}
	return box.Open(sec.KeyID, sec.Ciphertext, secretAAD(tenantID, name))
}

// classifyDBError turns not-found and constraint errors into user errors.
func classifyDBError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ze *zapbase.Error
	if errors.As(err, &ze) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &zapbase.Error{Code: zapbase.CodeNotFound, Message: "agente não encontrado", Cause: err}
	}
	switch {
	case pgerr.IsInvalidText(err): // a malformed uuid
		return &zapbase.Error{Code: zapbase.CodeNotFound, Message: "registro não encontrado (identificador inválido)", Cause: err}
	case pgerr.IsUniqueViolation(err):
		if pgerr.Constraint(err) == "ai_agents_tenant_slug_idx" {
			return &zapbase.Error{Code: zapbase.CodeConflict, Message: "agentId: já existe um agente com este id neste tenant", Cause: err}
		}
		return &zapbase.Error{Code: zapbase.CodeConflict, Message: "conflito com um registro existente", Cause: err}
	case pgerr.IsForeignKeyViolation(err), pgerr.IsCheckViolation(err):
		return &zapbase.Error{Code: zapbase.CodeInvalidInput, Message: "dados inválidos para este cliente", Cause: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// ListKnowledge lists an agent's knowledge documents, oldest first.
func (s *Service) ListKnowledge(ctx context.Context, tenantID, agentID string) ([]KnowledgeDocument, error) {
	a, err := s.GetAgent(ctx, tenantID, agentID)
	if err != nil {
		return nil, err
	}
	agentID = a.ID
	rows, err := s.st.Knowledge().ListDocuments(ctx, tenantID, agentID)
	if err != nil {
		return nil, err
	}
	docs := make([]KnowledgeDocument, len(rows))
	for i, d := range rows {
		docs[i] = KnowledgeDocument(d)
	}
	return docs, nil
}

// TenantAISettings is what a tenant configured for its agents (never the
// secrets themselves).
type TenantAISettings struct {
	// ModelBackend is the backend of the tenant's own credentials ("" when
	// the deployment's global credentials, or the local backend, apply).
	ModelBackend string `json:"modelBackend,omitempty"`
	ModelName    string `json:"modelName,omitempty"`
	ModelBaseURL string `json:"modelBaseUrl,omitempty"`
	// ToolEndpoint is the tenant's HTTPS tool endpoint ("" when none).
	ToolEndpoint string `json:"toolEndpoint,omitempty"`
	// DailyTokenBudget is the tenant's own budget (nil: the default applies).
	DailyTokenBudget *int64 `json:"dailyTokenBudget"`
	// TokensUsedToday are the tokens spent today (UTC).
	TokensUsedToday int64 `json:"tokensUsedToday"`
}

// GetAISettings returns the tenant's AI settings.
func (s *Service) GetAISettings(ctx context.Context, tenantID string) (TenantAISettings, error) {
	var st TenantAISettings
	row, err := s.st.AISettings().Get(ctx, tenantID)
	if err != nil {
		return st, err
	}
	st.DailyTokenBudget, st.TokensUsedToday = row.DailyTokenBudget, row.TokensUsedToday
	if row.ToolEndpoint != nil {
		st.ToolEndpoint = *row.ToolEndpoint
	}
	plain, err := openSecret(ctx, s.st, s.box, tenantID, modelCredentialsName)
	if err != nil {
		return st, err
	}
	if plain != nil {
		var spec ModelSpec
		if err := json.Unmarshal(plain, &spec); err != nil {
			return st, fmt.Errorf("decode tenant model credentials: %w", err)
		}
		st.ModelBackend, st.ModelName, st.ModelBaseURL = spec.Backend, spec.Model, spec.BaseURL
	}
	return st, nil
}
