package meta_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

func TestInitializeStoresEncryptedCredentialsAndVerifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})

	var data, state string
	require.NoError(t, e.pool.QueryRow(e.ctx, `
SELECT session_data::text, state FROM public.whatsapp_sessions WHERE id = $1`, e.session).Scan(&data, &state))
	require.Equal(t, providers.StateConnected, state)
	require.Contains(t, data, pnid)
	for _, s := range []string{token, appSecret, verifyToken} {
		require.NotContains(t, data, s)
	}
	var keyID string
	var sealed []byte
	require.NoError(t, e.pool.QueryRow(e.ctx, `
SELECT key_id, ciphertext FROM wa.session_secrets WHERE session_id = $1`, e.session).Scan(&keyID, &sealed))
	require.NotEmpty(t, keyID)
	for _, s := range []string{token, appSecret, verifyToken} {
		require.False(t, bytes.Contains(sealed, []byte(s)), "secret stored in clear")
	}
	// The verification used the session's token against GET /{phone-number-id}.
	var lookups int
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodGet && r.Path == "/v25.0/"+pnid {
			lookups++
			require.Equal(t, "Bearer "+token, r.Auth)
		}
	}
	require.Equal(t, 1, lookups)

	st, err := e.prov.Status(e.ctx, e.session)
	require.NoError(t, err)
	require.Equal(t, providers.StateConnected, st.State)
}

func TestInitializeUnreachableGraphIsAStateThenRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noInit: true})
	e.fake.ScriptPhoneLookup(metafake.Outcome{Status: http.StatusBadGateway}, metafake.Outcome{Status: http.StatusServiceUnavailable})
	e.session = e.initialize(e.tenantID, display, creds(pnid, wabaID, token))
	st := e.awaitState(providers.StateUnreachable)
	require.NotEmpty(t, st.Reason)
	e.awaitState(providers.StateConnected)
}

func TestInitializeExpiredTokenIsAuthLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noInit: true})
	e.session = e.initialize(e.tenantID, display, creds(pnid, wabaID, "wrong-token"))
	st := e.awaitState(providers.StateAuthLost)
	require.Contains(t, st.Reason, "token")
}

func TestInitializeWrongNumberFailsVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noInit: true})
	e.session = e.initialize(e.tenantID, "5511900001111", creds(pnid, wabaID, token))
	st := e.awaitState(providers.StatePairingFailed)
	require.Contains(t, st.Reason, display)
}

func TestInitializeValidatesOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noInit: true})
	for name, c := range map[string]meta.Credentials{
		"no phone number id": {WABAID: wabaID, AccessToken: token, AppSecret: appSecret, VerifyToken: verifyToken},
		"phone not id":       {PhoneNumberID: "+55 11", WABAID: wabaID, AccessToken: token, AppSecret: appSecret, VerifyToken: verifyToken},
		"no token":           {PhoneNumberID: pnid, WABAID: wabaID, AppSecret: appSecret, VerifyToken: verifyToken},
		"no app secret":      {PhoneNumberID: pnid, WABAID: wabaID, AccessToken: token, VerifyToken: verifyToken},
		"short verify token": {PhoneNumberID: pnid, WABAID: wabaID, AccessToken: token, AppSecret: appSecret, VerifyToken: "x"},
	} {
		opts, _ := json.Marshal(c)
		_, err := e.prov.Initialize(e.ctx, providers.InitializeParams{TenantID: e.tenantID, SessionID: "00000000-0000-0000-0000-000000000001",
			PhoneNumber: display, Options: opts})
		require.Error(t, err, name)
		require.Equal(t, zapbase.CodeInvalidInput, zapbase.ErrorCode(err), name)
		require.NotContains(t, err.Error(), token, name)
	}
	require.Zero(t, e.count(`SELECT count(*) FROM public.whatsapp_sessions`))
}

func TestNumberBelongsToOneSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	other := e.newTenant("other")
	opts, _ := json.Marshal(creds(pnid, wabaID, token))
	_, err := e.prov.Initialize(e.ctx, providers.InitializeParams{TenantID: other, SessionID: "00000000-0000-0000-0000-000000000002",
		PhoneNumber: display, Options: opts})
	require.Equal(t, zapbase.CodeConflict, zapbase.ErrorCode(err))
}

func TestLogoutForgetsCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	require.NoError(t, e.prov.Disconnect(e.ctx, e.session, true))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.session_secrets WHERE session_id = $1`, e.session))
	st, err := e.prov.Status(e.ctx, e.session)
	require.NoError(t, err)
	require.Equal(t, providers.StateLoggedOut, st.State)

	_, err = e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}, Attempt: 1})
	var su *providers.SessionUnavailableError
	require.ErrorAs(t, err, &su)

	// Webhooks for a forgotten number are no longer stored: acknowledged
	// and counted as unrouted.
	body := metafake.Fixture("webhook_text.json")
	before := e.count(`SELECT count(*) FROM wa.webhook_inbox`)
	require.Equal(t, http.StatusOK, e.post(body, meta.Sign(appSecret, body)))
	require.Equal(t, before, e.count(`SELECT count(*) FROM wa.webhook_inbox`))
	require.EqualValues(t, 1, e.prov.UnroutedWebhooks())
}

func TestDisconnectStopsSendsButKeepsWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	require.NoError(t, e.prov.Disconnect(e.ctx, e.session, false))
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
		Type: zapbase.MessageTemplate, Content: providers.Content{Template: &providers.Template{Name: "hello_world", Language: "en_US"}}, Attempt: 1})
	var su *providers.SessionUnavailableError
	require.ErrorAs(t, err, &su)
	require.Equal(t, providers.StateDisconnected, su.State)
	e.openWindow()
	require.Equal(t, 1, e.count(`SELECT count(*) FROM public.messages WHERE direction = 'inbound'`))
}

func TestSendRefusesAnotherTenantsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	other := e.newTenant("intruder")
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: other, SessionID: e.session, To: customer,
		Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}, Attempt: 1})
	var su *providers.SessionUnavailableError
	require.ErrorAs(t, err, &su)
	require.Empty(t, e.fake.Sends())
}
