package meta_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// testdataField extracts a JSON field of a testdata send fixture.
func testdataField(t *testing.T, fixture string, path ...string) json.RawMessage {
	t.Helper()
	var cur json.RawMessage = testdata(t, fixture)
	for _, p := range path {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(cur, &m))
		cur = m[p]
	}
	return cur
}

func testdataComponents(t *testing.T, fixture string) []json.RawMessage {
	t.Helper()
	var comps []json.RawMessage
	require.NoError(t, json.Unmarshal(testdataField(t, fixture, "template", "components"), &comps))
	return comps
}

// Every interactive type and template component Meta's send API takes
// goes out in Meta's own shape (testdata/send_*_request.json).
func TestSendInteractiveTypesAndTemplateComponents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	interactive := []string{
		"send_interactive_cta_url_request.json",
		"send_interactive_flow_request.json",
		"send_interactive_location_request_request.json",
		"send_interactive_product_request.json",
		"send_interactive_product_list_request.json",
		"send_interactive_catalog_message_request.json",
		"send_interactive_call_permission_request_request.json",
	}
	type sendCase struct {
		fixture string
		typ     zapbase.MessageType
		content providers.Content
	}
	var cases []sendCase
	for _, f := range interactive {
		cases = append(cases, sendCase{f, zapbase.MessageInteractive, providers.Content{Interactive: testdataField(t, f, "interactive")}})
	}
	cases = append(cases,
		sendCase{"send_template_carousel_request.json", zapbase.MessageTemplate, providers.Content{Template: &providers.Template{
			Name: "vitrine_carrossel", Language: "pt_BR", Components: testdataComponents(t, "send_template_carousel_request.json")}}},
		sendCase{"send_template_limited_time_offer_request.json", zapbase.MessageTemplate, providers.Content{Template: &providers.Template{
			Name: "oferta_relampago", Language: "pt_BR", Components: testdataComponents(t, "send_template_limited_time_offer_request.json")}}},
	)
	for _, c := range cases {
		_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
			Type: c.typ, Content: c.content, Attempt: 1})
		require.NoError(t, err, c.fixture)
		sends := e.fake.Sends()
		require.Equal(t, canonical(t, testdata(t, c.fixture)), canonical(t, sends[len(sends)-1]), c.fixture)
	}
}

func TestSendRefusesMalformedNewTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	bad := map[string]string{
		"cta_url without url":           `{"type":"cta_url","body":{"text":"x"},"action":{"name":"cta_url","parameters":{"display_text":"Ver"}}}`,
		"cta_url long label":            `{"type":"cta_url","body":{"text":"x"},"action":{"name":"cta_url","parameters":{"display_text":"Um rótulo comprido demais aqui","url":"https://a.b"}}}`,
		"flow without id or name":       `{"type":"flow","body":{"text":"x"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_cta":"Ir"}}}`,
		"location request without name": `{"type":"location_request_message","body":{"text":"x"},"action":{}}`,
		"product without catalog":       `{"type":"product","action":{"product_retailer_id":"A"}}`,
		"product_list without header":   `{"type":"product_list","body":{"text":"x"},"action":{"catalog_id":"1","sections":[{"title":"A","product_items":[{"product_retailer_id":"A"}]}]}}`,
		"unknown type":                  `{"type":"poll","body":{"text":"x"}}`,
	}
	for name, raw := range bad {
		_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
			Type: zapbase.MessageInteractive, Content: providers.Content{Interactive: json.RawMessage(raw)}, Attempt: 1})
		var perm *providers.PermanentError
		require.ErrorAs(t, err, &perm, name)
		require.Equal(t, string(zapbase.CodeInvalidInput), perm.Code, name)
	}
	badTemplates := map[string]string{
		"card without index":   `{"type":"carousel","cards":[{"components":[]}]}`,
		"duplicate card index": `{"type":"carousel","cards":[{"card_index":0,"components":[]},{"card_index":0,"components":[]}]}`,
		"offer without expiry": `{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{}}]}`,
		"nested carousel":      `{"type":"carousel","cards":[{"card_index":0,"components":[{"type":"carousel","cards":[]}]}]}`,
		"unknown component":    `{"type":"footer"}`,
	}
	for name, raw := range badTemplates {
		_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
			Type: zapbase.MessageTemplate, Content: providers.Content{Template: &providers.Template{Name: "x", Language: "pt_BR",
				Components: []json.RawMessage{json.RawMessage(raw)}}}, Attempt: 1})
		var perm *providers.PermanentError
		require.ErrorAs(t, err, &perm, name)
	}
	require.Empty(t, e.fake.Sends(), "nothing malformed reached Meta")
}
