package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// Every message type of the domain vocabulary is accepted by the table's
// CHECK constraint. Several migrations rewrite that constraint; one that
// forgets a type another added breaks every row of that type.
func TestEveryMessageTypeIsAccepted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, devdbtest.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var tenant string
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('types', 'types') RETURNING id`).Scan(&tenant))
	for _, typ := range zapbase.MessageTypes {
		_, err := conn.Exec(ctx, `INSERT INTO public.messages (tenant_id, direction, from_number, message_type, status)
VALUES ($1, 'inbound', '5511988887777', $2, 'received')`, tenant, string(typ))
		require.NoError(t, err, "message type %q", typ)
	}
}
