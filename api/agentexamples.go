package api

import "github.com/danielgtaylor/huma/v2"

// annexAExample is the original spec's annex A agent (its knowledgeBase in
// the form zapbase supports).
var annexAExample = map[string]any{
	"agentId": "real_estate_agent",
	"name":    "Especialista em Imóveis",
	"systemPrompt": "Você é um especialista em imóveis que ajuda clientes a encontrar o imóvel ideal. " +
		"Use as ferramentas para buscar imóveis, agendar visitas, informar a documentação e simular financiamentos. Responda em português do Brasil, em mensagens curtas.",
	"capabilities":     []string{"search_properties", "schedule_visits", "provide_documentation", "calculate_financing"},
	"knowledgeBase":    map[string]any{"type": KnowledgeBaseTypeBuiltin, "name": "property_database"},
	"responseSettings": map[string]any{"maxTokens": 500, "temperature": 0.7, "language": "pt-BR"},
	"knowledge": []map[string]any{{"title": "Apartamento 2 quartos — Vila Mariana", "category": "properties",
		"content": "Apartamento de 2 quartos na Vila Mariana, 68 m², 1 vaga. Venda: R$ 650.000."}},
}

var createAgentExamples = map[string]*huma.Example{
	"anexoA": {Summary: "Anexo A da especificação (campos no topo)", Value: annexAExample},
	"nomeETipo": {Summary: "Só nome e tipo: parte do modelo pronto do tipo (com imóveis de exemplo)",
		Value: map[string]any{"name": "Especialista em Imóveis", "type": "real_estate"}},
	"modeloComConfiguracao": {Summary: "Modelo pronto com campos sobrepostos (forma aninhada)",
		Value: map[string]any{"template": "customer_support", "configuration": map[string]any{"name": "Atendimento Loja Centro",
			"responseSettings": map[string]any{"temperature": 0.2}}}},
}

var configureAgentExamples = map[string]*huma.Example{
	"zerarValores": {Summary: "Merge Patch: valores zero são gravados",
		Value: map[string]any{"responseSettings": map[string]any{"temperature": 0}, "allowGroups": false}},
	"voltarAoPadrao": {Summary: "Merge Patch: null volta ao padrão",
		Value: map[string]any{"handoffMessage": nil, "responseSettings": map[string]any{"maxTokens": nil}}},
	"trocarPrompt": {Summary: "Troca o prompt e o id escolhido pelo tenant",
		Value: map[string]any{"agentId": "corretor_vila_mariana", "systemPrompt": "Você é um corretor da Vila Mariana, cordial e objetivo."}},
}
