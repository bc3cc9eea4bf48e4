// Package realestate is the real-estate agent: its tools (property search,
// visit requests, documentation, the SAC/Price financing calculator) and
// its template. Importing it registers both with the ai package.
package realestate

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/zapbase/zapbase/ai"
)

func init() {
	for _, t := range Tools() {
		ai.DefaultTools.Register(t)
	}
	ai.RegisterTemplate(Template())
}

// Tools returns the real-estate tools.
func Tools() []ai.Tool {
	return []ai.Tool{searchProperties{}, scheduleVisits{}, provideDocumentation{}, calculateFinancing{}}
}

type searchProperties struct{}

func (searchProperties) Spec() ai.ToolSpec {
	return ai.ToolSpec{
		Name:        ai.CapSearchProperties,
		Description: "Procura imóveis disponíveis. Use para qualquer pergunta sobre imóveis à venda ou para alugar.",
		Parameters: ai.SchemaObject(map[string]any{
			"query":        ai.SchemaString("O que o cliente procura, em palavras (ex.: apartamento 2 quartos Pinheiros)"),
			"bedrooms":     ai.SchemaInteger("Número de quartos desejado"),
			"neighborhood": ai.SchemaString("Bairro ou cidade"),
			"max_price":    ai.SchemaNumber("Preço máximo em reais"),
		}, "query"),
	}
}

func (searchProperties) Call(ctx context.Context, tc ai.ToolContext, args json.RawMessage) (any, error) {
	var a map[string]any
	_ = json.Unmarshal(args, &a)
	q := strings.TrimSpace(strings.Join([]string{ai.ArgString(args, "query"), ai.ArgString(args, "neighborhood"), numWord(a["bedrooms"], "quartos")}, " "))
	return tc.SearchKnowledgeFunc(ctx, q, []string{"properties"})
}

func numWord(v any, word string) string {
	if f, ok := v.(float64); ok && f > 0 {
		return fmt.Sprintf("%d %s", int(f), word)
	}
	return ""
}

type scheduleVisits struct{}

func (scheduleVisits) Spec() ai.ToolSpec {
	return ai.ToolSpec{
		Name:        ai.CapScheduleVisits,
		Description: "Registra um pedido de visita a um imóvel. Um corretor confirma o horário.",
		Parameters: ai.SchemaObject(map[string]any{
			"property":       ai.SchemaString("Imóvel a visitar (título ou endereço)"),
			"preferred_time": ai.SchemaString("Data e horário preferidos, como o cliente disse"),
			"contact_name":   ai.SchemaString("Nome do cliente"),
		}, "property", "preferred_time"),
	}
}

func (scheduleVisits) Call(ctx context.Context, tc ai.ToolContext, args json.RawMessage) (any, error) {
	s := func(k string) string { return ai.ArgString(args, k) }
	tc.RequestFunc(map[string]any{"tool": ai.CapScheduleVisits, "property": s("property"), "preferredTime": s("preferred_time"),
		"contactName": s("contact_name"), "at": tc.Now.UTC()})
	info, err := tc.SearchKnowledgeFunc(ctx, "visita horário "+s("property"), []string{"visits"})
	if err != nil {
		return nil, err
	}
	return map[string]any{"status": "requested",
		"message": "Pedido de visita registrado. Um corretor vai confirmar o horário com o cliente.",
		"info":    info["results"]}, nil
}

type provideDocumentation struct{}

func (provideDocumentation) Spec() ai.ToolSpec {
	return ai.ToolSpec{
		Name:        ai.CapProvideDocumentation,
		Description: "Informa os documentos necessários para compra, aluguel ou financiamento.",
		Parameters: ai.SchemaObject(map[string]any{
			"topic": ai.SchemaString("Assunto (ex.: financiamento, aluguel, compra à vista)"),
		}, "topic"),
	}
}

func (provideDocumentation) Call(ctx context.Context, tc ai.ToolContext, args json.RawMessage) (any, error) {
	return tc.SearchKnowledgeFunc(ctx, ai.ArgString(args, "topic")+" documentos", []string{"documentation"})
}

// calculateFinancing runs in-process even when the tenant has a tool
// endpoint: it needs no tenant data.
type calculateFinancing struct{}

