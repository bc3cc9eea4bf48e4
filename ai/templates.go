package ai

// Template is a built-in agent configuration with sample knowledge, so that
// creating an agent from it gives a working agent at once.
type Template struct {
	ID          string              `json:"id"`
	Description string              `json:"description"`
	Config      AgentConfig         `json:"configuration"`
	Knowledge   []KnowledgeDocument `json:"sampleKnowledge,omitempty"`
}

// Templates returns the built-in templates (pt-BR) registered by the
// product packages under ai/tools (RegisterTemplate).
func Templates() []Template {
	templatesMu.RLock()
	defer templatesMu.RUnlock()
	return append([]Template(nil), templates...)
}

// TemplateByID returns the template named id.
func TemplateByID(id string) (Template, bool) {
	for _, t := range Templates() {
		if t.ID == id {
			return t, true
		}
	}
	return Template{}, false
}
