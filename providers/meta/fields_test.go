package meta_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

// PARTNER_*, AD_ACCOUNT_LINKED and MM_LITE_TERMS_SIGNED name a business
// portfolio in entry.id and the WABA in value.waba_info.waba_id: they are
// routed (signature checked) by the WABA; an uninstall or removal makes the
// sessions credential-lost.
func TestAccountUpdateRoutedByWABAInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, f := range []string{"webhook_account_update_partner_app_installed.json",
		"webhook_account_update_ad_account_linked.json", "webhook_account_update_mm_lite_terms_signed.json"} {
		body := testdata(t, f)
		require.Equal(t, http.StatusUnauthorized, e.post(body, meta.Sign("another-app", body)), "routed, so verified: "+f)
		e.deliver(body)
		state, _, _ := e.sessionState(e.session)
		require.Equal(t, providers.StateConnected, state, f)
	}
	e.allProcessed()
	require.Zero(t, e.count(`SELECT count(*) FROM wa.meta_unrouted_webhooks`))

	for _, f := range []string{"webhook_account_update_partner_app_uninstalled.json", "webhook_account_update_partner_removed.json"} {
		e.deliver(testdata(t, f))
		e.allProcessed()
		state, reason, _ := e.sessionState(e.session)
		require.Equal(t, providers.StateAuthLost, state, f)
		require.Contains(t, reason, "deixou de ser compartilhada")
		err := e.sendText(e.session)
		var al *providers.AuthLostError
		require.ErrorAs(t, err, &al, f)
	}
}

// A delivery naming no known route is acknowledged, recorded and counted
// (never a 401 that Meta would retry for 7 days), and not processed.
func TestUnroutedAccountUpdateAcknowledged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	body := testdata(t, "webhook_account_update_unknown_waba.json")
	for range 3 {
		require.Equal(t, http.StatusOK, e.post(body, meta.Sign(appSecret, body)))
	}
	require.Equal(t, 3, e.count(`SELECT deliveries::int FROM wa.meta_unrouted_webhooks
 WHERE entry_id = '102938475600000' AND field = 'account_update' AND event = 'PARTNER_APP_INSTALLED'`))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox`))
	require.EqualValues(t, 3, e.prov.UnroutedWebhooks())
}

// user_changed_user_id: the BSUID changes, no phone; the contact keeps one
// identity, its window, and sends to the new BSUID work.
func TestSystemUserChangedUserIDKeepsOneIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(metafake.Fixture("webhook_text_with_bsuid.json")) // wa_id + BR.1349…
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts`))
	e.deliver(testdata(t, "webhook_system_user_changed_user_id.json"))
	e.allProcessed()
	const newID = "BR.88120455731902264410"
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts`), "one identity")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts
 WHERE wa_id = $1 AND bsuid = $2 AND parent_bsuid = 'BR.ENT.55012938475610293' AND last_inbound_at IS NOT NULL`, customer, newID))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM public.messages WHERE message_type = 'system'`))
	for _, to := range []string{newID, customer, "BR.ENT.55012938475610293"} {
		open, _, err := e.prov.WindowOpen(e.ctx, e.tenantID, e.session, to)
		require.NoError(t, err)
		require.True(t, open, to)
	}
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: newID,
		Type: zapbase.MessageText, Content: providers.Content{Text: "Oi de novo"}, Attempt: 1})
	require.NoError(t, err)
	var sent map[string]any
	sends := e.fake.Sends()
	require.NoError(t, json.Unmarshal(sends[len(sends)-1], &sent))
	require.Equal(t, newID, sent["recipient"])
}

// Group messages: chat = group, sender = participant, no 1:1 window;
// replies go to the group; group statuses move the group message's row.
func TestGroupMessagesOnTheCloudAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	const group = "Y2FwaV9ncm91cDoxNTUxMTk4ODg4Nzc3NzoxMjAzNjM0MDQ2OTQyMzM4MjAZD"
	e.deliver(testdata(t, "webhook_group_text.json"))
	var from, chat string
	var isGroup bool
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT from_number, metadata->>'chat', (metadata->>'isGroup')::bool
  FROM public.messages WHERE direction = 'inbound'`).Scan(&from, &chat, &isGroup))
	require.Equal(t, "5511966665555", from, "the participant is kept")
	require.Equal(t, group, chat)
	require.True(t, isGroup)
	// No 1:1 window was opened for the participant.
	open, _, err := e.prov.WindowOpen(e.ctx, e.tenantID, e.session, "5511966665555")
	require.NoError(t, err)
	require.False(t, open)

	// A reply to the group goes to the group, without a window check.
	res, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: group,
		Type: zapbase.MessageText, Content: providers.Content{Text: "Sim, abrimos no feriado das 9h às 14h."}, Attempt: 1})
	require.NoError(t, err)
	sends := e.fake.Sends()
	last := sends[len(sends)-1]
	require.Equal(t, canonical(t, testdata(t, "send_text_group_request.json")), canonical(t, last))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(last, &sent))
	require.Equal(t, "group", sent["recipient_type"])
	require.Equal(t, group, sent["to"])
	require.NotEmpty(t, res.ProviderMessageID)
	require.Equal(t, group, res.RecipientID)
	require.Zero(t, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = $1 OR bsuid = $1`, group))

	// Statuses of a group send (recipient_type group, group_id).
	wamid := "wamid.HBgNR1JPVVBTRU5EMDAwMDEVAgARGBJGMUUyRDNDNEI1QTY5Nzg4N0cA"
	id := e.outbound(wamid, "sent")
	e.deliver(testdata(t, "webhook_group_status_sent.json"))
	e.deliver(testdata(t, "webhook_group_status_read_participant.json"))
	e.allProcessed()
	require.Equal(t, "read", e.status(id))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = $1`, group), "a group is not a contact")
}

