package tests

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase/devdb"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// psqlPath finds psql next to the server binaries, else on PATH.
func psqlPath(t *testing.T) string {
	t.Helper()
	if dir, err := devdb.FindBinaries(); err == nil {
		if p, err := exec.LookPath(filepath.Join(dir, "psql")); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("psql")
	require.NoError(t, err, "psql is needed (Debian package postgresql-client)")
	return p
}

// TestPsqlInsertWalksToRead is the README's promise: a row inserted with
// psql giving only tenant_id, to_number, message_type and content (direction
// defaults to outbound, status to pending, provider to auto) walks through
// sent and delivered to read with the sandbox's default receipt delays.
func TestPsqlInsertWalksToRead(t *testing.T) {
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 2*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	tn := seedSandboxTenant(t, ctx, pool)
	StartServe(t, dbURL, nil)

	sql := `INSERT INTO messages (tenant_id, to_number, message_type, content)
VALUES ('` + tn.ID + `', '5511988887777', 'text', '{"text": "Olá do psql"}') RETURNING id`
	out, err := exec.CommandContext(ctx, psqlPath(t), dbURL, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
	require.NoError(t, err, "psql: %s", out)
	id := strings.TrimSpace(strings.Split(strings.TrimSpace(string(out)), "\n")[0])
	require.Len(t, id, 36, "psql returned the row id: %q", out)

	// Watch the row as a frontend would (Realtime shows the same updates):
	// collect every distinct status until it reads.
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var status string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM messages WHERE id = $1`, id).Scan(&status))
		if len(seen) == 0 || seen[len(seen)-1] != status {
			seen = append(seen, status)
		}
		if status == "read" || status == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, "read", seen[len(seen)-1], "statuses seen: %v", seen)

	var (
		direction, provider, messageID, sessionID string
		sentAt, deliveredAt, readAt               time.Time
	)
	require.NoError(t, pool.QueryRow(ctx, `
SELECT direction, provider, coalesce(message_id, ''), coalesce(session_id::text, ''), sent_at, delivered_at, read_at
  FROM messages WHERE id = $1`, id).Scan(&direction, &provider, &messageID, &sessionID, &sentAt, &deliveredAt, &readAt))
	require.Equal(t, "outbound", direction)
	require.Equal(t, "sandbox", provider, "auto resolved to the tenant's sandbox session")
	require.Equal(t, tn.SessionID, sessionID)
	require.True(t, strings.HasPrefix(messageID, "SBX"), "provider message id stored: %q", messageID)
	// The walk is visible in the row itself: each state was reached, in order.
	require.True(t, sentAt.Before(deliveredAt), "sent %s before delivered %s", sentAt, deliveredAt)
	require.True(t, deliveredAt.Before(readAt), "delivered %s before read %s", deliveredAt, readAt)
	t.Logf("statuses observed by polling: %v", seen)
}
