package migrations_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// rlsFixture holds two tenants with one member each and one row of every
// tenant-owned table per tenant, created as the superuser.
type rlsFixture struct {
	conn             *pgx.Conn
	tenantA, tenantB string
	userA, userB     string
	rowsA, rowsB     map[string]string // table → id
}

var tenantTables = []string{"whatsapp_sessions", "messages", "ai_agents", "ai_conversations"}

func newRLSFixture(t *testing.T) *rlsFixture {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, devdbtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	f := &rlsFixture{conn: conn, userA: uuid.NewString(), userB: uuid.NewString(),
		rowsA: map[string]string{}, rowsB: map[string]string{}}
	for _, x := range []struct {
		client, user string
		tenant       *string
		rows         map[string]string
	}{{"tenant-a", f.userA, &f.tenantA, f.rowsA}, {"tenant-b", f.userB, &f.tenantB, f.rowsB}} {
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO tenants (client_id, name) VALUES ($1, $1) RETURNING id`, x.client).Scan(x.tenant))
		_, err := conn.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, $2)`, x.user, x.client+"@example.com")
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO tenant_members (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, *x.tenant, x.user)
		require.NoError(t, err)
		var id string
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000001', 'sandbox') RETURNING id`, *x.tenant).Scan(&id))
		x.rows["whatsapp_sessions"] = id
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO ai_agents (tenant_id, name) VALUES ($1, 'Agente') RETURNING id`, *x.tenant).Scan(&id))
		x.rows["ai_agents"] = id
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO ai_conversations (tenant_id, contact) VALUES ($1, '5511988887777') RETURNING id`, *x.tenant).Scan(&id))
		x.rows["ai_conversations"] = id
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO messages (tenant_id, to_number, content) VALUES ($1, '5511988887777', '{"text":"oi"}') RETURNING id`, *x.tenant).Scan(&id))
		x.rows["messages"] = id
	}
	return f
}

// as runs fn inside a transaction the way PostgREST and Realtime do it:
// SET LOCAL ROLE plus request.jwt.claims. The transaction is rolled back.
func (f *rlsFixture) as(t *testing.T, role, userID string, fn func(tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	claims := fmt.Sprintf(`{"role":%q}`, role)
	if userID != "" {
		claims = fmt.Sprintf(`{"sub":%q,"role":%q,"aud":"authenticated"}`, userID, role)
	}
	_, err = tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true)`, claims)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SET LOCAL ROLE "+role)
	require.NoError(t, err)
	fn(tx)
}

// try runs stmt in a savepoint so a denied statement does not abort the
// surrounding transaction; it returns rows affected and the error.
func try(t *testing.T, tx pgx.Tx, stmt string, args ...any) (int64, error) {
	t.Helper()
	ctx := context.Background()
	sp, err := tx.Begin(ctx)
	require.NoError(t, err)
	tag, err := sp.Exec(ctx, stmt, args...)
	if err != nil {
		require.NoError(t, sp.Rollback(ctx))
		return 0, err
	}
	require.NoError(t, sp.Commit(ctx))
	return tag.RowsAffected(), nil
}

func requireDenied(t *testing.T, err error, msg string) {
	t.Helper()
	require.Error(t, err, msg)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, msg)
	// 42501 insufficient_privilege / RLS violation; 23xxx for constraint
	// guards (composite foreign keys, state machine).
	require.Contains(t, []string{"42501", "23503", "23514"}, pgErr.Code, "%s: %v", msg, err)
}