func (e *env) sendTemplate(name string) error {
	e.t.Helper()
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageTemplate, Content: providers.Content{Template: &providers.Template{Name: name, Language: "pt_BR"}}, Attempt: 1})
	return err
}

// Template status and quality webhooks are recorded; a paused or disabled
// template is refused before Meta is called.
func TestTemplateStatusRefusesPausedAndDisabledTemplates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(metafake.Fixture("webhook_template_status_update.json")) // pedido_enviado PAUSED
	e.deliver(testdata(t, "webhook_template_quality_update.json"))     // pedido_enviado RED
	e.deliver(testdata(t, "webhook_template_status_disabled.json"))    // promo_black_friday DISABLED
	e.allProcessed()
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_templates
 WHERE waba_id = $1 AND name = 'pedido_enviado' AND language = 'pt_BR' AND status = 'PAUSED' AND quality = 'RED'
   AND status_reason LIKE 'FIRST_PAUSE%'`, wabaID))

	// Visible to the tenant (session_data, member-readable, Realtime).
	var state map[string]any
	var raw []byte
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT session_data->'metaTemplates'->'pedido_enviado:pt_BR' FROM public.whatsapp_sessions WHERE id = $1`,
		e.session).Scan(&raw))
	require.NoError(t, json.Unmarshal(raw, &state))
	require.Equal(t, "PAUSED", state["status"])
	require.Equal(t, "RED", state["quality"])

	var perm *providers.PermanentError
	require.ErrorAs(t, e.sendTemplate("pedido_enviado"), &perm)
	require.Equal(t, string(zapbase.CodeTemplatePaused), perm.Code)
	require.Contains(t, perm.Reason, "pausado")
	require.ErrorAs(t, e.sendTemplate("promo_black_friday"), &perm)
	require.Equal(t, string(zapbase.CodeTemplateDisabled), perm.Code)
	require.Empty(t, e.fake.Sends(), "refused before Meta was called")
	require.NoError(t, e.sendTemplate("hello_world"), "unknown templates are sent: Meta judges")

	// A pause ends by itself after at most 6 hours, even if the webhook
	// lifting it never arrives.
	_, err := e.pool.Exec(e.ctx, `UPDATE wa.meta_templates SET status_at = now() - interval '7 hours' WHERE name = 'pedido_enviado'`)
	require.NoError(t, err)
	require.NoError(t, e.sendTemplate("pedido_enviado"))
}

