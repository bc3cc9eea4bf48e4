package tests

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb"
)

const (
	restartRows      = 3000
	restartProducers = 4
	restartSpan      = 6 * time.Second
)

// TestPipelineSurvivesPostgresRestart restarts PostgreSQL in the middle of a
// stream of inserts. The service is not touched: its pool, its replication
// connection and its in-flight status writes must recover on their own, and
// every row must end sent (none lost). It runs its own server so the shared
// test server is not disturbed.
func TestPipelineSurvivesPostgresRestart(t *testing.T) {
	ctx := withTimeout(t, 3*time.Minute)
	srv, err := devdb.Start(ctx, devdb.Options{DataDir: filepath.Join(t.TempDir(), "pgdata"), Fast: true})
	require.NoError(t, err)
	first := srv
	t.Cleanup(func() { _ = first.Stop() })
	dbURL := srv.URL("postgres")
	require.NoError(t, devdb.ApplyCompat(ctx, dbURL))
	require.NoError(t, migrations.Up(dbURL))

	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	tn := seedSandboxTenant(t, ctx, pool)
	sendLog := filepath.Join(t.TempDir(), "sandbox-sends.log")
	proc := StartServe(t, dbURL, map[string]string{
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
		"ZAPBASE_SANDBOX_SEND_LOG":      sendLog,
	})

	// Producers choose the row ids, so an insert whose answer was lost in
	// the restart is retried without a duplicate and the expected set is
	// exact. They retry until the database is back.
	var (
		wg       sync.WaitGroup
		inserted atomic.Int64
		retried  [restartProducers]int
		prodErrs [restartProducers]error
	)
	interval := restartSpan * restartProducers / restartRows
	for p := range restartProducers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now()
			for i := p; i < restartRows; i += restartProducers {
				id := newUUID()
				for {
					_, err := pool.Exec(ctx, `INSERT INTO public.messages (id, tenant_id, to_number, message_type, content)
VALUES ($1, $2, $3, 'text', jsonb_build_object('text', $4::text)) ON CONFLICT (id) DO NOTHING`,
						id, tn.ID, recipient(i, 200), fmt.Sprintf("restart %d", i))
					if err == nil {
						inserted.Add(1)
						break
					}
					if ctx.Err() != nil {
						prodErrs[p] = err
						return
					}
					retried[p]++
					time.Sleep(50 * time.Millisecond)
				}
				next = next.Add(interval)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
			}
		}()
	}

	// Restart once half the rows are in (by rows, not by time).
	require.Eventually(t, func() bool { return inserted.Load() >= restartRows/2 }, 2*time.Minute, 5*time.Millisecond,
		"half the rows inserted before the restart")
	restarted, err := srv.Restart(ctx)
	// A fast shutdown waits until every logical walsender's client has
	// confirmed the WAL sent to it: a listener that keeps its replication
	// connection while it cannot reach the database holds the shutdown.
	require.NoError(t, err, "PostgreSQL could not shut down while zapbase was connected")
	t.Cleanup(func() { _ = restarted.Stop() })
	restartedAt := time.Now()
	wg.Wait()
	for _, err := range prodErrs {
		require.NoError(t, err)
	}
	retries := 0
	for _, n := range retried {
		retries += n
	}
	require.Positive(t, retries, "the restart happened while producers were inserting")

	counts := waitAllTerminal(t, ctx, pool, tn.ID, 90*time.Second)
	total := 0
	for _, n := range counts {
		total += n
	}
	require.Equal(t, restartRows, total, "no row is lost (%s)", formatCounts(counts))
	for s, n := range counts {
		require.True(t, terminalStatuses[s], "%d rows still %s after the restart (%s)", n, s, formatCounts(counts))
	}
	require.Zero(t, counts["failed"], "a database restart must not fail messages (%s)", formatCounts(counts))
	sends := readSends(t, sendLog)
	requireEveryRowSentOnceOrSameID(t, ctx, pool, tn.ID, sends)

	// The same process is still serving, and ready again.
	select {
	case <-proc.Exited():
		t.Fatalf("zapbase exited after the database restart: %v", proc.exit)
	default:
	}
	WaitReady(t, proc)
	t.Logf("postgres restart: %d rows, %d insert retries during the restart, all terminal %s after it (%s), %d duplicate sends",
		restartRows, retries, time.Since(restartedAt).Round(time.Second), formatCounts(counts), sends.Duplicates)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
