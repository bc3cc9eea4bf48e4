package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// TestAPIStatementsPrepare prepares every statement of the API's queries
// against the migrated schema: a wrong column, table or spliced literal
// fails here even when no end-to-end test reaches the query.
func TestAPIStatementsPrepare(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, devdbtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	for name, sql := range store.APIStatements {
		_, err := conn.Prepare(ctx, name, sql)
		require.NoError(t, err, "%s:\n%s", name, sql)
	}
}
