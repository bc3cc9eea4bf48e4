package meta_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
	"github.com/zapbase/zapbase/providers/providertest"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// TestConformance runs the provider suite against the fake Graph API:
// receipts arrive as signed status webhooks through the real handler.
func TestConformance(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, err := supabase.Connect(ctx, devdbtest.NewDatabase(t), supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	fake := metafake.New(metafake.Number{PhoneNumberID: pnid, Display: display, Token: token})
	t.Cleanup(fake.Close)
	sink := providertest.NewRecordingSink()
	prov, err := meta.New(meta.Params{Store: store.New(pool).MetaChannel(), Box: box, Events: sink,
		Client:  meta.ClientConfig{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 2 * time.Second}},
		NowFunc: func() time.Time { return fixtureNow }, PollInterval: time.Hour})
	require.NoError(t, err)
	t.Cleanup(prov.Stop)
	web := httptest.NewServer(prov.Webhook())
	t.Cleanup(web.Close)

	var tenantID, sessionID string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('conf', 'conf') RETURNING id::text`).Scan(&tenantID))
	require.NoError(t, pool.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&sessionID))
	opts, _ := json.Marshal(creds(pnid, wabaID, token))
	_, err = prov.Initialize(ctx, providers.InitializeParams{TenantID: tenantID, SessionID: sessionID, PhoneNumber: display, Options: opts})
	require.NoError(t, err)

	deliver := func(t *testing.T, body []byte) {
		resp, err := metafake.PostWebhook(http.DefaultClient, web.URL, appSecret, body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for {
			n, err := prov.ProcessInbox(ctx)
			require.NoError(t, err)
			if n == 0 {
				return
			}
		}
	}
	deliver(t, metafake.Fixture("webhook_text.json")) // opens the customer-service window

	reset := func(t *testing.T) {
		_, err := pool.Exec(ctx, `UPDATE public.whatsapp_sessions SET state = 'connected' WHERE id = $1`, sessionID)
		require.NoError(t, err)
	}
	providertest.Run(t, providertest.Harness{
		Provider: prov, TenantID: tenantID, SessionID: sessionID, From: display, To: customer, Sink: sink,
		TriggerReceiptFunc: func(t *testing.T, wamid string) {
			body := strings.ReplaceAll(string(metafake.Fixture("webhook_status_delivered.json")),
				"wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEkYxRTJEM0M0QjVBNjk3ODg3RgA=", wamid)
			deliver(t, []byte(body))
		},
		FailNextFunc: func(t *testing.T, kind providertest.ErrorKind) bool {
			reset(t) // a previous auth-lost/blocked outcome stopped the session
			switch kind {
			case providertest.KindRetryable:
				fake.Script(customer, metafake.ErrorOutcome("error_131000.json", 500))
			case providertest.KindRateLimited:
				fake.Script(customer, metafake.ErrorOutcome("error_130429.json", 400))
			case providertest.KindPermanent:
				fake.Script(customer, metafake.ErrorOutcome("error_132001.json", 404))
			case providertest.KindAuthLost:
				fake.Script(customer, metafake.ErrorOutcome("error_190_token_expired.json", 401))
			case providertest.KindSessionUnavailable:
				fake.Script(customer, metafake.ErrorOutcome("error_368.json", 403))
			case providertest.KindAmbiguous:
				fake.Script(customer, metafake.Outcome{Hang: true})
			default:
				return false
			}
			return true
		},
	})
}
