package ai

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/zapbase/zapbase"
)

// AgentConfig is an agent's configuration as stored in
// ai_agents.configuration (the original spec's annex A, extended).
type AgentConfig struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	SystemPrompt string   `json:"systemPrompt"`
	Capabilities []string `json:"capabilities"`
	// KnowledgeBase names the agent's knowledge base. Documents themselves
	// live in ai_knowledge_documents (see KnowledgeDocument).
	KnowledgeBase    string           `json:"knowledgeBase,omitempty"`
	ResponseSettings ResponseSettings `json:"responseSettings"`
	// Model optionally pins a backend and model name; credentials come from
	// the tenant's sealed credentials or the global configuration.
	Model *ModelChoice `json:"model,omitempty"`
	// AllowGroups lets the agent answer in group chats (off by default).
	AllowGroups bool `json:"allowGroups,omitempty"`
	// HandoffKeywords let the contact ask for a human (defaults apply when
	// empty).
	HandoffKeywords []string `json:"handoffKeywords,omitempty"`
	// HandoffMessage is sent when the agent hands the conversation over.
	HandoffMessage string `json:"handoffMessage,omitempty"`
}

// ResponseSettings tune the model's answers.
type ResponseSettings struct {
	MaxTokens   int     `json:"maxTokens"`
	Temperature float64 `json:"temperature"`
	Language    string  `json:"language"`
}

// ModelChoice pins an agent to a backend.
type ModelChoice struct {
	Backend string `json:"backend"`
	Name    string `json:"name,omitempty"`
}

// Limits and defaults of agent configurations.
const (
	MaxSystemPromptChars  = 20000
	MaxResponseTokens     = 8192
	DefaultMaxTokens      = 500
	DefaultTemperature    = 0.7
	DefaultLanguage       = "pt-BR"
	DefaultHandoffMessage = "Vou transferir você para um atendente humano. Aguarde um momento, por favor."
)

// DefaultHandoffKeywords let a contact ask for a human.
var DefaultHandoffKeywords = []string{"atendente", "humano", "falar com uma pessoa", "falar com alguém"}

// Agent types.
const (
	TypeRealEstate      = "real_estate"
	TypeCustomerSupport = "customer_support"
	TypeCustom          = "custom"
)

// UnmarshalJSON accepts knowledgeBase as a string (the spec's form) or as an
// object with a name.
func (c *AgentConfig) UnmarshalJSON(b []byte) error {
	type plain AgentConfig
	var aux struct {
		plain
		KnowledgeBase json.RawMessage `json:"knowledgeBase,omitempty"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*c = AgentConfig(aux.plain)
	c.KnowledgeBase = ""
	if len(aux.KnowledgeBase) > 0 && string(aux.KnowledgeBase) != "null" {
		var s string
		if err := json.Unmarshal(aux.KnowledgeBase, &s); err == nil {
			c.KnowledgeBase = s
		} else {
			var o struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(aux.KnowledgeBase, &o); err != nil {
				return fmt.Errorf("knowledgeBase: %w", err)
			}
			c.KnowledgeBase = o.Name
		}
	}
	return nil
}

// withDefaults fills unset response settings.
func (c AgentConfig) withDefaults() AgentConfig {
	if c.ResponseSettings.MaxTokens == 0 {
		c.ResponseSettings.MaxTokens = DefaultMaxTokens
	}
	if c.ResponseSettings.Language == "" {
		c.ResponseSettings.Language = DefaultLanguage
	}
	if c.Type == "" {
		c.Type = TypeCustom
	}
	c.Capabilities = dedupe(annexCapabilities(c.Capabilities))
	return c
}

// capabilityNames maps the capability names a configuration may use (the
// original spec's annex A and a few obvious spellings of them) to the
// built-in tool that implements each. Unknown names pass through and fail
// Validate with the list of known ones.
var capabilityNames = map[string]string{
	"search_properties":     CapSearchProperties,
	"property_search":       CapSearchProperties,
	"schedule_visits":       CapScheduleVisits,
	"schedule_visit":        CapScheduleVisits,
	"provide_documentation": CapProvideDocumentation,
	"documentation":         CapProvideDocumentation,
	"calculate_financing":   CapCalculateFinancing,
	"financing_calculator":  CapCalculateFinancing,
	"search_knowledge_base": CapSearchKnowledgeBase,
	"knowledge_base":        CapSearchKnowledgeBase,
}

func annexCapabilities(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, c := range in {
		c = strings.TrimSpace(c)
		if tool, ok := capabilityNames[strings.ToLower(c)]; ok {
			c = tool
		}
		out[i] = c
	}
	return out
}

// Agent slugs: the annex's agentId, chosen by the tenant.
var (
	slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// ValidSlug reports whether s can be an agent's agentId.
func ValidSlug(s string) bool { return slugPattern.MatchString(s) && !uuidPattern.MatchString(s) }

// IsUUID reports whether s is shaped like a UUID.
func IsUUID(s string) bool { return uuidPattern.MatchString(s) }

// Validate checks a configuration; errors are *zapbase.Error with pt-BR
// messages naming the field.
func (c AgentConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return zapbase.Errorf(zapbase.CodeInvalidInput, format, args...)
	}
	name := strings.TrimSpace(c.Name)
	if name == "" || len([]rune(name)) > 120 {
		return bad("name: informe um nome entre 1 e 120 caracteres")
	}
	switch c.Type {
	case TypeRealEstate, TypeCustomerSupport, TypeCustom:
	default:
		return bad("type: tipo de agente inválido %q (use real_estate, customer_support ou custom)", c.Type)
	}
	if strings.TrimSpace(c.SystemPrompt) == "" {
		return bad("systemPrompt: o prompt do sistema é obrigatório")
	}
	if len([]rune(c.SystemPrompt)) > MaxSystemPromptChars {
		return bad("systemPrompt: no máximo %d caracteres", MaxSystemPromptChars)
	}
	for _, cap := range c.Capabilities {
		if _, ok := DefaultTools.Lookup(cap); !ok || cap == ToolHandoff {
			return bad("capabilities: capacidade desconhecida %q (disponíveis: %s)", cap, strings.Join(KnownCapabilities(), ", "))
		}
	}
	rs := c.ResponseSettings
	if rs.MaxTokens < 1 || rs.MaxTokens > MaxResponseTokens {
		return bad("responseSettings.maxTokens: use um valor entre 1 e %d", MaxResponseTokens)
	}
	if rs.Temperature < 0 || rs.Temperature > 2 {
		return bad("responseSettings.temperature: use um valor entre 0 e 2")
	}
	if len(rs.Language) < 2 || len(rs.Language) > 10 {
		return bad("responseSettings.language: idioma inválido (exemplo: pt-BR)")
	}
	if len(c.KnowledgeBase) > 120 {
		return bad("knowledgeBase: nome muito longo (máximo 120 caracteres)")
	}
	if c.Model != nil {
		switch c.Model.Backend {
		case BackendGemini, BackendOpenAI, BackendLocal:
		default:
			return bad("model.backend: use gemini, openai ou local")
		}
	}
	if len(c.HandoffKeywords) > 50 {
		return bad("handoffKeywords: no máximo 50 palavras")
	}
	for _, k := range c.HandoffKeywords {
		if len([]rune(k)) > 100 {
			return bad("handoffKeywords: cada palavra com no máximo 100 caracteres")
		}
	}
	if c.Model != nil && len(c.Model.Name) > 200 {
		return bad("model.name: no máximo 200 caracteres")
	}
	if len(c.HandoffMessage) > 1000 {
		return bad("handoffMessage: no máximo 1000 caracteres")
	}
	return nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
