package tests

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var dbURLRe = regexp.MustCompile(`postgres://\S+`)

// TestDevBootsAndServesReadyz runs the README's run command (`zapbase dev`)
// in an empty directory: embedded Postgres, compat layer, migrations, demo
// tenant, dev JWT, /readyz 200; a second run reuses the data.
func TestDevBootsAndServesReadyz(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"__DIR": dir}
	p := Start(t, env, "dev", "--addr", "127.0.0.1:0", "--pg-port", "0")

	var ready struct {
		Ready bool `json:"ready"`
	}
	require.Equal(t, 200, getJSON(t, p.BaseURL()+"/readyz", &ready))
	require.True(t, ready.Ready)
	require.Equal(t, 200, getJSON(t, p.BaseURL()+"/healthz", nil))

	out := p.Logs()
	require.Contains(t, out, "zapbase dev pronto")
	require.Contains(t, out, "X-Client-Id: demo")
	dbURL := dbURLRe.FindString(out)
	require.NotEmpty(t, dbURL, "banner prints the database URL")
	dbURL = strings.TrimRight(dbURL, "'\"")

	ctx := withTimeout(t, time.Minute)
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	var members int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id WHERE t.client_id = 'demo'`).Scan(&members))
	require.Equal(t, 1, members)
	var wal string
	require.NoError(t, conn.QueryRow(ctx, `SHOW wal_level`).Scan(&wal))
	require.Equal(t, "logical", wal)
	conn.Close(ctx)

	// Ctrl-C stops everything cleanly (exit 0), and a second run reuses the data.
	require.NoError(t, p.Stop(60*time.Second))
	p2 := Start(t, env, "dev", "--addr", "127.0.0.1:0", "--pg-port", "0")
	require.Equal(t, 200, getJSON(t, p2.BaseURL()+"/readyz", nil))
	conn, err = pgx.Connect(ctx, strings.TrimRight(dbURLRe.FindString(p2.Logs()), "'\""))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var tenants int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE client_id = 'demo'`).Scan(&tenants))
	require.Equal(t, 1, tenants)
}
