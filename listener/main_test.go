package listener_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/listener"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

const waitTimeout = 60 * time.Second

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, waitTimeout, 10*time.Millisecond, "timed out waiting for %s", what)
}

func randomName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testDB is one fresh, migrated database with a tenant to own messages.
type testDB struct {
	url    string
	pool   *pgxpool.Pool
	tenant string
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	return openTestDB(t, devdbtest.NewDatabase(t))
}

func openTestDB(t *testing.T, url string) *testDB {
	t.Helper()
	ctx := context.Background()
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	db := &testDB{url: url, pool: pool}
	require.NoError(t, pool.QueryRow(ctx,
		`INSERT INTO public.tenants (client_id, name) VALUES ($1, 'Listener test') RETURNING id::text`,
		randomName("t")).Scan(&db.tenant))
	return db
}

// insert commits one outbound message and returns its id.
func (db *testDB) insert(t *testing.T) string {
	t.Helper()
	return insertWith(t, db.pool, db.tenant)
}

type execQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func insertWith(t *testing.T, q execQuerier, tenant string) string {
	t.Helper()
	var id string
	require.NoError(t, q.QueryRow(context.Background(),
		`INSERT INTO public.messages (tenant_id, to_number, content) VALUES ($1, '5511999990000', '{"text":"oi"}')
		 RETURNING id::text`, tenant).Scan(&id))
	return id
}

// touchOtherTable writes WAL outside the publication.
func (db *testDB) touchOtherTable(t *testing.T) {
	t.Helper()
	_, err := db.pool.Exec(context.Background(), `UPDATE public.tenants SET updated_at = now() WHERE id = $1`, db.tenant)
	require.NoError(t, err)
}

func (db *testDB) confirmedFlush(t *testing.T, slot string) listener.LSN {
	t.Helper()
	var s *string
	err := db.pool.QueryRow(context.Background(),
		`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&s)
	if err == pgx.ErrNoRows || s == nil {
		return 0
	}
	require.NoError(t, err)
	return mustLSN(t, *s)
}

func (db *testDB) slotExists(t *testing.T, slot string) bool {
	t.Helper()
	var n int
	require.NoError(t, db.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n))
	return n == 1
}

func (db *testDB) currentLSN(t *testing.T) listener.LSN {
	t.Helper()
	var s string
	require.NoError(t, db.pool.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&s))
	return mustLSN(t, s)
}

func mustLSN(t *testing.T, s string) listener.LSN {
	t.Helper()
	var hi, lo uint32
	_, err := fmt.Sscanf(s, "%X/%X", &hi, &lo)
	require.NoError(t, err)
	return listener.LSN(uint64(hi)<<32 | uint64(lo))
}

// recorder is a Handler that records every id it accepts. block, when set,
// is called before accepting and may hold the batch.
type recorder struct {
	mu      sync.Mutex
	seen    map[string]int
	calls   int
	largest int
	block   func(ctx context.Context, ids []string) error
}

func newRecorder() *recorder { return &recorder{seen: make(map[string]int)} }

func (r *recorder) HandleInserts(ctx context.Context, ids []string) error {
	if r.block != nil {
		if err := r.block(ctx, ids); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.largest = max(r.largest, len(ids))
	for _, id := range ids {
		r.seen[id]++
	}
	return nil
}

func (r *recorder) has(ids ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.seen[id] == 0 {
			return false
		}
	}
	return true
}

func (r *recorder) waitFor(t *testing.T, ids ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("ids %v delivered", ids), func() bool { return r.has(ids...) })
}

// testConfig returns a config with short intervals so tests run fast; the
// assertions never depend on them.
func testConfig(t *testing.T, url string, h listener.Handler) listener.Config {
	return listener.Config{
		Logger:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		DatabaseURL:    url,
		SlotName:       randomName("zbt_"),
		Publication:    "zapbase_messages",
		StatusInterval: 100 * time.Millisecond,
		Handler:        h,
		MaxBatch:       50,
		BatchWait:      time.Millisecond,
		ReconnectMin:   20 * time.Millisecond,
		ReconnectMax:   500 * time.Millisecond,
		StandbyRetry:   50 * time.Millisecond,
	}
}

func startListener(t *testing.T, cfg listener.Config) *listener.Listener {
	t.Helper()
	l, err := listener.New(cfg)
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(l.Stop)
	return l
}

func waitRole(t *testing.T, l *listener.Listener, role listener.Role) {
	t.Helper()
	eventually(t, "role "+string(role), func() bool { return l.Status().Role == role })
}

func replaceDB(t *testing.T, rawURL, name string) string {
	t.Helper()
	return devdbtest.WithDatabase(rawURL, name)
}
