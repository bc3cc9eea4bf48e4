package webhooks_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
	"github.com/zapbase/zapbase/webhooks"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

type fixture struct {
	t        *testing.T
	pool     *pgxpool.Pool
	db       *store.Store
	box      *secret.Box
	store    *webhooks.Store
	policy   webhooks.Policy
	tenantID string
	session  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, devdbtest.NewDatabase(t), supabase.PoolConfig{MaxConns: 12})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	policy, err := webhooks.ParsePolicy("127.0.0.0/8")
	require.NoError(t, err)
	db := store.New(pool)
	f := &fixture{t: t, pool: pool, db: db, box: box, policy: policy, store: webhooks.NewStore(db, box, policy)}
	f.tenantID, f.session = f.newTenant("acme")
	return f
}

func (f *fixture) newTenant(clientID string) (tenantID, sessionID string) {
	f.t.Helper()
	ctx := context.Background()
	require.NoError(f.t, f.pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ($1, $1) RETURNING id`, clientID).Scan(&tenantID))
	require.NoError(f.t, f.pool.QueryRow(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
		VALUES ($1, '5511900000000', 'sandbox', 'connected') RETURNING id`, tenantID).Scan(&sessionID))
	return tenantID, sessionID
}

// inbound writes an inbound message row as a provider would.
func (f *fixture) inbound(tenantID, sessionID, from, text string) string {
	f.t.Helper()
	var id string
	require.NoError(f.t, f.pool.QueryRow(context.Background(), `INSERT INTO public.messages
		(tenant_id, session_id, direction, from_number, to_number, status, provider, message_id, content)
		VALUES ($1, $2, 'inbound', $3, '5511900000000', 'received', 'sandbox', 'wamid.' || gen_random_uuid(), jsonb_build_object('text', $4::text))
		RETURNING id`, tenantID, sessionID, from, text).Scan(&id))
	return id
}

// fanoutAll runs fan-out steps until the cursor has passed every feed row
// written so far. (A step may read nothing while a transaction anywhere on
// the server — other tests' databases included — holds the snapshot xmin
// back: those rows are not final yet.)
func (f *fixture) fanoutAll(fo *webhooks.Fanout) int {
	f.t.Helper()
	ctx := context.Background()
	var last struct {
		txid string
		id   int64
	}
	err := f.pool.QueryRow(ctx, `SELECT txid::text, id FROM wa.change_log ORDER BY txid DESC, id DESC LIMIT 1`).Scan(&last.txid, &last.id)
	require.NoError(f.t, err)
	total := 0
	require.Eventually(f.t, func() bool {
		r, err := fo.Step(ctx)
		require.NoError(f.t, err)
		total += r.Deliveries
		var done bool
		require.NoError(f.t, f.pool.QueryRow(ctx, `SELECT (k.txid, k.id) >= ($1::xid8, $2::bigint) FROM wa.webhook_cursor k WHERE k.name = 'fanout'`,
			last.txid, last.id).Scan(&done))
		return done
	}, waitFor, 5*time.Millisecond)
	return total
}

func (f *fixture) fanout() *webhooks.Fanout {
	fo, err := webhooks.NewFanout(webhooks.FanoutConfig{Store: f.db, PollInterval: 20 * time.Millisecond})
	require.NoError(f.t, err)
	return fo
}

func (f *fixture) deliverer(mod func(*webhooks.DelivererConfig)) *webhooks.Deliverer {
	f.t.Helper()
	cfg := webhooks.DelivererConfig{
		Store: f.db, Box: f.box, Owner: "test/" + f.t.Name(),
		PollInterval: 20 * time.Millisecond,
		BaseDelay:    10 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		Client: webhooks.NewClient(webhooks.ClientConfig{Policy: f.policy, Timeout: 2 * time.Second}),
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := webhooks.NewDeliverer(cfg)
	require.NoError(f.t, err)
	return d
}

func (f *fixture) run(c interface {
	Start(context.Context) error
	Stop()
}) {
	f.t.Helper()
	require.NoError(f.t, c.Start(context.Background()))
	f.t.Cleanup(c.Stop)
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP receiver whose answers the test programs.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []request
	respond func(n int, r *http.Request, w http.ResponseWriter)
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request, w http.ResponseWriter)) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{header: r.Header.Clone(), body: b})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(n, r, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

type deliveryRow struct {
	State, LastError, LastResponse string
	Attempts                       int
	LastStatus                     *int
}

func (f *fixture) delivery(id string) deliveryRow {
	f.t.Helper()
	var d deliveryRow
	require.NoError(f.t, f.pool.QueryRow(context.Background(), `SELECT state, coalesce(last_error, ''), coalesce(last_response, ''),
		attempts, last_status FROM wa.webhook_deliveries WHERE id = $1`, id).Scan(&d.State, &d.LastError, &d.LastResponse, &d.Attempts, &d.LastStatus))
	return d
}

func (f *fixture) deliveryIDs(subID string) []string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT id::text FROM wa.webhook_deliveries WHERE subscription_id = $1 ORDER BY seq`, subID)
	require.NoError(f.t, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(f.t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(f.t, rows.Err())
	return ids
}

// observer counts attempt results.
type observer struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *observer) WebhookAttempt(result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[result]++
}

func (o *observer) count(result string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[result]
}
