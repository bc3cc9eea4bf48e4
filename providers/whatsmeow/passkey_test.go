package whatsmeow

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/util/jsonbytes"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase/providers"
)

// pairingSession starts pairing a new device and waits for the first QR.
func pairingSession(t *testing.T) (*fixture, *Provider, *fakeClient, *signalSink, string) {
	t.Helper()
	f := newFixture(t)
	id := f.addSession(t, ownPN, "")
	devices := &fakeDevices{}
	c := devices.nextNew()
	sink := newSignalSink(f.pool)
	p := f.provider(t, devices, sink)
	c.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@ref,noise,identity,OLDSECRET"}
	st, err := p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id})
	require.NoError(t, err)
	require.Equal(t, providers.StatePairing, st.State)
	return f, p, c, sink, id
}

func TestRotateADVSecretReplacesTheStoredQR(t *testing.T) {
	t.Parallel()
	f, _, c, sink, id := pairingSession(t)
	c.emit(&events.RotateADVSecret{OldSecret: "OLDSECRET", NewSecret: "NEWSECRET"})
	for sink.waitState(t, providers.StatePairing).QRCode != "2@ref,noise,identity,NEWSECRET" {
	}
	require.Equal(t, "2@ref,noise,identity,NEWSECRET", f.sessionRow(t, id).QRCode)
}

func TestPasskeyLinking(t *testing.T) {
	t.Parallel()
	f, p, c, _, id := pairingSession(t)
	ctx := context.Background()
	// The phone scanned the QR and WhatsApp asks for the account's passkey.
	req := &events.PairPasskeyRequest{PublicKey: &types.WebAuthnPublicKey{
		Challenge: jsonbytes.UnpaddedURLBytes("challenge-bytes"), Timeout: 60000, RelyingPartID: "whatsapp.com",
		AllowCredentials: []types.AllowedCredential{{ID: jsonbytes.UnpaddedURLBytes("cred-1"), Type: "public-key", Transports: []string{"internal", "hybrid"}}},
		UserVerification: "required",
	}}
	c.emit(req)
	st, err := p.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, providers.StatePasskeyRequired, st.State)
	require.Empty(t, st.QRCode, "the QR must not stay once the passkey is asked")
	var opts map[string]any
	require.NoError(t, json.Unmarshal(st.PasskeyRequest, &opts))
	require.Equal(t, "Y2hhbGxlbmdlLWJ5dGVz", opts["challenge"]) // base64url, unpadded
	require.Equal(t, "whatsapp.com", opts["rpId"])

	// A bad credential is refused before reaching WhatsApp.
	_, err = p.SendPasskeyResponse(ctx, id, json.RawMessage(`{"id":"x"}`))
	require.Error(t, err)
	// The browser's PublicKeyCredential (toJSON form).
	cred := `{"id":"Y3JlZC0x","rawId":"Y3JlZC0x","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"YXV0aA","signature":"c2ln","userHandle":null}}`
	_, err = p.SendPasskeyResponse(ctx, id, json.RawMessage(cred))
	require.NoError(t, err)
	c.mu.Lock()
	require.Len(t, c.passkeys, 1)
	require.Equal(t, []byte("cred-1"), []byte(c.passkeys[0].RawID))
	require.Equal(t, []byte("sig"), []byte(c.passkeys[0].Response.Signature))
	c.mu.Unlock()

	// WhatsApp asks to compare a code: shown in the row, then confirmed.
	c.emit(&events.PairPasskeyConfirmation{Code: "ABCD-EFGH"})
	st, err = p.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, providers.StatePasskeyConfirmation, st.State)
	require.Equal(t, "ABCD-EFGH", st.PasskeyCode)
	_, err = p.ConfirmPasskey(ctx, id)
	require.NoError(t, err)
	c.mu.Lock()
	require.Equal(t, 1, c.confirmed)
	c.mu.Unlock()
	c.emit(&events.PairSuccess{ID: types.NewADJID(ownPN, 0, 4)})
	r := f.sessionRow(t, id)
	require.Equal(t, providers.StateConnecting, r.State)
	var left []byte
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT passkey_request FROM public.whatsapp_sessions WHERE id = $1`, id).Scan(&left))
	require.Nil(t, left, "the challenge is cleared once the passkey states end")
}