func count(t *testing.T, tx pgx.Tx, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, tx.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// TestRLSMemberStaysInsideTenant: the cross-tenant cases the policy matrix
// (policy_test.go) does not spell out: composite foreign keys (which bypass
// RLS) and the tenant row itself.
func TestRLSMemberStaysInsideTenant(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	f.as(t, "authenticated", f.userA, func(tx pgx.Tx) {
		require.Equal(t, 1, count(t, tx, `SELECT count(*) FROM tenants`))
		n, err := try(t, tx, `UPDATE tenants SET name = 'novo' WHERE id = $1`, f.tenantA)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = try(t, tx, `UPDATE tenants SET id = $2 WHERE id = $1`, f.tenantA, uuid.NewString())
		requireDenied(t, err, "tenant id changed")
		_, err = try(t, tx, `INSERT INTO tenants (client_id, name) VALUES ('intruso', 'x')`)
		requireDenied(t, err, "tenant created by a user")
		_, err = try(t, tx, `INSERT INTO tenant_members (tenant_id, user_id) VALUES ($1, $2)`, f.tenantB, f.userA)
		requireDenied(t, err, "joined another tenant")
		for _, table := range tenantTables {
			require.Equal(t, 0, count(t, tx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE tenant_id = $1`, f.tenantB), table)
		}
		// A row of A cannot point at B's objects (foreign keys bypass RLS;
		// composite keys close that door).
		_, err = try(t, tx, `INSERT INTO messages (tenant_id, session_id, to_number, content) VALUES ($1, $2, '5511977776666', '{}')`, f.tenantA, f.rowsB["whatsapp_sessions"])
		requireDenied(t, err, "message linked to another tenant's session")
		_, err = try(t, tx, `UPDATE ai_conversations SET agent_id = $2 WHERE id = $1`, f.rowsA["ai_conversations"], f.rowsB["ai_agents"])
		requireDenied(t, err, "conversation linked to another tenant's agent")
		// Clients cannot name status or direction at all.
		_, err = try(t, tx, `INSERT INTO messages (tenant_id, to_number, content, status) VALUES ($1, '5511977776666', '{}', 'delivered')`, f.tenantA)
		requireDenied(t, err, "client inserted an already-delivered message")
		_, err = try(t, tx, `INSERT INTO messages (tenant_id, direction, from_number, content) VALUES ($1, 'inbound', '5511977776666', '{}')`, f.tenantA)
		requireDenied(t, err, "client forged an inbound message")
		_, err = try(t, tx, `UPDATE messages SET status = 'read' WHERE id = $1`, f.rowsA["messages"])
		requireDenied(t, err, "client jumped pending → read")
	})
}

func TestRLSAnonAndPrivateSchemas(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	ctx := context.Background()
	_, err := f.conn.Exec(ctx, `CREATE TABLE whatsmeow.probe (id int); INSERT INTO whatsmeow.probe VALUES (1);
		INSERT INTO wa.audit_log (tenant_id, actor, action, result) VALUES ($1, 'test', 'probe', 'ok')`, f.tenantA)
	if err != nil {
		// Exec with args cannot run several statements: split.
		_, err = f.conn.Exec(ctx, `CREATE TABLE whatsmeow.probe (id int)`)
		require.NoError(t, err)
		_, err = f.conn.Exec(ctx, `INSERT INTO wa.audit_log (tenant_id, actor, action, result) VALUES ($1, 'test', 'probe', 'ok')`, f.tenantA)
		require.NoError(t, err)
	}
	private := []string{"wa.audit_log", "wa.webhook_inbox", "wa.session_leases", "wa.session_secrets",
		"wa.tenant_secrets", "wa.api_keys", "wa.idempotency_keys", "whatsmeow.probe"}

	f.as(t, "anon", "", func(tx pgx.Tx) {
		for _, table := range append([]string{"tenants", "tenant_members", "whatsapp_sessions", "messages", "ai_agents", "ai_conversations"}, private...) {
			n, err := try(t, tx, `SELECT 1 FROM `+table)
			if err == nil {
				require.EqualValues(t, 0, n, "anon read %s", table)
				continue
			}
			requireDenied(t, err, "anon "+table)
		}
		_, err := try(t, tx, `INSERT INTO messages (tenant_id, to_number, content) VALUES ($1, '5511977776666', '{}')`, f.tenantA)
		requireDenied(t, err, "anon inserted a message")
	})
	f.as(t, "authenticated", f.userA, func(tx pgx.Tx) {
		for _, table := range private {
			_, err := try(t, tx, `SELECT 1 FROM `+table)
			requireDenied(t, err, "authenticated read "+table)
		}
	})
}
