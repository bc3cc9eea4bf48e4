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
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Capabilities an agent may have; each enables one tool of the same name.
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

var capabilityTools = map[string]ToolSpec{
	CapSearchProperties: {
		Name:        CapSearchProperties,
		Description: "Procura imóveis disponíveis. Use para qualquer pergunta sobre imóveis à venda ou para alugar.",
		Parameters: object(map[string]any{
			"query":        str("O que o cliente procura, em palavras (ex.: apartamento 2 quartos Pinheiros)"),
			"bedrooms":     integer("Número de quartos desejado"),
			"neighborhood": str("Bairro ou cidade"),
			"max_price":    number("Preço máximo em reais"),
		}, "query"),
	},
	CapScheduleVisits: {
		Name:        CapScheduleVisits,
		Description: "Registra um pedido de visita a um imóvel. Um corretor confirma o horário.",
		Parameters: object(map[string]any{
			"property":       str("Imóvel a visitar (título ou endereço)"),
			"preferred_time": str("Data e horário preferidos, como o cliente disse"),
			"contact_name":   str("Nome do cliente"),
		}, "property", "preferred_time"),
	},
	CapProvideDocumentation: {
		Name:        CapProvideDocumentation,
		Description: "Informa os documentos necessários para compra, aluguel ou financiamento.",
		Parameters: object(map[string]any{
			"topic": str("Assunto (ex.: financiamento, aluguel, compra à vista)"),
		}, "topic"),
	},
	CapCalculateFinancing: {
		Name:        CapCalculateFinancing,
		Description: "Simula um financiamento imobiliário pelos sistemas SAC e/ou Price e devolve parcelas e totais formatados em reais.",
		Parameters: object(map[string]any{
			"property_value":        number("Valor do imóvel em reais"),
			"down_payment":          number("Entrada em reais (0 se não houver)"),
			"annual_interest_rate":  number("Taxa de juros efetiva ao ano, em porcentagem (ex.: 10.5)"),
			"monthly_interest_rate": number("Taxa de juros ao mês, em porcentagem (use no lugar da anual se o cliente informar a mensal)"),
			"term_months":           integer("Prazo em meses"),
			"system":                map[string]any{"type": "string", "enum": []string{"SAC", "PRICE", "AMBOS"}, "description": "Sistema de amortização"},
		}, "property_value", "term_months"),
	},
	CapSearchKnowledgeBase: {
		Name:        CapSearchKnowledgeBase,
		Description: "Pesquisa a base de conhecimento da empresa (perguntas frequentes, políticas, produtos).",
		Parameters: object(map[string]any{
			"query": str("Pergunta ou palavras-chave"),
		}, "query"),
	},
}

var handoffTool = ToolSpec{
	Name:        ToolHandoff,
	Description: "Transfere a conversa para um atendente humano. Use quando o cliente pedir, estiver insatisfeito ou você não puder ajudar.",
	Parameters: object(map[string]any{
		"reason": str("Motivo da transferência"),
	}, "reason"),
}

// KnownCapabilities lists the capability names, sorted.
func KnownCapabilities() []string {
	out := make([]string, 0, len(capabilityTools))
	for k := range capabilityTools {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// toolsFor returns the tools of an agent's capabilities plus the handoff tool.
func toolsFor(cfg AgentConfig) []ToolSpec {
	var out []ToolSpec
	for _, c := range cfg.Capabilities {
		if t, ok := capabilityTools[c]; ok {
			out = append(out, t)
		}
	}
	return append(out, handoffTool)
}

func object(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
func str(d string) map[string]any     { return map[string]any{"type": "string", "description": d} }
func integer(d string) map[string]any { return map[string]any{"type": "integer", "description": d} }
func number(d string) map[string]any  { return map[string]any{"type": "number", "description": d} }

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

// financingArgs are calculate_financing's arguments.
type financingArgs struct {
	PropertyValue       float64  `json:"property_value"`
	DownPayment         float64  `json:"down_payment"`
	AnnualInterestRate  *float64 `json:"annual_interest_rate"`
	MonthlyInterestRate *float64 `json:"monthly_interest_rate"`
	TermMonths          int      `json:"term_months"`
	System              string   `json:"system"`
}

// DefaultAnnualRate is used when the contact gave no rate (a typical
// Brazilian housing rate; the answer says it is an assumption).
const DefaultAnnualRate = 0.11

// financingTool runs calculate_financing and answers a pt-BR summary.
func financingTool(args json.RawMessage) (map[string]any, error) {
	var a financingArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("argumentos inválidos: %w", err)
	}
	principal := a.PropertyValue - a.DownPayment
	rate := MonthlyFromAnnual(DefaultAnnualRate)
	assumed := true
	switch {
	case a.MonthlyInterestRate != nil:
		rate, assumed = *a.MonthlyInterestRate/100, false
	case a.AnnualInterestRate != nil:
		rate, assumed = MonthlyFromAnnual(*a.AnnualInterestRate/100), false
	}
	systems := []string{SystemSAC, SystemPrice}
	switch strings.ToUpper(a.System) {
	case SystemSAC:
		systems = []string{SystemSAC}
	case SystemPrice, "TABELA PRICE":
		systems = []string{SystemPrice}
	}
	out := map[string]any{
		"valor_financiado": FormatBRL(principal),
		"prazo_meses":      a.TermMonths,
		"taxa_mensal":      FormatPercent(rate),
		"taxa_anual":       FormatPercent(math.Pow(1+rate, 12) - 1),
	}
	if assumed {
		out["observacao"] = "Taxa não informada: usada taxa de referência de " + FormatPercent(DefaultAnnualRate) + " ao ano. Confirme a taxa com o banco."
	}
	for _, s := range systems {
		r, err := CalculateFinancing(FinancingParams{Principal: principal, MonthlyRate: rate, Months: a.TermMonths, System: s})
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(s)] = map[string]any{
			"primeira_parcela": FormatBRL(r.Schedule[0].Payment),
			"ultima_parcela":   FormatBRL(r.Schedule[len(r.Schedule)-1].Payment),
			"total_pago":       FormatBRL(r.TotalPaid),
			"total_juros":      FormatBRL(r.TotalInterest),
		}
	}
	return out, nil
}

// RunFinancingTool runs calculate_financing on JSON arguments, as a model
// would call it.
func RunFinancingTool(args json.RawMessage) (map[string]any, error) { return financingTool(args) }
