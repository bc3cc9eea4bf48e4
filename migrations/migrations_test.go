package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.Main(m) }

func tableCount(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables
		WHERE schemaname IN ('public', 'wa') AND tablename <> 'schema_migrations'`).Scan(&n))
	return n
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := devdbtest.NewEmptyDatabase(t)
	require.NoError(t, devdb.ApplyCompat(ctx, url))

	require.NoError(t, migrations.Up(url))
	full := tableCount(t, url)
	require.GreaterOrEqual(t, full, 12)

	// Re-running up is a no-op.
	require.NoError(t, migrations.Up(url))
	require.Equal(t, full, tableCount(t, url))

	require.NoError(t, migrations.Down(url))
	require.Equal(t, 0, tableCount(t, url))

	require.NoError(t, migrations.Up(url))
	require.Equal(t, full, tableCount(t, url))

	latest, err := migrations.Latest()
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var st migrations.Status
	require.NoError(t, conn.QueryRow(ctx, migrations.StatusQuery).Scan(&st.Version, &st.Dirty))
	st.Latest = latest
	require.True(t, st.Current(), "%+v", st)

	// The realtime publication carries the three live tables.
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_publication_tables
		WHERE pubname = 'supabase_realtime' AND tablename IN ('messages', 'whatsapp_sessions', 'ai_conversations')`).Scan(&n))
	require.Equal(t, 3, n)
}

func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	url := devdbtest.NewEmptyDatabase(t)
	require.NoError(t, devdb.ApplyCompat(context.Background(), url))
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() { errs <- migrations.Up(url) }()
	}
	for i := 0; i < 4; i++ {
		require.NoError(t, <-errs)
	}
}

func TestCompatIsNoOpWhenAuthExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := devdbtest.NewEmptyDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// A database that already has Supabase's auth schema (with its own uid()).
	_, err = conn.Exec(ctx, `CREATE SCHEMA auth;
		CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT '11111111-1111-1111-1111-111111111111'::uuid $$;
		CREATE PUBLICATION supabase_realtime`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE public.marker (id int); ALTER PUBLICATION supabase_realtime ADD TABLE public.marker`)
	require.NoError(t, err)

	require.NoError(t, devdb.ApplyCompat(ctx, url))

	var uid string
	require.NoError(t, conn.QueryRow(ctx, `SELECT auth.uid()::text`).Scan(&uid))
	require.Equal(t, "11111111-1111-1111-1111-111111111111", uid, "existing auth.uid() replaced")
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'auth'`).Scan(&n))
	require.Equal(t, 1, n, "functions added to an existing auth schema")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'auth'`).Scan(&n))
	require.Equal(t, 0, n, "auth.users created in an existing auth schema")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_publication_tables WHERE pubname = 'supabase_realtime'`).Scan(&n))
	require.Equal(t, 1, n, "existing publication changed")
}
