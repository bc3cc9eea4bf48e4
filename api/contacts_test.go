package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// waProvider stands for WhatsApp Web: it checks numbers and answers
// passkeys, recording what it was given.
type waProvider struct {
	fakeProvider
	checked    []string
	credential json.RawMessage
	confirmed  bool
	edited     []providers.EditParams
	revoked    []providers.RevokeParams
}

func (w *waProvider) CheckNumbers(_ context.Context, _ string, numbers []string) ([]providers.NumberCheck, error) {
	w.checked = numbers
	out := make([]providers.NumberCheck, len(numbers))
	for i, n := range numbers {
		out[i] = providers.NumberCheck{Input: n, Valid: true, Number: "551187654321", OnWhatsApp: true, WhatsAppNumber: "5511987654321"}
	}
	return out, nil
}

func (w *waProvider) SendPasskeyResponse(_ context.Context, _ string, cred json.RawMessage) (providers.SessionState, error) {
	w.credential = cred
	return providers.SessionState{State: providers.StatePasskeyRequired}, nil
}

func (w *waProvider) ConfirmPasskey(context.Context, string) (providers.SessionState, error) {
	w.confirmed = true
	return providers.SessionState{State: providers.StatePairing}, nil
}

func (w *waProvider) EditMessage(_ context.Context, ep providers.EditParams) (providers.SendResult, error) {
	w.edited = append(w.edited, ep)
	return providers.SendResult{ProviderMessageID: ep.ProviderMessageID}, nil
}

func (w *waProvider) RevokeMessage(_ context.Context, rp providers.RevokeParams) error {
	w.revoked = append(w.revoked, rp)
	return nil
}

func TestEditAndDeleteSentMessages(t *testing.T) {
	wa := &waProvider{fakeProvider: fakeProvider{typ: zapbase.ProviderBaileys}}
	e := newEnv(t, envOpts{extra: map[zapbase.ProviderType]providers.Provider{zapbase.ProviderBaileys: wa}})
	tid, uid := e.tenant("acme", "owner")
	ctx := context.Background()
	var sid, rowID, pendingID, sbID string
	require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
VALUES ($1, '5511988887777', 'baileys', 'connected') RETURNING id`, tid).Scan(&sid))
	require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, message_type, content, status, provider)
VALUES ($1, $2, '3EB0SENT', 'outbound', '5511977776666', 'text', '{"text":"reunião às 14h"}', 'sent', 'baileys') RETURNING id`, tid, sid).Scan(&rowID))
	require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, session_id, direction, to_number, message_type, content, status, provider)
VALUES ($1, $2, 'outbound', '5511977776666', 'text', '{"text":"ainda não"}', 'pending', 'baileys') RETURNING id`, tid, sid).Scan(&pendingID))
	require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, message_type, content, status, provider)
SELECT $1, id, 'sb-1', 'outbound', '5511977776666', 'text', '{"text":"x"}', 'sent', 'sandbox' FROM public.whatsapp_sessions WHERE tenant_id = $1 AND provider_type = 'sandbox' RETURNING id`, tid).Scan(&sbID))
	h := auth(hsToken(claims(uid, nil)), "acme")

	r := e.do("POST", "/api/v1/messages/"+rowID+"/edit", h, map[string]any{"text": "reunião às 15h"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, []providers.EditParams{{TenantID: tid, SessionID: sid, Chat: "5511977776666", ProviderMessageID: "3EB0SENT", Type: zapbase.MessageText, Text: "reunião às 15h"}}, wa.edited)
	var text, hist string
	var edited bool
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT content->>'text', edit_history::text, edited_at IS NOT NULL FROM public.messages WHERE id = $1`, rowID).Scan(&text, &hist, &edited))
	require.Equal(t, "reunião às 15h", text)
	require.True(t, edited)
	require.Contains(t, hist, "reunião às 14h")

	// By provider id too; the row stays, marked revoked.
	r = e.do("DELETE", "/api/v1/messages/3EB0SENT", h, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Len(t, wa.revoked, 1)
	var revoked bool
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM public.messages WHERE id = $1`, rowID).Scan(&revoked))
	require.True(t, revoked)

	r = e.do("POST", "/api/v1/messages/"+pendingID+"/edit", h, map[string]any{"text": "x"})
	r.problem(t, http.StatusConflict, string(zapbase.CodeConflict))
	r = e.do("DELETE", "/api/v1/messages/"+sbID, h, nil)
	r.problem(t, http.StatusUnprocessableEntity, string(zapbase.CodeUnsupportedByProvider))
	r = e.do("POST", "/api/v1/messages/"+rowID+"/edit", h, map[string]any{"text": ""})
	r.problem(t, http.StatusUnprocessableEntity, string(zapbase.CodeInvalidInput))
	r = e.do("DELETE", "/api/v1/messages/00000000-0000-0000-0000-000000000000", h, nil)
	r.problem(t, http.StatusNotFound, "message_not_found")
}

