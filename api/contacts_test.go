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
