package ai

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Capabilities an agent may have; each enables one tool of the same name.
// The names are the stable vocabulary of agents' configurations; the tools
// behind them live in packages under ai/tools (search_knowledge_base and
// handoff_to_human in tool.go).
const (
	CapSearchProperties     = "search_properties"
	CapScheduleVisits       = "schedule_visits"
	CapProvideDocumentation = "provide_documentation"
	CapCalculateFinancing   = "calculate_financing"
	CapSearchKnowledgeBase  = "search_knowledge_base"
	// ToolHandoff is available to every agent.
	ToolHandoff = "handoff_to_human"
)

// Tool endpoint limits.
const (
	DefaultToolTimeout      = 10 * time.Second
	MaxToolResponseBytes    = 64 << 10
	ToolSignatureHeader     = "X-Zapbase-Signature"
	ToolTimestampHeader     = "X-Zapbase-Timestamp"
	toolEndpointSecretName  = "ai_tool_endpoint_secret"
	modelCredentialsName    = "ai_model_credentials"
	maxToolRoundsPerTurn    = 4
	maxToolCallsPerResponse = 8
)

// KnownCapabilities lists the capability names (the tools of DefaultTools
// but handoff_to_human, which every agent has), sorted.
func KnownCapabilities() []string {
	var out []string
	for _, n := range DefaultTools.Names() {
		if n != ToolHandoff {
			out = append(out, n)
		}
	}
	return out
}

// toolsFor returns the tools of an agent's capabilities plus the handoff tool.
func toolsFor(reg *ToolRegistry, cfg AgentConfig) []ToolSpec {
	var out []ToolSpec
	for _, c := range cfg.Capabilities {
		if c == ToolHandoff {
			continue
		}
		if t, ok := reg.Lookup(c); ok {
			out = append(out, t.Spec())
		}
	}
	h, _ := reg.Lookup(ToolHandoff)
	return append(out, h.Spec())
}

// toolEndpoint is a tenant's HTTPS endpoint answering tool calls.
type toolEndpoint struct {
	URL    string
	Secret []byte
}

// ToolRequest is the JSON body POSTed to a tenant's tool endpoint.
type ToolRequest struct {
	Tool           string          `json:"tool"`
	Arguments      json.RawMessage `json:"arguments"`
	TenantID       string          `json:"tenantId"`
	AgentID        string          `json:"agentId"`
	ConversationID string          `json:"conversationId"`
	Contact        string          `json:"contact"`
}

// SignToolRequest computes the signature header value for body sent at ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)). Endpoints verify it
// (and reject stale timestamps) to know the call comes from zapbase.
func SignToolRequest(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

var errToolResponseTooLarge = errors.New("tool endpoint response too large")

// callToolEndpoint POSTs a signed tool request and returns its JSON object
// answer, bounded in time and size.
func callToolEndpoint(ctx context.Context, client *http.Client, ep toolEndpoint, req ToolRequest, now time.Time, timeout time.Duration) (json.RawMessage, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build tool request: %w", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "zapbase-ai-tools/1")
	hr.Header.Set(ToolTimestampHeader, ts)
	hr.Header.Set(ToolSignatureHeader, SignToolRequest(ep.Secret, ts, body))
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("call tool endpoint: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxToolResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read tool endpoint response: %w", err)
	}
	if len(data) > MaxToolResponseBytes {
		return nil, errToolResponseTooLarge
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("tool endpoint answered HTTP %d", resp.StatusCode)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("tool endpoint answered invalid JSON object: %w", err)
	}
	return data, nil
}
