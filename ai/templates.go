package ai

// Template is a built-in agent configuration with sample knowledge, so that
// creating an agent from it gives a working agent at once.
type Template struct {
	ID          string              `json:"id"`
	Description string              `json:"description"`
	Config      AgentConfig         `json:"configuration"`
	Knowledge   []KnowledgeDocument `json:"sampleKnowledge,omitempty"`
}

// Templates returns the built-in templates (pt-BR).
func Templates() []Template {
	return []Template{realEstateTemplate(), customerSupportTemplate()}
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

func realEstateTemplate() Template {
	return Template{
		ID:          TypeRealEstate,
		Description: "Corretor virtual: busca imóveis, agenda visitas, informa a documentação e simula financiamentos (SAC e Price).",
		Config: AgentConfig{
			Name: "Assistente Imobiliário",
			Type: TypeRealEstate,
			SystemPrompt: "Você é um corretor de imóveis virtual, cordial e objetivo, que atende clientes pelo WhatsApp em português do Brasil. " +
				"Use a ferramenta search_properties para procurar imóveis e responda apenas com imóveis que ela retornar, citando bairro, quartos e preço. " +
				"Use schedule_visits para agendar visitas (peça nome, imóvel e data/horário), provide_documentation para explicar documentos necessários " +
				"e calculate_financing para simular financiamentos (SAC ou Price). Nunca invente imóveis, preços ou taxas. " +
				"Se o cliente pedir um atendente ou você não souber ajudar, use handoff_to_human. Responda em mensagens curtas, próprias para WhatsApp.",
			Capabilities:     []string{CapSearchProperties, CapScheduleVisits, CapProvideDocumentation, CapCalculateFinancing},
			KnowledgeBase:    "property_database",
			ResponseSettings: ResponseSettings{MaxTokens: 500, Temperature: 0.7, Language: "pt-BR"},
		},
		Knowledge: []KnowledgeDocument{
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

func customerSupportTemplate() Template {
	return Template{
		ID:          TypeCustomerSupport,
		Description: "Atendimento ao cliente: responde dúvidas a partir da base de conhecimento e transfere para um humano quando necessário.",
		Config: AgentConfig{
			Name: "Atendimento ao Cliente",
			Type: TypeCustomerSupport,
			SystemPrompt: "Você é um atendente virtual cordial que responde clientes pelo WhatsApp em português do Brasil. " +
				"Consulte a base de conhecimento com search_knowledge_base antes de responder e use apenas o que ela retornar. " +
				"Se a resposta não estiver na base, se o cliente estiver insatisfeito ou pedir um atendente, use handoff_to_human. " +
				"Responda em mensagens curtas, próprias para WhatsApp.",
			Capabilities:     []string{CapSearchKnowledgeBase},
			KnowledgeBase:    "faq",
			ResponseSettings: ResponseSettings{MaxTokens: 400, Temperature: 0.3, Language: "pt-BR"},
		},
		Knowledge: []KnowledgeDocument{
			{Title: "Horário de atendimento", Category: "faq",
				Content: "Nosso atendimento humano funciona de segunda a sexta, das 8h às 18h, e aos sábados das 9h às 13h."},
			{Title: "Trocas e devoluções", Category: "faq",
				Content: "Trocas e devoluções podem ser solicitadas em até 7 dias após o recebimento, com o produto na embalagem original e a nota fiscal."},
		},
	}
}