func (calculateFinancing) Local() bool { return true }

func (calculateFinancing) Spec() ai.ToolSpec {
	return ai.ToolSpec{
		Name:        ai.CapCalculateFinancing,
		Description: "Simula um financiamento imobiliário pelos sistemas SAC e/ou Price e devolve parcelas e totais formatados em reais.",
		Parameters: ai.SchemaObject(map[string]any{
			"property_value":        ai.SchemaNumber("Valor do imóvel em reais"),
			"down_payment":          ai.SchemaNumber("Entrada em reais (0 se não houver)"),
			"annual_interest_rate":  ai.SchemaNumber("Taxa de juros efetiva ao ano, em porcentagem (ex.: 10.5)"),
			"monthly_interest_rate": ai.SchemaNumber("Taxa de juros ao mês, em porcentagem (use no lugar da anual se o cliente informar a mensal)"),
			"term_months":           ai.SchemaInteger("Prazo em meses"),
			"system":                map[string]any{"type": "string", "enum": []string{"SAC", "PRICE", "AMBOS"}, "description": "Sistema de amortização"},
		}, "property_value", "term_months"),
	}
}

func (calculateFinancing) Call(_ context.Context, _ ai.ToolContext, args json.RawMessage) (any, error) {
	return financingTool(args)
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

// Template is the real-estate agent template (sample knowledge included).
func Template() ai.Template {
	return ai.Template{
		ID:          ai.TypeRealEstate,
		Description: "Corretor virtual: busca imóveis, agenda visitas, informa a documentação e simula financiamentos (SAC e Price).",
		Config: ai.AgentConfig{
			Name: "Assistente Imobiliário",
			Type: ai.TypeRealEstate,
			SystemPrompt: "Você é um corretor de imóveis virtual, cordial e objetivo, que atende clientes pelo WhatsApp em português do Brasil. " +
				"Use a ferramenta search_properties para procurar imóveis e responda apenas com imóveis que ela retornar, citando bairro, quartos e preço. " +
				"Use schedule_visits para agendar visitas (peça nome, imóvel e data/horário), provide_documentation para explicar documentos necessários " +
				"e calculate_financing para simular financiamentos (SAC ou Price). Nunca invente imóveis, preços ou taxas. " +
				"Se o cliente pedir um atendente ou você não souber ajudar, use handoff_to_human. Responda em mensagens curtas, próprias para WhatsApp.",
			Capabilities:     []string{ai.CapSearchProperties, ai.CapScheduleVisits, ai.CapProvideDocumentation, ai.CapCalculateFinancing},
			KnowledgeBase:    "property_database",
			ResponseSettings: ai.ResponseSettings{MaxTokens: 500, Temperature: 0.7, Language: "pt-BR"},
		},
		Knowledge: []ai.KnowledgeDocument{
			{Title: "Apartamento 2 quartos — Vila Mariana", Category: "properties",
				Content: "Apartamento de 2 quartos (1 suíte) na Vila Mariana, São Paulo. 68 m², 1 vaga, varanda, condomínio R$ 780. Venda: R$ 650.000. Próximo ao metrô Ana Rosa."},
			{Title: "Apartamento 2 quartos — Pinheiros", Category: "properties",
				Content: "Apartamento de 2 quartos em Pinheiros, São Paulo. 59 m², 1 vaga, prédio com lazer. Venda: R$ 720.000. Aceita financiamento."},
			{Title: "Casa 3 quartos — Campinas", Category: "properties",
				Content: "Casa térrea de 3 quartos no bairro Taquaral, Campinas. 140 m² de área construída, quintal, 2 vagas. Venda: R$ 890.000."},
			{Title: "Documentos para financiamento", Category: "documentation",
				Content: "Para financiar um imóvel: RG e CPF, comprovante de estado civil, comprovante de residência, comprovantes de renda dos últimos 3 meses, extrato do FGTS (se for usar) e declaração do imposto de renda."},
			{Title: "Como funcionam as visitas", Category: "visits",
				Content: "Visitas acontecem de segunda a sábado, das 9h às 18h, acompanhadas por um corretor. Um corretor confirma o horário pelo WhatsApp."},
		},
	}
}
