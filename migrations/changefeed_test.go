package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The change feed records, in order, what changed for clients: a client's
// own outbound insert and the internal pending/sending steps are not
// events; sent, inbound rows and session changes are.
func TestChangeFeedRecordsMessagesAndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRLSFixture(t)
	conn := f.conn
	_, err := conn.Exec(ctx, `DELETE FROM wa.change_log`)
	require.NoError(t, err)

	var msgID string
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true)`,
		`{"sub":"`+f.userA+`","role":"authenticated","aud":"authenticated"}`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SET LOCAL ROLE authenticated`)
	require.NoError(t, err)
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO messages (tenant_id, to_number, content)
		VALUES ($1, '5511977776666', '{"text":"oi"}') RETURNING id`, f.tenantA).Scan(&msgID))
	require.NoError(t, tx.Commit(ctx))

	_, err = conn.Exec(ctx, `UPDATE messages SET status = 'sending' WHERE id = $1`, msgID)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE messages SET status = 'sent', message_id = 'X1' WHERE id = $1`, msgID)
	require.NoError(t, err)
	// A write that changes neither status nor content is not an event.
	_, err = conn.Exec(ctx, `UPDATE messages SET metadata = '{"a":1}' WHERE id = $1`, msgID)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO messages (tenant_id, direction, from_number, status, content)
		VALUES ($1, 'inbound', '5511977776666', 'received', '{"text":"olá"}')`, f.tenantA)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE whatsapp_sessions SET state = 'pairing', qr_code = '2@abc' WHERE id = $1`,
		f.rowsA["whatsapp_sessions"])
	require.NoError(t, err)

	rows, err := conn.Query(ctx, `SELECT tenant_id::text, topic, coalesce(chat, ''), data->>'status', data->>'previous'
		FROM wa.change_log ORDER BY txid, id`)
	require.NoError(t, err)
	type ev struct{ tenant, topic, chat, status, previous string }
	var got []ev
	for rows.Next() {
		var e ev
		var st, prev *string
		require.NoError(t, rows.Scan(&e.tenant, &e.topic, &e.chat, &st, &prev))
		if st != nil {
			e.status = *st
		}
		if prev != nil {
			e.previous = *prev
		}
		got = append(got, e)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []ev{
		{f.tenantA, "message.status", "5511977776666", "sent", "sending"},
		{f.tenantA, "message.received", "5511977776666", "received", ""},
		{f.tenantA, "session.state", "", "", "disconnected"},
		{f.tenantA, "session.qr", "", "", ""},
	}, got)

	// Tenant users cannot read the feed directly.
	f.as(t, "authenticated", f.userA, func(tx2 pgx.Tx) {
		_, err := try(t, tx2, `SELECT count(*) FROM wa.change_log`)
		requireDenied(t, err, "wa.change_log must not be readable by authenticated")
	})
}
