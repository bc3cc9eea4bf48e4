package meta_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

func ptr[T any](v T) *T { return &v }

// fixtureField extracts a JSON field of a send fixture.
func fixtureField(t *testing.T, fixture string, path ...string) json.RawMessage {
	t.Helper()
	var cur json.RawMessage = metafake.Fixture(fixture)
	for _, p := range path {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(cur, &m))
		cur = m[p]
	}
	return cur
}

func fixtureComponents(t *testing.T, fixture string) []json.RawMessage {
	var comps []json.RawMessage
	raw := fixtureField(t, fixture, "template", "components")
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &comps))
	}
	return comps
}

// canonical makes a send body comparable with a fixture: recipients reduced
// to digits, zapbase's own biz_opaque_callback_data and the optional
// recipient_type dropped.
func canonical(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	if to, ok := m["to"].(string); ok {
		m["to"] = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, to)
	}
	if s, _ := m["biz_opaque_callback_data"].(string); strings.HasPrefix(s, "zapbase:") || s == "order:48213;tenant:acme" {
		delete(m, "biz_opaque_callback_data")
	}
	delete(m, "recipient_type")
	if tpl, ok := m["template"].(map[string]any); ok {
		if lang, ok := tpl["language"].(map[string]any); ok {
			delete(lang, "policy") // always deterministic; optional in Meta's minimal sample
		}
	}
	return m
}

func TestSendBodiesMatchFixtures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	target := "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFDNFQjBDNzFBMkY0RDhCNUU2QTdCAA=="
	cases := []struct {
		fixture string
		to      string
		typ     zapbase.MessageType
		content providers.Content
	}{
		{"send_text_request.json", "+55 11 99999-9999", zapbase.MessageText, providers.Content{PreviewURL: true,
			Text: "Olá Maria! Seu pedido #48213 foi enviado. Acompanhe em https://loja.example.com.br/pedidos/48213"}},
		{"send_text_reply_context_request.json", customer, zapbase.MessageText, providers.Content{ReplyTo: target,
			Text: "Temos sim! A camiseta azul M está disponível."}},
		{"send_text_bsuid_recipient_request.json", bsuid, zapbase.MessageText, providers.Content{Text: "Olá! Recebemos o seu pedido."}},
		{"send_image_by_id_request.json", customer, zapbase.MessageImage, providers.Content{MediaID: "1479537139650973", Caption: "Nota fiscal do pedido #48213"}},
		{"send_image_by_link_request.json", customer, zapbase.MessageImage, providers.Content{
			MediaURL: "https://cdn.loja.example.com.br/produtos/camiseta-azul.jpg", Caption: "Camiseta azul, tamanho M"}},
		{"send_document_by_link_request.json", customer, zapbase.MessageDocument, providers.Content{
			MediaURL: "https://cdn.loja.example.com.br/boletos/48213.pdf", Caption: "Boleto do pedido #48213", Filename: "boleto-48213.pdf"}},
		{"send_document_by_id_request.json", customer, zapbase.MessageDocument, providers.Content{MediaID: "1376223850470843", Filename: "nota-fiscal-48213.pdf"}},
		{"send_video_by_id_request.json", customer, zapbase.MessageVideo, providers.Content{MediaID: "1166846181421424", Caption: "Como montar o seu produto"}},
		{"send_sticker_request.json", customer, zapbase.MessageSticker, providers.Content{MediaID: "798882015472548"}},
		{"send_audio_voice_request.json", customer, zapbase.MessageVoice, providers.Content{MediaID: "1013859600285441"}},
		{"send_location_request.json", customer, zapbase.MessageLocation, providers.Content{Latitude: ptr(-23.561414), Longitude: ptr(-46.655881),
			Name: "Loja Paulista", Address: "Av. Paulista, 1000 - Bela Vista, São Paulo - SP, 01310-100"}},
		{"send_contacts_request.json", customer, zapbase.MessageContacts, providers.Content{Contacts: []providers.ContactCard{
			{Name: "Loja Exemplo - SAC", Phones: []string{"+55 11 3000-0000"}}}}},
		{"send_reaction_request.json", customer, zapbase.MessageReaction, providers.Content{TargetMessageID: target, Emoji: "👍"}},
		{"send_reaction_remove_request.json", customer, zapbase.MessageReaction, providers.Content{TargetMessageID: target}},
		{"send_interactive_buttons_request.json", customer, zapbase.MessageInteractive, providers.Content{
			Interactive: fixtureField(t, "send_interactive_buttons_request.json", "interactive")}},
		{"send_interactive_list_request.json", customer, zapbase.MessageInteractive, providers.Content{
			Interactive: fixtureField(t, "send_interactive_list_request.json", "interactive")}},
		{"send_template_positional_request.json", customer, zapbase.MessageTemplate, providers.Content{Template: &providers.Template{
			Name: "pedido_enviado", Language: "pt_BR", Components: fixtureComponents(t, "send_template_positional_request.json")}}},
		{"send_template_named_request.json", customer, zapbase.MessageTemplate, providers.Content{Template: &providers.Template{
			Name: "boas_vindas", Language: "pt_BR", Components: fixtureComponents(t, "send_template_named_request.json")}}},
		{"send_template_no_params_request.json", customer, zapbase.MessageTemplate, providers.Content{Template: &providers.Template{
			Name: "hello_world", Language: "en_US"}}},
	}
	// The BSUID recipient needs an open window too.
	e.deliver(metafake.Fixture("webhook_text_with_bsuid.json"))
	for i, c := range cases {
		before := len(e.fake.Sends())
		res, err := e.prov.Send(e.ctx, providers.OutboundMessage{RowID: "11111111-2222-3333-4444-555555555555",
			TenantID: e.tenantID, SessionID: e.session, To: c.to, Type: c.typ, Content: c.content, Attempt: 1})
		require.NoError(t, err, c.fixture)
		require.True(t, strings.HasPrefix(res.ProviderMessageID, "wamid."), c.fixture)
		sends := e.fake.Sends()
		require.Len(t, sends, before+1, c.fixture)
		require.Equal(t, canonical(t, metafake.Fixture(c.fixture)), canonical(t, sends[len(sends)-1]), "case %d %s", i, c.fixture)
		var got map[string]any
		require.NoError(t, json.Unmarshal(sends[len(sends)-1], &got))
		require.Equal(t, "zapbase:11111111-2222-3333-4444-555555555555", got["biz_opaque_callback_data"], c.fixture)
	}
}