func TestContactsCheckAndPasskey(t *testing.T) {
	wa := &waProvider{fakeProvider: fakeProvider{typ: zapbase.ProviderBaileys}}
	e := newEnv(t, envOpts{extra: map[zapbase.ProviderType]providers.Provider{zapbase.ProviderBaileys: wa}})
	tid, uid := e.tenant("acme", "owner")
	_, err := e.pool.Exec(context.Background(), `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
VALUES ($1, '5511988887777', 'baileys', 'passkey_required')`, tid)
	require.NoError(t, err)
	h := auth(hsToken(claims(uid, nil)), "acme")

	r := e.do("POST", "/api/v1/contacts/check", h, map[string]any{"sessionPhone": "5511988887777", "numbers": []string{"+55 11 8765-4321"}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	res := r.json(t)["results"].([]any)[0].(map[string]any)
	require.Equal(t, "5511987654321", res["whatsAppNumber"])
	require.Equal(t, true, res["onWhatsApp"])
	require.Equal(t, []string{"+55 11 8765-4321"}, wa.checked)

	// The sandbox fake of this suite checks nothing: a clear code.
	r = e.do("POST", "/api/v1/contacts/check", h, map[string]any{"sessionPhone": "5511900000000", "numbers": []string{"5511987654321"}})
	r.problem(t, http.StatusUnprocessableEntity, string(zapbase.CodeUnsupportedByProvider))
	r = e.do("POST", "/api/v1/contacts/check", h, map[string]any{"sessionPhone": "5511988887777", "numbers": []string{}})
	r.problem(t, http.StatusUnprocessableEntity, string(zapbase.CodeInvalidInput))

	cred := map[string]any{"id": "Y3JlZA", "rawId": "Y3JlZA", "type": "public-key", "response": map[string]any{"signature": "c2ln"}}
	r = e.do("POST", "/api/v1/sessions/passkey", h, map[string]any{"phoneNumber": "5511988887777", "credential": cred})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.JSONEq(t, `{"id":"Y3JlZA","rawId":"Y3JlZA","type":"public-key","response":{"signature":"c2ln"}}`, string(wa.credential))
	r = e.do("POST", "/api/v1/sessions/passkey", h, map[string]any{"phoneNumber": "5511988887777", "confirm": true})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.True(t, wa.confirmed)
	r = e.do("POST", "/api/v1/sessions/passkey", h, map[string]any{"phoneNumber": "5511988887777"})
	r.problem(t, http.StatusUnprocessableEntity, string(zapbase.CodeInvalidInput))
	r = e.do("POST", "/api/v1/sessions/passkey", h, map[string]any{"phoneNumber": "5511900000000", "confirm": true})
	r.problem(t, http.StatusUnprocessableEntity, string(zapbase.CodeUnsupportedByProvider))
}
