package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
)

// Agent bodies are decoded here rather than by huma: create takes three
// shapes and configure is a JSON Merge Patch (RFC 7396), where null and
// zero values are meaningful and must reach the merge unchanged.

// configKeys are the configuration fields, flat (annex A) or nested.
var configKeys = map[string]bool{
	"name": true, "type": true, "systemPrompt": true, "capabilities": true, "knowledgeBase": true,
	"responseSettings": true, "model": true, "allowGroups": true, "handoffKeywords": true, "handoffMessage": true,
}

var (
	createOnlyKeys    = map[string]bool{"agentId": true, "template": true, "configuration": true, "knowledge": true, "isDefault": true}
	configureOnlyKeys = map[string]bool{"agentId": true, "configuration": true, "knowledge": true, "isDefault": true, "isActive": true}
)

// decodeObject parses body as a JSON object and refuses unknown keys.
func decodeObject(raw []byte, allowed ...map[string]bool) (map[string]any, *Problem) {
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, errInvalid("O corpo deve ser um objeto JSON.", FieldError{Location: "body", Message: "objeto JSON inválido"})
	}
	var unknown []string
	for k := range top {
		ok := false
		for _, a := range allowed {
			ok = ok || a[k]
		}
		if !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, errInvalid(fmt.Sprintf("Campo desconhecido: %s.", strings.Join(unknown, ", ")),
			FieldError{Location: "body." + unknown[0], Message: "campo desconhecido"})
	}
	return top, nil
}

// configPatch collects the configuration patch of a body: the nested
// configuration object overlaid with the flat fields.
func configPatch(top map[string]any) (map[string]any, *Problem) {
	patch := map[string]any{}
	if c, ok := top["configuration"]; ok && c != nil {
		cm, ok := c.(map[string]any)
		if !ok {
			return nil, errInvalid("configuration deve ser um objeto.", FieldError{Location: "body.configuration", Message: "objeto esperado"})
		}
		for k, v := range cm {
			if !configKeys[k] {
				return nil, errInvalid("Campo desconhecido em configuration: "+k+".", FieldError{Location: "body.configuration." + k, Message: "campo desconhecido"})
			}
			patch[k] = v
		}
	}
	for k, v := range top {
		if !configKeys[k] {
			continue
		}
		if old, ok := patch[k].(map[string]any); ok {
			patch[k] = mergePatch(old, v)
			continue
		}
		patch[k] = v
	}
	if kb, ok := patch["knowledgeBase"]; ok {
		v, p := normalizeKnowledgeBase(kb)
		if p != nil {
			return nil, p
		}
		if v == nil && kb != nil {
			delete(patch, "knowledgeBase") // an object without a name keeps the name
		} else {
			patch["knowledgeBase"] = v
		}
	}
	return patch, nil
}

// normalizeKnowledgeBase turns the annex's object into the stored name, or
// refuses what zapbase does not support.
func normalizeKnowledgeBase(v any) (any, *Problem) {
	switch kb := v.(type) {
	case nil, string:
		return kb, nil
	case map[string]any:
		typ, _ := kb["type"].(string)
		conn, _ := kb["connectionString"].(string)
		for k := range kb {
			if k != "type" && k != "name" && k != "connectionString" {
				return nil, errInvalid("Campo desconhecido em knowledgeBase: "+k+".", FieldError{Location: "body.knowledgeBase." + k, Message: "campo desconhecido"})
			}
		}
		switch {
		case typ != "" && typ != KnowledgeBaseTypeBuiltin:
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedKnowledgeBase,
				fmt.Sprintf("knowledgeBase.type: %q não é suportado. A base de conhecimento do zapbase é a busca textual do Postgres "+
					"(type %q): envie os documentos em knowledge, ou depois em POST /api/v1/agents/{agentId}/knowledge.", typ, KnowledgeBaseTypeBuiltin),
				FieldError{Location: "body.knowledgeBase.type", Message: "use " + KnowledgeBaseTypeBuiltin, Value: typ})
		case conn != "":
			return nil, NewProblem(http.StatusUnprocessableEntity, zapbase.CodeUnsupportedKnowledgeBase,
				"knowledgeBase.connectionString: bancos externos não são suportados; os documentos ficam no próprio Postgres do zapbase (envie-os em knowledge).",
				FieldError{Location: "body.knowledgeBase.connectionString", Message: "não suportado"})
		}
		if name, ok := kb["name"]; ok {
			if name == nil {
				return "", nil
			}
			if s, ok := name.(string); ok {
				return s, nil
			}
			return nil, errInvalid("knowledgeBase.name deve ser texto.", FieldError{Location: "body.knowledgeBase.name", Message: "texto esperado"})
		}
		return nil, nil
	default:
		return nil, errInvalid("knowledgeBase deve ser um nome ou um objeto {type, name}.", FieldError{Location: "body.knowledgeBase", Message: "texto ou objeto esperado"})
	}
}