func TestSendKeysContactOnReturnedWaID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// The customer with an old Brazilian number (no ninth digit) wrote to us.
	body := strings.ReplaceAll(string(metafake.Fixture("webhook_text.json")), customer, "552187654321")
	e.deliver([]byte(body))
	e.fake.SetWaID("+55 21 98765-4321", "552187654321")
	res, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session,
		To: "+55 21 98765-4321", Type: zapbase.MessageText, Content: providers.Content{Text: "Olá!"}, Attempt: 1})
	require.NoError(t, err, "window found through the ninth-digit variant")
	require.Equal(t, "552187654321", res.RecipientID)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = '552187654321'`))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = '5521987654321'`))

	// The next send goes to the number Meta showed (wa_id), not the input.
	_, err = e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session,
		To: "5521987654321", Type: zapbase.MessageText, Content: providers.Content{Text: "De novo"}, Attempt: 1})
	require.NoError(t, err)
	sends := e.fake.Sends()
	var got map[string]any
	require.NoError(t, json.Unmarshal(sends[len(sends)-1], &got))
	require.Equal(t, "+552187654321", got["to"])
}

func TestSendOutsideWindowNeedsTemplate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	msg := providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 1}

	// Never wrote: refused up front, nothing sent to Meta.
	_, err := e.prov.Send(e.ctx, msg)
	var perm *providers.PermanentError
	require.ErrorAs(t, err, &perm)
	require.Equal(t, string(zapbase.CodeTemplateRequired), perm.Code)
	require.Equal(t, zapbase.CodeTemplateRequired, zapbase.ErrorCode(err))
	require.Contains(t, perm.Reason, "modelo")
	require.Empty(t, e.fake.Sends())

	// Wrote an hour ago: allowed.
	e.openWindow()
	_, err = e.prov.Send(e.ctx, msg)
	require.NoError(t, err)
	open, closes, err := e.prov.WindowOpen(e.ctx, e.tenantID, e.session, customer)
	require.NoError(t, err)
	require.True(t, open)
	require.Equal(t, time.Unix(1789003200, 0).Add(meta.ServiceWindow).UTC(), closes.UTC())

	// 25 hours later: closed again; a template still goes.
	e.now = fixtureNow.Add(24 * time.Hour)
	_, err = e.prov.Send(e.ctx, msg)
	require.ErrorAs(t, err, &perm)
	require.Equal(t, string(zapbase.CodeTemplateRequired), perm.Code)
	_, err = e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageTemplate, Content: providers.Content{Template: &providers.Template{Name: "hello_world", Language: "en_US"}}, Attempt: 1})
	require.NoError(t, err)
}

func TestSendValidatesLimitsBeforeSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	buttons := func(n int, title string) json.RawMessage {
		var bs []string
		for i := range n {
			bs = append(bs, `{"type":"reply","reply":{"id":"b`+string(rune('0'+i))+`","title":"`+title+string(rune('0'+i))+`"}}`)
		}
		return json.RawMessage(`{"type":"button","body":{"text":"Escolha"},"action":{"buttons":[` + strings.Join(bs, ",") + `]}}`)
	}
	rows := func(n int) json.RawMessage {
		var rs []string
		for i := range n {
			rs = append(rs, `{"id":"r`+string(rune('a'+i))+`","title":"Item"}`)
		}
		return json.RawMessage(`{"type":"list","body":{"text":"Lista"},"action":{"button":"Ver","sections":[{"title":"S","rows":[` + strings.Join(rs, ",") + `]}]}}`)
	}
	cases := map[string]struct {
		typ zapbase.MessageType
		c   providers.Content
	}{
		"empty text":         {zapbase.MessageText, providers.Content{}},
		"text too long":      {zapbase.MessageText, providers.Content{Text: strings.Repeat("á", meta.MaxTextLen+1)}},
		"media id and link":  {zapbase.MessageImage, providers.Content{MediaID: "1", MediaURL: "https://x.example/a.jpg"}},
		"media without both": {zapbase.MessageImage, providers.Content{}},
		"link not http":      {zapbase.MessageImage, providers.Content{MediaURL: "ftp://x.example/a.jpg"}},
		"caption too long":   {zapbase.MessageImage, providers.Content{MediaID: "1", Caption: strings.Repeat("a", meta.MaxCaptionLen+1)}},
		"audio with caption": {zapbase.MessageAudio, providers.Content{MediaID: "1", Caption: "oi"}},
		"sticker caption":    {zapbase.MessageSticker, providers.Content{MediaID: "1", Caption: "oi"}},
		"no coordinates":     {zapbase.MessageLocation, providers.Content{Name: "x"}},
		"bad latitude":       {zapbase.MessageLocation, providers.Content{Latitude: ptr(91.0), Longitude: ptr(0.0)}},
		"reaction no target": {zapbase.MessageReaction, providers.Content{Emoji: "👍"}},
		"four buttons":       {zapbase.MessageInteractive, providers.Content{Interactive: buttons(4, "B")}},
		"button title long":  {zapbase.MessageInteractive, providers.Content{Interactive: buttons(1, strings.Repeat("x", meta.MaxButtonTitleLen))}},
		"eleven rows":        {zapbase.MessageInteractive, providers.Content{Interactive: rows(11)}},
		"template no name":   {zapbase.MessageTemplate, providers.Content{Template: &providers.Template{Language: "pt_BR"}}},
		"template no lang":   {zapbase.MessageTemplate, providers.Content{Template: &providers.Template{Name: "x"}}},
		"contacts empty":     {zapbase.MessageContacts, providers.Content{}},
		"unsupported type":   {zapbase.MessageSystem, providers.Content{Text: "x"}},
		"bad recipient":      {zapbase.MessageText, providers.Content{Text: "x"}},
	}
	for name, c := range cases {
		to := customer
		if name == "bad recipient" {
			to = "abc"
		}
		_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: to,
			Type: c.typ, Content: c.c, Attempt: 1})
		var perm *providers.PermanentError
		require.ErrorAs(t, err, &perm, name)
		require.NotEmpty(t, perm.Reason, name)
		require.Contains(t, []zapbase.Code{zapbase.CodeInvalidInput, zapbase.CodeUnsupported}, zapbase.ErrorCode(err), name)
	}
	require.Empty(t, e.fake.Sends(), "nothing invalid reached Meta")
}

