package meta_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

// The fixtures' shared identities.
const (
	pnid        = "109876543210987"
	wabaID      = "102938475610293"
	display     = "5511988887777"
	customer    = "5511999999999"
	bsuid       = "BR.13491208655302741918"
	token       = "EAAG-test-access-token"
	appSecret   = "f3c1a9e07b2d4c5e8a6f1b3d9c7e2a40" // webhook_signature_case.json
	verifyToken = "meu-token-de-verificacao"         // webhook_verify_handshake_case.json

	// Second number of webhook_batched_multi.json (another tenant, same app).
	pnid2    = "109876543299999"
	waba2    = "102938475699999"
	display2 = "5521977776666"
	token2   = "EAAG-second-token"
)

// fixtureNow is one hour after webhook_text.json's timestamp: inside the
// customer-service window opened by it.
var fixtureNow = time.Unix(1789003200, 0).Add(time.Hour).UTC()

// recorder wraps the real EventSink and signals what passed through it.
type recorder struct {
	providers.EventSink
	states  chan providers.SessionState
	inbound chan providers.InboundMessage
}

func (r *recorder) SessionState(ctx context.Context, id string, s providers.SessionState) error {
	err := r.EventSink.SessionState(ctx, id, s)
	select {
	case r.states <- s:
	default:
	}
	return err
}

func (r *recorder) Inbound(ctx context.Context, m providers.InboundMessage) error {
	err := r.EventSink.Inbound(ctx, m)
	select {
	case r.inbound <- m:
	default:
	}
	return err
}

type env struct {
	t        *testing.T
	ctx      context.Context
	pool     *pgxpool.Pool
	fake     *metafake.Server
	prov     *meta.Provider
	rec      *recorder
	web      *httptest.Server
	tenantID string
	session  string
	mediaDir string
	now      time.Time
}

type envOpts struct {
	client *http.Client
	// noInit skips Initialize.
	noInit bool
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, devdbtest.NewDatabase(t), supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	require.NoError(t, err)

	fake := metafake.New(metafake.Number{PhoneNumberID: pnid, Display: display, Token: token},
		metafake.Number{PhoneNumberID: pnid2, Display: display2, Token: token2})
	t.Cleanup(fake.Close)

	e := &env{t: t, ctx: ctx, pool: pool, fake: fake, now: fixtureNow, mediaDir: t.TempDir()}
	e.rec = &recorder{EventSink: dispatch.NewEvents(pool), states: make(chan providers.SessionState, 64),
		inbound: make(chan providers.InboundMessage, 256)}
	prov, err := meta.New(meta.Params{
		Store: store.New(pool).MetaChannel(), Box: box, Events: e.rec,
		Client:          meta.ClientConfig{BaseURL: fake.URL, APIVersion: "v25.0", HTTPClient: o.client},
		Media:           meta.LocalMediaStore{Dir: e.mediaDir, BaseURL: "http://media.test"},
		NowFunc:         func() time.Time { return e.now },
		VerifyRetryBase: time.Millisecond,
		PollInterval:    time.Hour, // tests drive the inbox with ProcessInbox or wake-ups
	})
	require.NoError(t, err)
	t.Cleanup(prov.Stop)
	e.prov = prov
	e.web = httptest.NewServer(prov.Webhook())
	t.Cleanup(e.web.Close)

	e.tenantID = e.newTenant("acme")
	if !o.noInit {
		e.session = e.initialize(e.tenantID, display, creds(pnid, wabaID, token))
		e.awaitState(providers.StateConnected)
	}
	return e
}

func creds(phoneNumberID, waba, tok string) meta.Credentials {
	return meta.Credentials{PhoneNumberID: phoneNumberID, WABAID: waba, AccessToken: tok, AppSecret: appSecret, VerifyToken: verifyToken}
}

func (e *env) newTenant(clientID string) string {
	var id string
	require.NoError(e.t, e.pool.QueryRow(e.ctx,
		`INSERT INTO public.tenants (client_id, name) VALUES ($1, $1) RETURNING id::text`, clientID).Scan(&id))
	return id
}

func (e *env) initialize(tenantID, phone string, c meta.Credentials) string {
	e.t.Helper()
	var sessionID string
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `SELECT gen_random_uuid()::text`).Scan(&sessionID))
	opts, _ := json.Marshal(c)
	st, err := e.prov.Initialize(e.ctx, providers.InitializeParams{TenantID: tenantID, SessionID: sessionID, PhoneNumber: phone, Options: opts})
	require.NoError(e.t, err)
	require.Equal(e.t, providers.StateConnecting, st.State)
	return sessionID
}

func (e *env) awaitState(want string) providers.SessionState {
	e.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case s := <-e.rec.states:
			if s.State == want {
				return s
			}
		case <-timeout:
			e.t.Fatalf("session never reached state %s", want)
		}
	}
}

func (e *env) post(body []byte, sig string) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.web.URL, bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// deliver posts a correctly signed webhook and processes the inbox.
func (e *env) deliver(body []byte) {
	e.t.Helper()
	require.Equal(e.t, http.StatusOK, e.post(body, meta.Sign(appSecret, body)))
	e.drain()
}

func (e *env) drain() {
	e.t.Helper()
	for {
		n, err := e.prov.ProcessInbox(e.ctx)
		require.NoError(e.t, err)
		if n == 0 {
			return
		}
	}
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(e.ctx, sql, args...).Scan(&n))
	return n
}

// row is an inbound or outbound message row.
type row struct {
	Type, Status, From     string
	Content                map[string]any
	ErrorCode, ErrorReason *string
	MessageID, Direction   string
}

func (e *env) message(wamid string) row {
	e.t.Helper()
	var r row
	var content []byte
	var from *string
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `
SELECT message_type, status, from_number, content, error_code, error_reason, message_id, direction
  FROM public.messages WHERE message_id = $1`, wamid).
		Scan(&r.Type, &r.Status, &from, &content, &r.ErrorCode, &r.ErrorReason, &r.MessageID, &r.Direction))
	require.NoError(e.t, json.Unmarshal(content, &r.Content))
	if from != nil {
		r.From = *from
	}
	return r
}

// outbound inserts an outbound row already sent with a wamid.
func (e *env) outbound(wamid, status string) string {
	e.t.Helper()
	var id string
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, message_type, content, status, provider)
VALUES ($1, $2, $3, 'outbound', $4, 'text', '{"text":"oi"}', 'pending', 'meta_api') RETURNING id::text`,
		e.tenantID, e.session, wamid, customer).Scan(&id))
	for _, s := range []string{"sending", status} {
		if s == "pending" || s == "" {
			break
		}
		_, err := e.pool.Exec(e.ctx, `UPDATE public.messages SET status = $2 WHERE id = $1`, id, s)
		require.NoError(e.t, err)
		if s == status {
			break
		}
	}
	return id
}

func (e *env) status(id string) string {
	e.t.Helper()
	var s string
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `SELECT status FROM public.messages WHERE id = $1`, id).Scan(&s))
	return s
}

// openWindow records an inbound message from the customer.
func (e *env) openWindow() {
	e.t.Helper()
	e.deliver(metafake.Fixture("webhook_text.json"))
}
