package whatsmeowfake_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/zapbase/zapbase/store"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	wm "github.com/zapbase/zapbase/providers/whatsmeow"
	"github.com/zapbase/zapbase/providers/whatsmeow/whatsmeowfake"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

// The provider pairs a device of the offline fake through the passkey flow,
// driven by the real whatsmeow event types the fake emits.
func TestPasskeyPairingWithTheFakeClient(t *testing.T) {
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, devdbtest.NewDatabase(t), supabase.PoolConfig{MaxConns: 10})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var tenant, id string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('acme', 'Acme') RETURNING id::text`).Scan(&tenant))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
VALUES ($1, '5511988887777', 'baileys', 'disconnected') RETURNING id::text`, tenant).Scan(&id))
	devices := whatsmeowfake.New(nil)
	devices.QRInterval = time.Hour
	devices.PasskeyJID = "5511988887777:3@s.whatsapp.net"
	p, err := wm.New(wm.Config{DB: store.New(pool).WhatsAppWeb(), Sink: dispatch.NewEvents(pool), NewClientFunc: devices.NewClient,
		Holder: "fake-" + t.Name(), LeaseTTL: 3 * time.Second, LeaseTick: 500 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx))
	t.Cleanup(p.Stop)

	_, err = p.Initialize(ctx, providers.InitializeParams{TenantID: tenant, SessionID: id})
	require.NoError(t, err)
	state := func() providers.SessionState {
		st, err := p.Status(ctx, id)
		require.NoError(t, err)
		return st
	}
	require.Eventually(t, func() bool { return state().State == providers.StatePasskeyRequired }, 30*time.Second, 10*time.Millisecond)
	var opts map[string]any
	require.NoError(t, json.Unmarshal(state().PasskeyRequest, &opts))
	require.Equal(t, "whatsapp.com", opts["rpId"])
	require.NotEmpty(t, opts["challenge"])

	cred := `{"id":"Y3JlZA","rawId":"Y3JlZA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"YQ","signature":"c2ln"}}`
	_, err = p.SendPasskeyResponse(ctx, id, json.RawMessage(cred))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return state().State == providers.StatePasskeyConfirmation }, 30*time.Second, 10*time.Millisecond)
	require.Equal(t, "FAKE-CODE", state().PasskeyCode)

	_, err = p.ConfirmPasskey(ctx, id)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return state().State == providers.StateConnected }, 30*time.Second, 10*time.Millisecond)
	st := state()
	require.Equal(t, "5511988887777:3@s.whatsapp.net", st.JID)
	require.Empty(t, st.PasskeyRequest)
}
