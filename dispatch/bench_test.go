package dispatch_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers/sandbox"
)

// BenchmarkWakeToSent measures rows/s from Wake to sent with a zero-delay
// sandbox (receipts on), many chats. The end-to-end benchmark against River
// lives in tests/bench; this one isolates the dispatcher.
func BenchmarkWakeToSent(b *testing.B) {
	e := newEnvTB(b)
	e.newSessionTB(b, "5511900000001")
	sb := sandbox.New(benchSandboxConfig(e))
	defer sb.Close()
	cfg := testConfig("bench")
	cfg.ReconcileInterval = time.Hour
	d, err := dispatch.New(cfg, dispatch.Deps{Pool: e.pool, Registry: dispatch.NewRegistry(sb)})
	require.NoError(b, err)
	require.NoError(b, d.Start(context.Background()))
	defer d.Stop()
	ctx := context.Background()
	n := b.N
	ids := make([]string, 0, n)
	rows, err := e.pool.Query(ctx, `INSERT INTO public.messages (tenant_id, to_number, content)
SELECT $1, '55119' || lpad((g % 500)::text, 8, '0'), jsonb_build_object('text', 'bench ' || g)
  FROM generate_series(1, $2) g RETURNING id::text`, e.tenant, n)
	require.NoError(b, err)
	for rows.Next() {
		var id string
		require.NoError(b, rows.Scan(&id))
		ids = append(ids, id)
	}
	rows.Close()
	b.ResetTimer()
	start := time.Now()
	var inWake time.Duration
	for i := 0; i < n; i += benchBatch {
		ws := time.Now()
		require.NoError(b, d.Wake(ctx, ids[i:min(i+benchBatch, n)]))
		inWake += time.Since(ws)
	}
	b.ReportMetric(float64(inWake.Milliseconds()), "wake-ms")
	for {
		var left int
		require.NoError(b, e.pool.QueryRow(ctx, `SELECT count(*) FROM public.messages WHERE status IN ('pending','sending')`).Scan(&left))
		if left == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
	_ = fmt.Sprint(zapbase.StatusSent)
}

const benchBatch = 100

func benchSandboxConfig(e *env) sandbox.Config {
	if os.Getenv("BENCH_RECEIPTS") != "" {
		return sandbox.Config{Sink: dispatch.NewEvents(e.pool), ZeroDelay: true}
	}
	return sandbox.Config{NoReceipts: true}
}