// mergePatch applies an RFC 7396 merge patch to target.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	} else {
		cp := make(map[string]any, len(tm))
		for k, v := range tm {
			cp[k] = v
		}
		tm = cp
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

// applyConfigPatch merges patch onto base and decodes the result.
func applyConfigPatch(base ai.AgentConfig, patch map[string]any) (ai.AgentConfig, error) {
	b, _ := json.Marshal(base)
	var m any
	_ = json.Unmarshal(b, &m)
	merged, _ := json.Marshal(mergePatch(m, patch))
	var out ai.AgentConfig
	if err := json.Unmarshal(merged, &out); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return out, zapbase.Errorf(zapbase.CodeInvalidInput, "%s: tipo inválido (esperado %s)", ute.Field, ute.Type.String())
		}
		return out, zapbase.Errorf(zapbase.CodeInvalidInput, "configuração inválida: %v", err)
	}
	return out, nil
}

// createParams turns a create body into the service's parameters.
func createParams(raw []byte) (ai.CreateAgentParams, string, *Problem) {
	var params ai.CreateAgentParams
	top, p := decodeObject(raw, configKeys, createOnlyKeys)
	if p != nil {
		return params, "", p
	}
	var req CreateAgentRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return params, "", typeProblem(err)
	}
	patch, p := configPatch(top)
	if p != nil {
		return params, "", p
	}
	// The base: the named template, else the template of the given type.
	tplID := req.Template
	if tplID == "" {
		typ, _ := patch["type"].(string)
		if _, ok := ai.TemplateByID(typ); ok {
			tplID = typ
		}
	}
	var base ai.AgentConfig
	knowledge := fromAPIDocs(req.Knowledge)
	if tplID != "" {
		tpl, ok := ai.TemplateByID(tplID)
		if !ok {
			return params, "", errInvalid("Modelo desconhecido: "+tplID+" (disponíveis: real_estate, customer_support).",
				FieldError{Location: "body.template", Message: "modelo desconhecido", Value: tplID})
		}
		base = tpl.Config
		if knowledge == nil {
			knowledge = tpl.Knowledge
		}
	} else if len(patch) == 0 {
		return params, "", errInvalid("Informe o agente: os campos do anexo A (name, systemPrompt...), {\"name\", \"type\"} ou template.",
			FieldError{Location: "body.name", Message: "obrigatório"})
	}
	cfg, err := applyConfigPatch(base, patch)
	if err != nil {
		return params, "", agentProblem(err)
	}
	params = ai.CreateAgentParams{Config: &cfg, Knowledge: knowledge, IsDefault: req.IsDefault, Slug: req.AgentID}
	return params, tplID, nil
}

// configureParams turns a merge-patch body into the service's parameters.
func configureParams(raw []byte) (ai.ConfigureAgentParams, *Problem) {
	params := ai.ConfigureAgentParams{}
	top, p := decodeObject(raw, configKeys, configureOnlyKeys)
	if p != nil {
		return params, p
	}
	var req struct {
		IsActive  *bool                   `json:"isActive"`
		IsDefault *bool                   `json:"isDefault"`
		Knowledge []KnowledgeDocumentInfo `json:"knowledge"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return params, typeProblem(err)
	}
	params.IsActive, params.IsDefault = req.IsActive, req.IsDefault
	if v, ok := top["agentId"]; ok {
		switch slug := v.(type) {
		case nil:
			empty := ""
			params.Slug = &empty
		case string:
			params.Slug = &slug
		default:
			return params, errInvalid("agentId deve ser texto.", FieldError{Location: "body.agentId", Message: "texto esperado"})
		}
	}
	if _, ok := top["knowledge"]; ok {
		params.Knowledge = fromAPIDocs(req.Knowledge)
		if params.Knowledge == nil {
			params.Knowledge = []ai.KnowledgeDocument{}
		}
	}
	patch, p := configPatch(top)
	if p != nil {
		return params, p
	}
	if len(patch) > 0 {
		params.PatchFunc = func(stored ai.AgentConfig) (ai.AgentConfig, error) { return applyConfigPatch(stored, patch) }
	}
	return params, nil
}

func typeProblem(err error) *Problem {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return errInvalid(fmt.Sprintf("%s: tipo inválido (esperado %s).", ute.Field, ute.Type.String()),
			FieldError{Location: "body." + ute.Field, Message: "tipo inválido"})
	}
	return errInvalid("Dados de entrada inválidos.", FieldError{Location: "body", Message: err.Error()})
}