// user_preferences stop is recorded and honoured before a marketing
// template; resume lifts it; a 131050 failure records the opt-out too.
func TestMarketingOptOutHonouredBeforeMarketingTemplates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(testdata(t, "webhook_template_status_approved_marketing.json")) // ofertas_semana MARKETING
	e.deliver(testdata(t, "webhook_template_category_update.json"))           // lembrete_carrinho → MARKETING
	e.deliver(testdata(t, "webhook_user_preferences_stop.json"))
	e.allProcessed()
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_opt_outs WHERE contact = $1 AND opted_out`, customer))

	var perm *providers.PermanentError
	for _, name := range []string{"ofertas_semana", "lembrete_carrinho"} {
		require.ErrorAs(t, e.sendTemplate(name), &perm, name)
		require.Equal(t, string(zapbase.CodeMarketingOptedOut), perm.Code)
	}
	require.Empty(t, e.fake.Sends())
	require.NoError(t, e.sendTemplate("hello_world"), "templates not known to be marketing still go")

	e.deliver(testdata(t, "webhook_user_preferences_resume.json"))
	require.NoError(t, e.sendTemplate("ofertas_semana"))
	// A late stop (older timestamp) does not undo the newer resume.
	e.deliver(testdata(t, "webhook_user_preferences_stop.json"))
	require.NoError(t, e.sendTemplate("ofertas_semana"))

	// Meta fails a marketing send with 131050: the opt-out is recorded.
	id := e.outbound("wamid.failed131050", "sent")
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + wabaID + `","changes":[{"field":"messages","value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"` + display + `","phone_number_id":"` + pnid + `"},
"statuses":[{"id":"wamid.failed131050","status":"failed","timestamp":"1789003900","recipient_id":"` + customer + `",
"errors":[{"code":131050,"title":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business","message":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business","error_data":{"details":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business"}}]}]}}]}]}`)
	e.deliver(body)
	require.Equal(t, "failed", e.status(id))
	require.ErrorAs(t, e.sendTemplate("ofertas_semana"), &perm)
	require.Equal(t, string(zapbase.CodeMarketingOptedOut), perm.Code)
}

// pricing/conversation of statuses are stored on the message (cost per
// category per tenant), and a template's category is learned from it.
func TestPricingStoredOnTheMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	var id string
	require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, message_type, content, status, provider)
VALUES ($1, $2, 'wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEk1BUktFVElOR1RFTVBMQVRFMQA=', 'outbound', $3, 'template',
        '{"template":{"name":"cupom_semana","language":"pt_BR"}}', 'sending', 'meta_api') RETURNING id::text`,
		e.tenantID, e.session, customer).Scan(&id))
	e.deliver(testdata(t, "webhook_status_sent_marketing_pricing.json"))
	e.allProcessed()
	var category, model, origin string
	var billable bool
	require.NoError(t, e.pool.QueryRow(e.ctx, `
SELECT pricing->>'category', pricing->'pricing'->>'pricing_model', (pricing->'pricing'->>'billable')::bool,
       pricing->'conversation'->'origin'->>'type'
  FROM public.messages WHERE id = $1`, id).Scan(&category, &model, &billable, &origin))
	require.Equal(t, "marketing", category)
	require.Equal(t, "PMP", model)
	require.True(t, billable)
	require.Equal(t, "marketing", origin)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_templates WHERE name = 'cupom_semana' AND category = 'MARKETING'`))

	// The service-window fixture's pricing too; cost per category per tenant.
	e.outbound("wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEkYxRTJEM0M0QjVBNjk3ODg3RgA=", "sending")
	e.deliver(metafake.Fixture("webhook_status_sent.json"))
	rows, err := e.pool.Query(e.ctx, `SELECT pricing->>'category', count(*) FROM public.messages
 WHERE tenant_id = $1 AND pricing IS NOT NULL GROUP BY 1 ORDER BY 1`, e.tenantID)
	require.NoError(t, err)
	got := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		require.NoError(t, rows.Scan(&c, &n))
		got[c] = n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]int{"marketing": 1, "service": 1}, got)
}

// user_changed_number may carry the regenerated BSUID in system.user_id:
// the contact moves to the new number and keeps one identity with it.
func TestSystemUserChangedNumberWithNewUserID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(metafake.Fixture("webhook_text_with_bsuid.json"))
	e.deliver(testdata(t, "webhook_system_user_changed_number_with_user_id.json"))
	e.allProcessed()
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts
 WHERE wa_id = '5511977776666' AND bsuid = 'BR.66120455731902264477' AND parent_bsuid = 'BR.ENT.55012938475610293' AND last_inbound_at IS NOT NULL`))
	open, _, err := e.prov.WindowOpen(e.ctx, e.tenantID, e.session, "BR.66120455731902264477")
	require.NoError(t, err)
	require.True(t, open)
}
