package meta

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Limits Meta enforces on message bodies, checked before sending so the
// user gets a pt-BR error instead of a Graph 100/131009.
const (
	MaxTextLen           = 4096
	MaxCaptionLen        = 1024
	MaxButtonBodyLen     = 1024
	MaxListBodyLen       = 4096
	MaxFooterLen         = 60
	MaxHeaderTextLen     = 60
	MaxButtons           = 3
	MaxButtonTitleLen    = 20
	MaxButtonIDLen       = 256
	MaxListButtonLen     = 20
	MaxListSections      = 10
	MaxListRows          = 10
	MaxSectionTitleLen   = 24
	MaxRowIDLen          = 200
	MaxRowTitleLen       = 24
	MaxRowDescriptionLen = 72
	MaxTemplateButtons   = 10
	MaxCTADisplayLen     = 20
	MaxFlowCTALen        = 30
	MaxProductSections   = 10
	MaxProductItems      = 30
	MaxCarouselCards     = 10
)

// callbackPrefix marks biz_opaque_callback_data set by zapbase: the outbound
// row id, echoed in status webhooks, correlates a send whose answer was
// lost (Meta has no idempotency key).
const callbackPrefix = "zapbase:"

// invalid builds the pt-BR validation error for a send.
func invalid(format string, args ...any) error {
	e := zapbase.Errorf(zapbase.CodeInvalidInput, format, args...)
	return &providers.PermanentError{Code: string(zapbase.CodeInvalidInput), Reason: e.Message, Err: e}
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// buildMessage turns a canonical message into the body of POST
// /{phone-number-id}/messages, validating Meta's limits.
func buildMessage(msg providers.OutboundMessage) (map[string]any, error) {
	body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual"}
	switch {
	case isGroupID(msg.To):
		// Cloud API groups: the group id from the Groups API (or from an
		// inbound group message's group_id) with recipient_type group.
		body["recipient_type"] = "group"
		body["to"] = msg.To
	case isBSUID(msg.To):
		body["recipient"] = msg.To
	case normalizePhone(msg.To) != "" && len(normalizePhone(msg.To)) >= 8 && len(normalizePhone(msg.To)) <= 15:
		// With the "+", Meta does not prepend the business number's country code.
		body["to"] = "+" + normalizePhone(msg.To)
	default:
		return nil, invalid("destinatário inválido: informe o número com DDI (ex.: 5511999999999) ou um BSUID")
	}
	c := msg.Content
	if c.ReplyTo != "" {
		body["context"] = map[string]any{"message_id": c.ReplyTo}
	}
	if msg.RowID != "" {
		body["biz_opaque_callback_data"] = callbackPrefix + msg.RowID
	}
	t := msg.Type
	switch t {
	case zapbase.MessageText:
		if strings.TrimSpace(c.Text) == "" {
			return nil, invalid("o texto da mensagem é obrigatório")
		}
		if runes(c.Text) > MaxTextLen {
			return nil, invalid("o texto tem %d caracteres; o limite da Meta é %d", runes(c.Text), MaxTextLen)
		}
		body["type"] = "text"
		body["text"] = map[string]any{"body": c.Text, "preview_url": c.PreviewURL}
	case zapbase.MessageImage, zapbase.MessageVideo, zapbase.MessageDocument, zapbase.MessageSticker,
		zapbase.MessageAudio, zapbase.MessageVoice:
		obj, err := mediaObject(t, c)
		if err != nil {
			return nil, err
		}
		kind := string(t)
		if t == zapbase.MessageVoice {
			kind = "audio"
		}
		body["type"] = kind
		body[kind] = obj
	case zapbase.MessageLocation:
		if c.Latitude == nil || c.Longitude == nil {
			return nil, invalid("latitude e longitude são obrigatórias")
		}
		if *c.Latitude < -90 || *c.Latitude > 90 || *c.Longitude < -180 || *c.Longitude > 180 {
			return nil, invalid("latitude deve estar entre -90 e 90 e longitude entre -180 e 180")
		}
		loc := map[string]any{
			// Meta's own example sends coordinates as strings.
			"latitude":  strconv.FormatFloat(*c.Latitude, 'f', -1, 64),
			"longitude": strconv.FormatFloat(*c.Longitude, 'f', -1, 64),
		}
		if c.Name != "" {
			loc["name"] = c.Name
		}
		if c.Address != "" {
			loc["address"] = c.Address
		}
		body["type"] = "location"
		body["location"] = loc
	case zapbase.MessageContacts:
		cards, err := contactCards(c.Contacts)
		if err != nil {
			return nil, err
		}
		body["type"] = "contacts"
		body["contacts"] = cards
	case zapbase.MessageReaction:
		if c.TargetMessageID == "" {
			return nil, invalid("a reação precisa do id da mensagem alvo (targetMessageId)")
		}
		body["type"] = "reaction"
		// An empty emoji removes the reaction.
		body["reaction"] = map[string]any{"message_id": c.TargetMessageID, "emoji": c.Emoji}
		delete(body, "context")
	case zapbase.MessageInteractive:
		obj, err := interactiveObject(c.Interactive)
		if err != nil {
			return nil, err
		}
		body["type"] = "interactive"
		body["interactive"] = obj
	case zapbase.MessageTemplate:
		obj, err := templateObject(c.Template)
		if err != nil {
			return nil, err
		}
		body["type"] = "template"
		body["template"] = obj
	default:
		e := zapbase.Errorf(zapbase.CodeUnsupported, "tipo de mensagem %q não é suportado pela API da Meta", t)
		return nil, &providers.PermanentError{Code: string(zapbase.CodeUnsupported), Reason: e.Message,
			Err: fmt.Errorf("%w: %w", providers.ErrUnsupported, e)}
	}
	return body, nil
}

func mediaObject(t zapbase.MessageType, c providers.Content) (map[string]any, error) {
	obj := map[string]any{}
	switch {
	case c.MediaID != "" && c.MediaURL != "":
		return nil, invalid("informe mediaId ou mediaUrl, não os dois")
	case c.MediaID != "":
		obj["id"] = c.MediaID
	case c.MediaURL != "":
		u, err := url.Parse(c.MediaURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, invalid("mediaUrl deve ser um link http(s) público")
		}
		obj["link"] = c.MediaURL
	default:
		return nil, invalid("a mídia precisa de mediaId (enviada antes) ou mediaUrl")
	}
	if c.Caption != "" {
		switch t {
		case zapbase.MessageAudio, zapbase.MessageVoice, zapbase.MessageSticker:
			return nil, invalid("mensagens de %s não aceitam legenda", t)
		}
		if runes(c.Caption) > MaxCaptionLen {
			return nil, invalid("a legenda tem %d caracteres; o limite é %d", runes(c.Caption), MaxCaptionLen)
		}
		obj["caption"] = c.Caption
	}
	if c.Filename != "" {
		if t != zapbase.MessageDocument {
			return nil, invalid("filename só vale para documentos")
		}
		obj["filename"] = c.Filename
	}
	if t == zapbase.MessageVoice {
		obj["voice"] = true
	}
	return obj, nil
}

func contactCards(cards []providers.ContactCard) ([]map[string]any, error) {
	if len(cards) == 0 {
		return nil, invalid("informe pelo menos um contato")
	}
	out := make([]map[string]any, 0, len(cards))
	for i, cc := range cards {
		if strings.TrimSpace(cc.Name) == "" {
			return nil, invalid("o contato %d precisa de nome", i+1)
		}
		card := map[string]any{"name": map[string]any{"formatted_name": cc.Name, "first_name": cc.Name}}
		var phones []map[string]any
		for _, p := range cc.Phones {
			ph := map[string]any{"phone": p, "type": "CELL"}
			if d := normalizePhone(p); d != "" {
				ph["wa_id"] = d
			}
			phones = append(phones, ph)
		}
		if phones != nil {
			card["phones"] = phones
		}
		var emails []map[string]any
		for _, e := range cc.Emails {
			emails = append(emails, map[string]any{"email": e, "type": "WORK"})
		}
		if emails != nil {
			card["emails"] = emails
		}
		if cc.Org != "" {
			card["org"] = map[string]any{"company": cc.Org}
		}
		out = append(out, card)
	}
	return out, nil
}

// interactive is Meta's interactive object, as accepted in
// content.interactive (Meta's own shape, sent as given, so nothing is
// lost): the fields below are only what is validated.
type interactive struct {
	Type   string `json:"type"`
	Header *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action struct {
		Name    string `json:"name"`
		Button  string `json:"button"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
			ProductItems []struct {
				ProductRetailerID string `json:"product_retailer_id"`
			} `json:"product_items"`
		} `json:"sections"`
		CatalogID         string `json:"catalog_id"`
		ProductRetailerID string `json:"product_retailer_id"`
		Parameters        struct {
			// cta_url
			DisplayText string `json:"display_text"`
			URL         string `json:"url"`
			// flow
			FlowMessageVersion string `json:"flow_message_version"`
			FlowID             string `json:"flow_id"`
			FlowName           string `json:"flow_name"`
			FlowCTA            string `json:"flow_cta"`
			FlowAction         string `json:"flow_action"`
		} `json:"parameters"`
	} `json:"action"`
}

// interactiveTypes are the interactive messages Meta's send API accepts.
var interactiveTypes = "button, list, cta_url, flow, location_request_message, product, product_list, catalog_message, call_permission_request"

func interactiveObject(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, invalid("content.interactive é obrigatório")
	}
	var in interactive
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, invalid("content.interactive inválido: %v", err)
	}
	bodyText := ""
	if in.Body != nil {
		bodyText = in.Body.Text
	}
	// Every type but a single product needs a body.
	if in.Type != "product" && strings.TrimSpace(bodyText) == "" {
		return nil, invalid("a mensagem interativa precisa de body.text")
	}
	if in.Footer != nil && runes(in.Footer.Text) > MaxFooterLen {
		return nil, invalid("o rodapé tem mais de %d caracteres", MaxFooterLen)
	}
	if in.Header != nil && in.Header.Type == "text" && runes(in.Header.Text) > MaxHeaderTextLen {
		return nil, invalid("o cabeçalho tem mais de %d caracteres", MaxHeaderTextLen)
	}
	a := in.Action
	switch in.Type {
	case "button":
		if runes(bodyText) > MaxButtonBodyLen {
			return nil, invalid("o texto da mensagem com botões tem mais de %d caracteres", MaxButtonBodyLen)
		}
		n := len(a.Buttons)
		if n == 0 || n > MaxButtons {
			return nil, invalid("a mensagem precisa de 1 a %d botões (recebeu %d)", MaxButtons, n)
		}
		seen := map[string]bool{}
		for i, b := range a.Buttons {
			if b.Reply.ID == "" || len(b.Reply.ID) > MaxButtonIDLen {
				return nil, invalid("o botão %d precisa de um id de até %d caracteres", i+1, MaxButtonIDLen)
			}
			if b.Reply.Title == "" || runes(b.Reply.Title) > MaxButtonTitleLen {
				return nil, invalid("o título do botão %d deve ter de 1 a %d caracteres", i+1, MaxButtonTitleLen)
			}
			if seen[b.Reply.Title] {
				return nil, invalid("os títulos dos botões devem ser diferentes (%q repetido)", b.Reply.Title)
			}
			seen[b.Reply.Title] = true
		}
	case "list":
		if runes(bodyText) > MaxListBodyLen {
			return nil, invalid("o texto da lista tem mais de %d caracteres", MaxListBodyLen)
		}
		if in.Header != nil && in.Header.Type != "text" {
			return nil, invalid("o cabeçalho de uma lista só pode ser texto")
		}
		if a.Button == "" || runes(a.Button) > MaxListButtonLen {
			return nil, invalid("o rótulo do botão da lista deve ter de 1 a %d caracteres", MaxListButtonLen)
		}
		if len(a.Sections) == 0 || len(a.Sections) > MaxListSections {
			return nil, invalid("a lista precisa de 1 a %d seções", MaxListSections)
		}
		rows := 0
		for i, s := range a.Sections {
			if runes(s.Title) > MaxSectionTitleLen {
				return nil, invalid("o título da seção %d tem mais de %d caracteres", i+1, MaxSectionTitleLen)
			}
			if len(a.Sections) > 1 && s.Title == "" {
				return nil, invalid("com mais de uma seção, cada seção precisa de título")
			}
			for _, r := range s.Rows {
				rows++
				if r.ID == "" || len(r.ID) > MaxRowIDLen {
					return nil, invalid("cada item da lista precisa de um id de até %d caracteres", MaxRowIDLen)
				}
				if r.Title == "" || runes(r.Title) > MaxRowTitleLen {
					return nil, invalid("o título do item %q deve ter de 1 a %d caracteres", r.ID, MaxRowTitleLen)
				}
				if runes(r.Description) > MaxRowDescriptionLen {
					return nil, invalid("a descrição do item %q tem mais de %d caracteres", r.ID, MaxRowDescriptionLen)
				}
			}
		}
		if rows == 0 || rows > MaxListRows {
			return nil, invalid("a lista precisa de 1 a %d itens no total (recebeu %d)", MaxListRows, rows)
		}
	case "cta_url":
		if a.Name != "cta_url" {
			return nil, invalid("a mensagem cta_url precisa de action.name \"cta_url\"")
		}
		if a.Parameters.DisplayText == "" || runes(a.Parameters.DisplayText) > MaxCTADisplayLen {
			return nil, invalid("action.parameters.display_text deve ter de 1 a %d caracteres", MaxCTADisplayLen)
		}
		if u, err := url.Parse(a.Parameters.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, invalid("action.parameters.url deve ser um link http(s)")
		}
	case "flow":
		if a.Name != "flow" {
			return nil, invalid("a mensagem flow precisa de action.name \"flow\"")
		}
		ps := a.Parameters
		if ps.FlowMessageVersion == "" {
			return nil, invalid("action.parameters.flow_message_version é obrigatório (ex.: \"3\")")
		}
		if (ps.FlowID == "") == (ps.FlowName == "") {
			return nil, invalid("informe action.parameters.flow_id ou flow_name (um dos dois)")
		}
		if ps.FlowCTA == "" || runes(ps.FlowCTA) > MaxFlowCTALen {
			return nil, invalid("action.parameters.flow_cta deve ter de 1 a %d caracteres", MaxFlowCTALen)
		}
		if ps.FlowAction != "" && ps.FlowAction != "navigate" && ps.FlowAction != "data_exchange" {
			return nil, invalid("action.parameters.flow_action deve ser navigate ou data_exchange")
		}
	case "location_request_message":
		if a.Name != "send_location" {
			return nil, invalid("o pedido de localização precisa de action.name \"send_location\"")
		}
		if runes(bodyText) > MaxButtonBodyLen {
			return nil, invalid("o texto do pedido de localização tem mais de %d caracteres", MaxButtonBodyLen)
		}
	case "call_permission_request":
		if a.Name != "call_permission_request" {
			return nil, invalid("o pedido de permissão de chamada precisa de action.name \"call_permission_request\"")
		}
	case "catalog_message":
		if a.Name != "catalog_message" {
			return nil, invalid("a mensagem de catálogo precisa de action.name \"catalog_message\"")
		}
	case "product":
		if a.CatalogID == "" || a.ProductRetailerID == "" {
			return nil, invalid("a mensagem de produto precisa de action.catalog_id e action.product_retailer_id")
		}
	case "product_list":
		if in.Header == nil || in.Header.Type != "text" || strings.TrimSpace(in.Header.Text) == "" {
			return nil, invalid("a lista de produtos precisa de um cabeçalho de texto")
		}
		if a.CatalogID == "" {
			return nil, invalid("a lista de produtos precisa de action.catalog_id")
		}
		if len(a.Sections) == 0 || len(a.Sections) > MaxProductSections {
			return nil, invalid("a lista de produtos precisa de 1 a %d seções", MaxProductSections)
		}
		items := 0
		for i, s := range a.Sections {
			if s.Title == "" || runes(s.Title) > MaxSectionTitleLen {
				return nil, invalid("o título da seção %d deve ter de 1 a %d caracteres", i+1, MaxSectionTitleLen)
			}
			for _, it := range s.ProductItems {
				items++
				if it.ProductRetailerID == "" {
					return nil, invalid("cada produto da seção %d precisa de product_retailer_id", i+1)
				}
			}
		}
		if items == 0 || items > MaxProductItems {
			return nil, invalid("a lista de produtos precisa de 1 a %d produtos no total (recebeu %d)", MaxProductItems, items)
		}
	default:
		return nil, invalid("interactive.type deve ser um de: %s", interactiveTypes)
	}
	return raw, nil
}

// templateComponent is the part of a template component that is checked.
type templateComponent struct {
	Type       string            `json:"type"`
	SubType    string            `json:"sub_type"`
	Index      json.RawMessage   `json:"index"`
	Parameters []json.RawMessage `json:"parameters"`
	// carousel
	Cards []struct {
		CardIndex  *int              `json:"card_index"`
		Components []json.RawMessage `json:"components"`
	} `json:"cards"`
}

func templateObject(t *providers.Template) (map[string]any, error) {
	if t == nil || strings.TrimSpace(t.Name) == "" {
		return nil, invalid("o modelo (template) precisa de nome")
	}
	if strings.TrimSpace(t.Language) == "" {
		return nil, invalid("o modelo (template) precisa do código de idioma (ex.: pt_BR)")
	}
	if err := checkComponents(t.Components, "", true); err != nil {
		return nil, err
	}
	obj := map[string]any{
		"name":     t.Name,
		"language": map[string]any{"code": t.Language, "policy": "deterministic"},
	}
	if len(t.Components) > 0 {
		obj["components"] = t.Components
	}
	return obj, nil
}

// checkComponents validates template components: header, body and button
// everywhere; carousel (cards with card_index, each with its own header,
// body and buttons) and limited_time_offer (expiration_time_ms) at the top
// level only.
func checkComponents(comps []json.RawMessage, where string, top bool) error {
	buttons := 0
	for i, raw := range comps {
		var c templateComponent
		if err := json.Unmarshal(raw, &c); err != nil {
			return invalid("componente %d%s do modelo inválido: %v", i+1, where, err)
		}
		switch c.Type {
		case "header", "body":
		case "button":
			buttons++
			if c.SubType == "" || len(c.Index) == 0 {
				return invalid("o botão do componente %d%s precisa de sub_type e index", i+1, where)
			}
		case "carousel":
			if !top {
				return invalid("um cartão do carrossel não pode conter outro carrossel")
			}
			if len(c.Cards) == 0 || len(c.Cards) > MaxCarouselCards {
				return invalid("o carrossel precisa de 1 a %d cartões (recebeu %d)", MaxCarouselCards, len(c.Cards))
			}
			seen := map[int]bool{}
			for j, card := range c.Cards {
				if card.CardIndex == nil || *card.CardIndex < 0 || *card.CardIndex >= MaxCarouselCards || seen[*card.CardIndex] {
					return invalid("o cartão %d do carrossel precisa de card_index único entre 0 e %d", j+1, MaxCarouselCards-1)
				}
				seen[*card.CardIndex] = true
				if err := checkComponents(card.Components, fmt.Sprintf(" do cartão %d", *card.CardIndex), false); err != nil {
					return err
				}
			}
		case "limited_time_offer":
			if !top {
				return invalid("limited_time_offer só vale no nível do modelo, não dentro de um cartão")
			}
			if err := checkLimitedTimeOffer(c.Parameters); err != nil {
				return err
			}
		default:
			return invalid("componente %d%s do modelo: type deve ser header, body, button, carousel ou limited_time_offer", i+1, where)
		}
	}
	if buttons > MaxTemplateButtons {
		return invalid("o modelo aceita no máximo %d botões", MaxTemplateButtons)
	}
	return nil
}

// checkLimitedTimeOffer validates {"type":"limited_time_offer",
// "limited_time_offer":{"expiration_time_ms":<unix ms>}}.
func checkLimitedTimeOffer(params []json.RawMessage) error {
	if len(params) != 1 {
		return invalid("limited_time_offer precisa de exatamente um parâmetro")
	}
	var p struct {
		Type  string `json:"type"`
		Offer *struct {
			ExpirationTimeMS *int64 `json:"expiration_time_ms"`
		} `json:"limited_time_offer"`
	}
	if err := json.Unmarshal(params[0], &p); err != nil || p.Type != "limited_time_offer" || p.Offer == nil ||
		p.Offer.ExpirationTimeMS == nil || *p.Offer.ExpirationTimeMS <= 0 {
		return invalid("limited_time_offer precisa do parâmetro {\"type\":\"limited_time_offer\",\"limited_time_offer\":{\"expiration_time_ms\":<unix ms>}}")
	}
	return nil
}

// groupIDPattern matches Cloud API group ids (base64url text such as
// "Y2FwaV9ncm91cDox…ZD"), which are neither phone digits nor BSUIDs.
var groupIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{20,128}={0,2}$`)

func isGroupID(s string) bool {
	if !groupIDPattern.MatchString(s) {
		return false
	}
	return strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
}
