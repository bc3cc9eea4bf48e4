package tests

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// Crash test parameters: 10,000 rows from concurrent producers, paced over
// about crashInsertSpan so the SIGKILLs land while rows are being written,
// claimed and sent.
const (
	crashRows       = 10_000
	crashProducers  = 8
	crashChats      = 400
	crashInsertSpan = 12 * time.Second
	crashKills      = 4
	// The claim TTL bounds how long rows claimed by a killed process wait
	// before another process takes them over.
	crashClaimTTL    = "8s"
	crashSendTimeout = "2s"
)

// TestPipelineSurvivesSIGKILL runs the real binary while producers insert
// 10,000 outbound rows, kills it with SIGKILL several times and restarts it.
// At the end every row is terminal, none is lost, and duplicate provider
// sends (counted from the sandbox's durable send log) are printed: only
// sends in flight at a kill may repeat, and a repeat reuses the row's
// provider id.
func TestPipelineSurvivesSIGKILL(t *testing.T) {
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 3*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	tn := seedSandboxTenant(t, ctx, pool)

	sendLog := filepath.Join(t.TempDir(), "sandbox-sends.log")
	env := map[string]string{
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
		"ZAPBASE_SANDBOX_SEND_LOG":      sendLog,
		"ZAPBASE_DISPATCH_CLAIM_TTL":    crashClaimTTL,
		"ZAPBASE_DISPATCH_SEND_TIMEOUT": crashSendTimeout,
	}
	proc := StartServe(t, dbURL, env)

	// Producers: paced single-row inserts, as many clients would do.
	var (
		inserted atomic.Int64
		prodErr  error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	interval := crashInsertSpan * crashProducers / crashRows
	for p := range crashProducers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now()
			for i := p; i < crashRows; i += crashProducers {
				if _, err := insertOutbound(ctx, pool, tn.ID, recipient(i, crashChats), fmt.Sprintf("crash %d", i)); err != nil {
					errOnce.Do(func() { prodErr = err })
					return
				}
				inserted.Add(1)
				next = next.Add(interval)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
			}
		}()
	}

	// Kill the process at evenly spread points of the inserts (by rows
	// inserted, not by time) and start a new one at once (rows keep arriving
	// while it is down).
	var kills []time.Time
	for k := 1; k <= crashKills; k++ {
		at := int64(crashRows * k / (crashKills + 1))
		require.Eventually(t, func() bool { return inserted.Load() >= at }, 2*time.Minute, 5*time.Millisecond,
			"%d rows inserted before kill %d", at, k)
		proc.Kill()
		kills = append(kills, time.Now())
		t.Logf("SIGKILL %d after %d rows inserted", k, inserted.Load())
		proc = StartServe(t, dbURL, env)
	}
	wg.Wait()
	require.NoError(t, prodErr)
	require.EqualValues(t, crashRows, inserted.Load())

	counts := waitAllTerminal(t, ctx, pool, tn.ID, 60*time.Second)
	total := 0
	for _, n := range counts {
		total += n
	}
	require.Equal(t, crashRows, total, "no row is lost (%s)", formatCounts(counts))
	for s, n := range counts {
		require.True(t, terminalStatuses[s], "%d rows still %s after recovery (%s)", n, s, formatCounts(counts))
	}
	require.Zero(t, counts["failed"], "nothing was told to fail (%s)", formatCounts(counts))

	// Duplicates: count them, and check each one had a kill between its
	// first and its last call (only sends in flight at a crash repeat).
	sends := readSends(t, sendLog)
	requireEveryRowSentOnceOrSameID(t, ctx, pool, tn.ID, sends)
	for id, calls := range sends.PerRow {
		if len(calls) < 2 {
			continue
		}
		first, last := calls[0].At, calls[len(calls)-1].At
		killed := false
		for _, k := range kills {
			if k.After(first) && k.Before(last) {
				killed = true
			}
		}
		require.True(t, killed, "row %s was sent %d times without a crash in between", id, len(calls))
	}
	t.Logf("crash test: %d rows, %d SIGKILLs, %d provider calls, %d duplicate sends (%.2f%%), final statuses: %s",
		crashRows, crashKills, sends.Calls, sends.Duplicates, 100*float64(sends.Duplicates)/crashRows, formatCounts(counts))
	fmt.Printf("pipeline crash test: %d rows, %d SIGKILLs, %d duplicate provider sends\n", crashRows, crashKills, sends.Duplicates)
	require.NoError(t, proc.Stop(30*time.Second))
}
