package tests

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// TestMigrateCLIRecoversDirtyAndForces: `zapbase migrate force N` marks a
// version (a bad N is refused with usage); `zapbase migrate` resets a dirty
// version whose migration is transactional by itself, says so in pt-BR,
// and when the re-run fails names the exact force command to run.
func TestMigrateCLIRecoversDirtyAndForces(t *testing.T) {
	t.Parallel()
	url := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, time.Minute)
	latest, err := migrations.Latest()
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background())

	migrate := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, zapbaseBin, append([]string{"migrate"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + url}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// What a crashed run leaves: dirty at the latest version (whose
	// transaction, in reality, rolled back).
	_, err = conn.Exec(ctx, `UPDATE wa.schema_migrations SET dirty = true`)
	require.NoError(t, err)
	out, err := migrate("force", strconv.FormatUint(uint64(latest), 10))
	require.NoError(t, err, out)
	require.Contains(t, out, "versão marcada como "+strconv.FormatUint(uint64(latest), 10))
	var dirty bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT dirty FROM wa.schema_migrations`).Scan(&dirty))
	require.False(t, dirty)

	out, err = migrate("force", "x")
	require.Error(t, err)
	require.Contains(t, out, "zapbase migrate force 61")
	out, err = migrate("force", "424242")
	require.Error(t, err)
	require.Contains(t, out, "não existe neste binário")

	out, err = migrate()
	require.NoError(t, err, out)
	require.Contains(t, out, "migrações aplicadas")

	// Dirty at the latest version although it was in fact committed (a
	// crash between COMMIT and the version record): migrate resets the flag
	// and runs the migration again. An idempotent latest migration (GRANT,
	// CREATE OR REPLACE…) then simply succeeds; one that is not fails, and
	// the message names the exact command. Either way nothing stays dirty.
	_, err = conn.Exec(ctx, `UPDATE wa.schema_migrations SET dirty = true`)
	require.NoError(t, err)
	out, err = migrate()
	v := strconv.FormatUint(uint64(latest), 10)
	require.Contains(t, out, "a migração "+v+" tinha falhado numa execução anterior")
	require.NoError(t, conn.QueryRow(ctx, `SELECT dirty FROM wa.schema_migrations`).Scan(&dirty))
	require.False(t, dirty, "never left dirty")
	if err != nil {
		require.Contains(t, out, "zapbase migrate force "+v)
		out, err = migrate("force", v)
		require.NoError(t, err, out)
		out, err = migrate()
		require.NoError(t, err, out)
	}
}