func TestSendErrorsAreClassified(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture string
		status  int
		check   func(t *testing.T, err error)
		state   string
	}{
		{"error_130429.json", 400, func(t *testing.T, err error) {
			var rl *providers.RateLimitedError
			require.ErrorAs(t, err, &rl)
			require.Equal(t, providers.ScopeNumber, rl.Scope)
			require.Equal(t, "130429", rl.Code)
		}, providers.StateConnected},
		{"error_131056.json", 400, func(t *testing.T, err error) {
			var rl *providers.RateLimitedError
			require.ErrorAs(t, err, &rl)
			require.Equal(t, providers.ScopeRecipient, rl.Scope)
			require.Equal(t, 16*time.Second, rl.After, "attempt 3 → 4^2 s")
		}, providers.StateConnected},
		{"error_131047.json", 400, func(t *testing.T, err error) {
			var perm *providers.PermanentError
			require.ErrorAs(t, err, &perm)
			require.Equal(t, "131047", perm.Code)
			require.Contains(t, perm.Reason, "modelo (template)")
		}, providers.StateConnected},
		{"error_131000.json", 500, func(t *testing.T, err error) {
			var re *providers.RetryableError
			require.ErrorAs(t, err, &re)
		}, providers.StateConnected},
		{"error_100_invalid_parameter.json", 400, func(t *testing.T, err error) {
			var perm *providers.PermanentError
			require.ErrorAs(t, err, &perm)
			require.Equal(t, "100", perm.Code)
		}, providers.StateConnected},
		{"error_132001.json", 404, func(t *testing.T, err error) {
			var perm *providers.PermanentError
			require.ErrorAs(t, err, &perm)
		}, providers.StateConnected},
		{"error_190_token_expired.json", 401, func(t *testing.T, err error) {
			var al *providers.AuthLostError
			require.ErrorAs(t, err, &al)
			require.Equal(t, "190", al.Code)
		}, providers.StateAuthLost},
		{"error_368.json", 403, func(t *testing.T, err error) {
			var su *providers.SessionUnavailableError
			require.ErrorAs(t, err, &su)
			require.Equal(t, providers.StateBlocked, su.State)
		}, providers.StateBlocked},
		{"error_131031.json", 403, func(t *testing.T, err error) {
			var su *providers.SessionUnavailableError
			require.ErrorAs(t, err, &su)
		}, providers.StateBlocked},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			e.openWindow()
			e.fake.Script(customer, metafake.ErrorOutcome(c.fixture, c.status))
			_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
				Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 3})
			require.Error(t, err)
			c.check(t, err)
			st, err := e.prov.Status(e.ctx, e.session)
			require.NoError(t, err)
			require.Equal(t, c.state, st.State)
			if c.state != providers.StateConnected {
				// Sends stop without calling Meta again with the same token.
				before := len(e.fake.Sends())
				_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
					Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 1})
				require.Error(t, err)
				require.Len(t, e.fake.Sends(), before)
			}
		})
	}
}

func TestSendTimeoutAfterWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{client: &http.Client{Timeout: 300 * time.Millisecond}})
	e.openWindow()
	e.fake.Script(customer, metafake.Outcome{Hang: true})
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 1})
	var amb *providers.AmbiguousError
	require.ErrorAs(t, err, &amb)
	var re *providers.RetryableError
	require.False(t, errors.As(err, &re), "an ambiguous send must not look retryable")
}

func TestSendToUnreachableGraphIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	e.fake.Close() // connection refused: the request never left
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 1})
	var re *providers.RetryableError
	require.ErrorAs(t, err, &re)
}

func TestMarkReadWithTypingAndSetTyping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	wamid := "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFDNFQjBDNzFBMkY0RDhCNUU2QTdCAA=="
	require.NoError(t, e.prov.MarkRead(e.ctx, providers.MarkReadParams{TenantID: e.tenantID, SessionID: e.session,
		ProviderMessageIDs: []string{wamid}}))
	require.NoError(t, e.prov.SetTyping(e.ctx, e.session, customer, true))
	sends := e.fake.Sends()
	require.Len(t, sends, 2)
	require.JSONEq(t, string(metafake.Fixture("mark_read_request.json")), string(sends[0]))
	require.JSONEq(t, string(metafake.Fixture("mark_read_typing_request.json")), string(sends[1]))
	require.Error(t, e.prov.SetTyping(e.ctx, e.session, "5511900000000", true), "no message from this contact")
}

func TestUploadMedia(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	data := []byte("\xff\xd8\xff\xe0fake-jpeg")
	id, err := e.prov.UploadMedia(e.ctx, e.session, "image/jpeg", data)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	var up *metafake.Request
	for _, r := range e.fake.Requests() {
		if strings.HasSuffix(r.Path, "/"+pnid+"/media") {
			up = &r
		}
	}
	require.NotNil(t, up)
	require.Equal(t, "whatsapp", up.Form["messaging_product"])
	require.Equal(t, "image/jpeg", up.Form["type"])
	require.Equal(t, "image/jpeg", up.FileType)
	require.Equal(t, data, up.File)

	_, err = e.prov.UploadMedia(e.ctx, e.session, "image/gif", data)
	require.Equal(t, zapbase.CodeInvalidInput, zapbase.ErrorCode(err))
	_, err = e.prov.UploadMedia(e.ctx, e.session, "image/jpeg", make([]byte, 5<<20+1))
	require.Equal(t, zapbase.CodeInvalidInput, zapbase.ErrorCode(err))
}
