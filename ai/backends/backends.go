// Package backends wires the agent runtime's model backends (Gemini,
// OpenAI-compatible, local retrieval) so cmd/zapbase needs one call.
package backends

import (
	"net/http"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/gemini"
	"github.com/zapbase/zapbase/ai/local"
	"github.com/zapbase/zapbase/ai/openai"
)

// Config holds the deployment's global model credentials (environment:
// GEMINI_API_KEY, GEMINI_BASE_URL, OPENAI_API_KEY, OPENAI_BASE_URL,
// ZAPBASE_AI_MODEL).
type Config struct {
	GeminiAPIKey  string
	GeminiBaseURL string
	GeminiModel   string
	OpenAIAPIKey  string
	OpenAIBaseURL string
	OpenAIModel   string
	HTTPClient    *http.Client
}

// Factories returns the model factories by backend name.
func Factories(httpClient *http.Client) map[string]ai.ModelFactoryFunc {
	return map[string]ai.ModelFactoryFunc{
		ai.BackendGemini: gemini.Factory(httpClient),
		ai.BackendOpenAI: openai.Factory(httpClient),
		ai.BackendLocal:  local.Factory(),
	}
}

// Global returns the global model specs in preference order (Gemini, then
// OpenAI-compatible). Empty means the local backend answers.
func Global(c Config) []ai.ModelSpec {
	var out []ai.ModelSpec
	if c.GeminiAPIKey != "" {
		out = append(out, ai.ModelSpec{Backend: ai.BackendGemini, APIKey: c.GeminiAPIKey, BaseURL: c.GeminiBaseURL, Model: c.GeminiModel})
	}
	if c.OpenAIAPIKey != "" || c.OpenAIBaseURL != "" {
		out = append(out, ai.ModelSpec{Backend: ai.BackendOpenAI, APIKey: c.OpenAIAPIKey, BaseURL: c.OpenAIBaseURL, Model: c.OpenAIModel})
	}
	return out
}
