package migrations_test

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

const failingVersion = 999999

// withFailing is the embedded files plus one more migration that fails
// after creating a table, inside its transaction.
func withFailing(t *testing.T, body string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(migrations.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	}))
	out["999999_fails.up.sql"] = &fstest.MapFile{Data: []byte(body)}
	out["999999_fails.down.sql"] = &fstest.MapFile{Data: []byte("-- Why: test.\nBEGIN;\nDROP TABLE IF EXISTS wa.half_done;\nCOMMIT;\n")}
	return out
}

func migrationState(t *testing.T, url string) (version uint, dirty, halfDone bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, conn.QueryRow(ctx, migrations.StatusQuery).Scan(&version, &dirty))
	require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass('wa.half_done') IS NOT NULL`).Scan(&halfDone))
	return version, dirty, halfDone
}

func TestFailedMigrationIsRolledBackAndNotLeftDirty(t *testing.T) {
	t.Parallel()
	url := devdbtest.NewEmptyDatabase(t)
	require.NoError(t, devdb.ApplyCompat(context.Background(), url))
	latest, err := migrations.Latest()
	require.NoError(t, err)

	failing := withFailing(t, "-- Why: test.\nBEGIN;\nCREATE TABLE wa.half_done (id int);\nSELECT 1/0;\nCOMMIT;\n")
	_, err = migrations.UpFS(url, failing)
	var fe *migrations.FailedError
	require.ErrorAs(t, err, &fe)
	require.EqualValues(t, failingVersion, fe.Version)
	require.Equal(t, latest, fe.Previous)
	require.Contains(t, err.Error(), "foi desfeita por inteiro")
	require.Contains(t, err.Error(), "zapbase migrate force 999999")
	require.Contains(t, err.Error(), "division by zero")

	v, dirty, half := migrationState(t, url)
	require.Equal(t, latest, v, "the database stays at the last good version")
	require.False(t, dirty, "no manual repair needed")
	require.False(t, half, "nothing of the failed migration is applied")

	// The next run (fixed file) just applies it.
	fixed := withFailing(t, "-- Why: test.\nBEGIN;\nCREATE TABLE wa.half_done (id int);\nCOMMIT;\n")
	rep, err := migrations.UpFS(url, fixed)
	require.NoError(t, err)
	require.Nil(t, rep.Recovered)
	v, dirty, half = migrationState(t, url)
	require.EqualValues(t, failingVersion, v)
	require.False(t, dirty)
	require.True(t, half)
}

func TestDirtyLeftByAnOlderRunIsRecoveredAtStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := devdbtest.NewEmptyDatabase(t)
	require.NoError(t, devdb.ApplyCompat(ctx, url))
	require.NoError(t, migrations.Up(url))
	latest, err := migrations.Latest()
	require.NoError(t, err)

	// What an older binary left: dirty at the latest version, whose
	// transaction rolled back (its objects are still there from the good
	// run before, so undo them as the rollback would have).
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, migrations.Down1(url))
	_, err = conn.Exec(ctx, `UPDATE wa.schema_migrations SET version = $1, dirty = true`, latest)
	require.NoError(t, err)

	rep, err := migrations.UpReport(url)
	require.NoError(t, err)
	require.NotNil(t, rep.Recovered)
	require.Equal(t, latest, rep.Recovered.DirtyVersion)
	require.Contains(t, rep.Recovered.Notice, "foi desfeita pela própria transação")
	var v uint
	var dirty bool
	require.NoError(t, conn.QueryRow(ctx, migrations.StatusQuery).Scan(&v, &dirty))
	require.Equal(t, latest, v)
	require.False(t, dirty)
}

func TestDirtyNonTransactionalNamesTheForceCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := devdbtest.NewEmptyDatabase(t)
	require.NoError(t, devdb.ApplyCompat(ctx, url))
	require.NoError(t, migrations.Up(url))
	latest, err := migrations.Latest()
	require.NoError(t, err)
	// A hand-written file without BEGIN/COMMIT that failed half-way.
	fsys := withFailing(t, "-- Why: test.\nCREATE TABLE wa.half_done (id int);\nSELECT 1/0;\n")
	_, err = migrations.UpFS(url, fsys)
	var de *migrations.DirtyError
	require.True(t, errors.As(err, &de), "%v", err)
	require.Contains(t, err.Error(), "zapbase migrate force "+strconv.FormatUint(uint64(latest), 10))
	require.Contains(t, err.Error(), "zapbase migrate force 999999")

	// The operator follows the message (the half-done table is removed by
	// hand first), then migrate works again.
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP TABLE IF EXISTS wa.half_done`)
	require.NoError(t, err)
	require.NoError(t, migrations.Force(url, latest))
	require.NoError(t, migrations.Up(url))
	require.Error(t, migrations.Force(url, 424242), "unknown versions are refused")
}
