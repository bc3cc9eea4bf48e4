package tests

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers/sandbox"
)

// pipelineTenant is a tenant with one connected sandbox session, as
// `zapbase dev` seeds it.
type pipelineTenant struct {
	ID        string
	SessionID string
}

// seedSandboxTenant creates a tenant and its connected sandbox session.
func seedSandboxTenant(t testing.TB, ctx context.Context, pool *pgxpool.Pool) pipelineTenant {
	t.Helper()
	var tn pipelineTenant
	clientID := fmt.Sprintf("pipe-%d", time.Now().UnixNano())
	require.NoError(t, pool.QueryRow(ctx,
		`INSERT INTO public.tenants (client_id, name) VALUES ($1, 'Pipeline') RETURNING id::text`, clientID).Scan(&tn.ID))
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state, connected_at)
VALUES ($1, '5511900000001', 'sandbox', 'connected', now()) RETURNING id::text`, tn.ID).Scan(&tn.SessionID))
	return tn
}

// recipient spreads messages over n chats (order is kept per chat, so one
// chat would serialise the whole run).
func recipient(i, chats int) string { return fmt.Sprintf("55119%08d", i%chats) }

// insertOutbound inserts an outbound row with only the columns a client
// must give (tenant, recipient, type, content) and returns its id.
func insertOutbound(ctx context.Context, pool *pgxpool.Pool, tenantID, to, text string) (string, error) {
	var id string
	err := pool.QueryRow(ctx, `
INSERT INTO public.messages (tenant_id, to_number, message_type, content)
VALUES ($1, $2, 'text', jsonb_build_object('text', $3::text)) RETURNING id::text`, tenantID, to, text).Scan(&id)
	return id, err
}

// statusCounts answers how many of the tenant's outbound rows are in each
// status.
func statusCounts(t testing.TB, ctx context.Context, pool *pgxpool.Pool, tenantID string) map[string]int {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT status, count(*) FROM public.messages
 WHERE tenant_id = $1 AND direction = 'outbound' GROUP BY status`, tenantID)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		out[s] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// terminalStatuses are where an outbound row's journey may end.
var terminalStatuses = map[string]bool{"sent": true, "delivered": true, "read": true, "played": true, "failed": true}

// waitAllTerminal polls until every outbound row of the tenant is terminal
// (the database is the only signal a separate process gives) or the timeout
// passes, and returns the last counts.
func waitAllTerminal(t testing.TB, ctx context.Context, pool *pgxpool.Pool, tenantID string, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		counts := statusCounts(t, ctx, pool, tenantID)
		open := 0
		for s, n := range counts {
			if !terminalStatuses[s] {
				open += n
			}
		}
		if open == 0 || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sendReport summarises a sandbox send log against the rows of a test.
type sendReport struct {
	Calls      int                               // provider calls logged
	Rows       int                               // distinct rows sent at least once
	Duplicates int                               // calls beyond the first per row
	PerRow     map[string][]sandbox.SendLogEntry // calls per row id, in log order
}

func readSends(t testing.TB, path string) sendReport {
	t.Helper()
	entries, err := sandbox.ReadSendLog(path)
	require.NoError(t, err)
	r := sendReport{Calls: len(entries), PerRow: map[string][]sandbox.SendLogEntry{}}
	for _, e := range entries {
		r.PerRow[e.RowID] = append(r.PerRow[e.RowID], e)
	}
	r.Rows = len(r.PerRow)
	r.Duplicates = r.Calls - r.Rows
	return r
}

// requireEveryRowSentOnceOrSameID checks the send log against the rows:
// every row reached the provider, every row's calls carry one provider id
// (a resend reuses it) and that id is the row's message_id.
func requireEveryRowSentOnceOrSameID(t testing.TB, ctx context.Context, pool *pgxpool.Pool, tenantID string, sends sendReport) {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT id::text, coalesce(message_id, '') FROM public.messages
 WHERE tenant_id = $1 AND direction = 'outbound'`, tenantID)
	require.NoError(t, err)
	defer rows.Close()
	var missing, mismatched []string
	n := 0
	for rows.Next() {
		var id, mid string
		require.NoError(t, rows.Scan(&id, &mid))
		n++
		calls := sends.PerRow[id]
		if len(calls) == 0 {
			missing = append(missing, id)
			continue
		}
		for _, c := range calls {
			if c.ProviderMessageID == "" || c.ProviderMessageID != mid {
				mismatched = append(mismatched, fmt.Sprintf("%s: call id %q, row id %q", id, c.ProviderMessageID, mid))
				break
			}
		}
	}
	require.NoError(t, rows.Err())
	require.Empty(t, missing, "rows never sent to the provider (%d of %d)", len(missing), n)
	require.Empty(t, mismatched, "a resend must reuse the provider message id stored on the row")
	require.Equal(t, n, sends.Rows, "the provider saw calls for rows that are not the test's")
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
