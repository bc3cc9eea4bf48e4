package doctor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/doctor"
	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.Main(m) }

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// jwksServer serves a Supabase-like JWKS document with n keys.
func jwksServer(t *testing.T, status, n int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/v1/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		keys := []map[string]string{}
		for i := range n {
			keys = append(keys, map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
				"kid": fmt.Sprintf("key-%d", i), "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
				"y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func run(t *testing.T, p doctor.Params) doctor.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if p.SlotName == "" {
		p.SlotName = "zb_doctor_" + suffix()
	}
	p.Timeout = 15 * time.Second
	return doctor.Run(ctx, p)
}

func requireStatus(t *testing.T, r doctor.Report, check string, want doctor.Status) doctor.Finding {
	t.Helper()
	f, ok := r.Find(check)
	require.True(t, ok, "no finding for %s", check)
	require.Equal(t, want, f.Status, "%s: %s", check, f.Summary)
	if want == doctor.Fail || want == doctor.Warn {
		require.NotEmpty(t, f.Fix, "%s must say how to fix it", check)
	}
	return f
}

func exec(t *testing.T, dbURL string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, s := range sqls {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
}

func TestDoctorPassesOnDevDatabase(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	r := run(t, doctor.Params{DatabaseURL: dbURL, SupabaseURL: jwksServer(t, 200, 2)})

	require.False(t, r.Blocking(), "%+v", r.Findings)
	for _, check := range []string{doctor.CheckDatabase, doctor.CheckWALLevel, doctor.CheckReplicationRole,
		doctor.CheckReplicationSlots, doctor.CheckWALSenders, doctor.CheckSlotWALKeepSize, doctor.CheckSlot,
		doctor.CheckPublication, doctor.CheckRealtimePublication, doctor.CheckMigrations, doctor.CheckRLS,
		doctor.CheckPrivateSchemas, doctor.CheckPublicGrants, doctor.CheckSecurityDrift, doctor.CheckDirectConnection, doctor.CheckJWKS} {
		requireStatus(t, r, check, doctor.OK)
	}
	var out bytes.Buffer
	require.NoError(t, r.WriteText(&out))
	require.Contains(t, out.String(), "✓ wal_level: logical")
	require.Contains(t, out.String(), "Resultado: tudo certo")
	require.NotContains(t, out.String(), "✗")
}

func TestDoctorReportsWALLevelReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "zapbase-doctor-replica-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	srv, err := devdb.Start(ctx, devdb.Options{DataDir: filepath.Join(dir, "pgdata"), WALLevel: "replica", Fast: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	dbURL := srv.URL("postgres")
	require.NoError(t, devdb.ApplyCompat(ctx, dbURL))
	require.NoError(t, migrations.Up(dbURL))

	r := run(t, doctor.Params{DatabaseURL: dbURL})
	require.True(t, r.Blocking())
	requireStatus(t, r, doctor.CheckWALLevel, doctor.Fail)
	requireStatus(t, r, doctor.CheckReplicationSlots, doctor.Fail)
	requireStatus(t, r, doctor.CheckWALSenders, doctor.Fail)
	requireStatus(t, r, doctor.CheckDirectConnection, doctor.Fail)
	requireStatus(t, r, doctor.CheckReplicationRole, doctor.OK) // superuser: the role is not the problem
	requireStatus(t, r, doctor.CheckRLS, doctor.OK)
	requireStatus(t, r, doctor.CheckJWKS, doctor.Skipped)

	var out bytes.Buffer
	require.NoError(t, r.WriteText(&out))
	require.Contains(t, out.String(), `✗ wal_level: está em "replica"; a replicação lógica exige logical`)
	require.Contains(t, out.String(), "Como corrigir: No Supabase já vem logical.")
	require.Contains(t, out.String(), "problemas bloqueantes")
	t.Log("\n" + out.String())
}

func TestDoctorReportsRoleWithoutReplication(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	role := "zb_norepl_" + suffix()
	admin := devdbtest.AdminURL(t)
	exec(t, admin, fmt.Sprintf("CREATE ROLE %s LOGIN NOREPLICATION", role))
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
			conn.Close(context.Background())
		}
	})
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.User(role)

	r := run(t, doctor.Params{DatabaseURL: dbURL, ReplicationURL: u.String()})
	require.True(t, r.Blocking())
	f := requireStatus(t, r, doctor.CheckReplicationRole, doctor.Fail)
	require.Contains(t, f.Summary, role)
	require.Contains(t, f.Fix, "WITH REPLICATION")
	f = requireStatus(t, r, doctor.CheckDirectConnection, doctor.Fail)
	require.Contains(t, f.Fix, "REPLICATION")
	requireStatus(t, r, doctor.CheckWALLevel, doctor.OK)

	// The same role as DATABASE_URL too: the catalog checks still run.
	r = run(t, doctor.Params{DatabaseURL: u.String()})
	requireStatus(t, r, doctor.CheckDatabase, doctor.OK)
	requireStatus(t, r, doctor.CheckReplicationRole, doctor.Fail)
	requireStatus(t, r, doctor.CheckDirectConnection, doctor.Fail)
	// Not the owner of public.messages: it could not create the publication.
	requireStatus(t, r, doctor.CheckPublication, doctor.Fail)
}

func TestDoctorReportsGrantsAndRLS(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	exec(t, dbURL,
		`ALTER TABLE public.messages DISABLE ROW LEVEL SECURITY`,
		`GRANT USAGE ON SCHEMA wa TO anon`,
		`GRANT SELECT ON wa.session_secrets TO authenticated`,
		`GRANT SELECT ON public.tenants TO anon`,
		`ALTER PUBLICATION supabase_realtime DROP TABLE public.ai_conversations`,
	)
	r := run(t, doctor.Params{DatabaseURL: dbURL})
	require.True(t, r.Blocking())
	f := requireStatus(t, r, doctor.CheckRLS, doctor.Fail)
	require.Contains(t, f.Summary, "messages")
	require.Contains(t, f.Fix, "ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;")
	f = requireStatus(t, r, doctor.CheckPrivateSchemas, doctor.Fail)
	require.Contains(t, f.Summary, "wa → anon")
	require.Contains(t, f.Summary, "wa.session_secrets → authenticated")
	require.Contains(t, f.Fix, "REVOKE ALL ON SCHEMA wa FROM anon;")
	f = requireStatus(t, r, doctor.CheckPublicGrants, doctor.Warn)
	require.Contains(t, f.Fix, "REVOKE ALL ON public.tenants FROM anon;")
	f = requireStatus(t, r, doctor.CheckRealtimePublication, doctor.Warn)
	require.Contains(t, f.Fix, "ALTER PUBLICATION supabase_realtime ADD TABLE public.ai_conversations;")
}

func TestDoctorReportsSecurityDrift(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	exec(t, dbURL,
		// What a hurried operator might do in the dashboard.
		`GRANT UPDATE ON public.messages TO authenticated`,
		`REVOKE INSERT (to_number) ON public.messages FROM authenticated`,
		`CREATE POLICY everyone ON public.messages FOR SELECT TO authenticated USING (true)`,
		`DROP POLICY ai_agents_delete ON public.ai_agents`,
		`GRANT EXECUTE ON FUNCTION wa.whatsapp_sessions_quota() TO anon`,
		`CREATE FUNCTION wa.sneaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`,
		// Same name, wider rule.
		`ALTER POLICY tenants_select ON public.tenants USING (true)`,
	)
	r := run(t, doctor.Params{DatabaseURL: dbURL})
	require.True(t, r.Blocking())
	f := requireStatus(t, r, doctor.CheckSecurityDrift, doctor.Fail)
	for _, s := range []string{"authenticated pode UPDATE em public.messages (colunas", "authenticated não pode mais INSERT em public.messages (colunas to_number)",
		"política everyone em public.messages", "política ai_agents_delete em public.ai_agents foi removida",
		"anon pode executar wa.whatsapp_sessions_quota()", "política tenants_select em public.tenants foi alterada"} {
		require.Contains(t, f.Summary+f.Fix, s)
	}
	require.Contains(t, f.Fix, `REVOKE UPDATE ON public.messages FROM authenticated;`)
	require.Contains(t, f.Fix, `GRANT INSERT (to_number) ON public.messages TO authenticated;`)
	require.Contains(t, f.Fix, `DROP POLICY everyone ON public.messages;`)
	require.Contains(t, f.Fix, `DROP FUNCTION wa.sneaky();`)
}

func TestDoctorReportsSlotPublicationAndMigrationProblems(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	slot := "zb_doctor_foreign_" + suffix()
	pub := "zb_pub_" + suffix()
	exec(t, dbURL,
		fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'test_decoding')`, slot),
		fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE public.tenants`, pub),
		`UPDATE wa.schema_migrations SET dirty = true`,
	)
	r := run(t, doctor.Params{DatabaseURL: dbURL, SlotName: slot, Publication: pub})
	require.True(t, r.Blocking())
	f := requireStatus(t, r, doctor.CheckSlot, doctor.Fail)
	require.Contains(t, f.Summary, "test_decoding")
	require.Contains(t, f.Fix, "pg_drop_replication_slot('"+slot+"')")
	requireStatus(t, r, doctor.CheckReplicationSlots, doctor.OK) // ours exists: no free slot needed
	f = requireStatus(t, r, doctor.CheckPublication, doctor.Fail)
	require.Contains(t, f.Fix, "ADD TABLE public.messages")
	requireStatus(t, r, doctor.CheckMigrations, doctor.Fail)

	// A slot name Supabase Realtime would drop.
	r = run(t, doctor.Params{DatabaseURL: dbURL, SlotName: "zapbase_realtime"})
	requireStatus(t, r, doctor.CheckSlot, doctor.Fail)

	// Supavisor cannot carry replication: refused without dialing.
	r = run(t, doctor.Params{DatabaseURL: dbURL,
		ReplicationURL: "postgres://postgres.abcdefghijkl:secret@aws-0-sa-east-1.pooler.supabase.com:6543/postgres"})
	f = requireStatus(t, r, doctor.CheckDirectConnection, doctor.Fail)
	require.Contains(t, f.Summary, "Supavisor")
	require.NotContains(t, f.Summary, "secret")
}

func TestDoctorHealthySlotAndPublication(t *testing.T) {
	t.Parallel()
	dbURL := devdbtest.NewDatabase(t)
	slot := "zb_doctor_ok_" + suffix()
	pub := "zb_pub_" + suffix()
	exec(t, dbURL,
		fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, slot),
		fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE public.messages WITH (publish = 'insert')`, pub),
	)
	r := run(t, doctor.Params{DatabaseURL: dbURL, SlotName: slot, Publication: pub})
	require.False(t, r.Blocking(), "%+v", r.Findings)
	f := requireStatus(t, r, doctor.CheckSlot, doctor.OK)
	require.Contains(t, f.Summary, "wal_status reserved")
	requireStatus(t, r, doctor.CheckPublication, doctor.OK)
}

func TestDoctorJWKS(t *testing.T) {
	t.Parallel()
	unreachable := httptest.NewServer(http.NotFoundHandler())
	unreachable.Close()
	cases := []struct {
		name      string
		url       string
		secretSet bool
		want      doctor.Status
	}{
		{"keys published", jwksServer(t, 200, 1), false, doctor.OK},
		{"legacy only, secret set", jwksServer(t, 200, 0), true, doctor.OK},
		{"legacy only, no secret", jwksServer(t, 200, 0), false, doctor.Fail},
		{"server error, secret set", jwksServer(t, 500, 0), true, doctor.Warn},
		{"unreachable, no secret", unreachable.URL, false, doctor.Fail},
		{"not configured", "", true, doctor.Skipped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// An unreachable database only skips the database checks.
			r := run(t, doctor.Params{DatabaseURL: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
				SupabaseURL: c.url, JWTSecretSet: c.secretSet})
			requireStatus(t, r, doctor.CheckJWKS, c.want)
		})
	}
}

func TestDoctorUnreachableDatabase(t *testing.T) {
	t.Parallel()
	r := run(t, doctor.Params{DatabaseURL: "postgres://nobody:hunter2@127.0.0.1:1/none?connect_timeout=2"})
	require.True(t, r.Blocking())
	requireStatus(t, r, doctor.CheckDatabase, doctor.Fail)
	requireStatus(t, r, doctor.CheckWALLevel, doctor.Skipped)
	requireStatus(t, r, doctor.CheckDirectConnection, doctor.Fail)
	var out bytes.Buffer
	require.NoError(t, r.WriteJSON(&out))
	require.NotContains(t, out.String(), "hunter2")
	var decoded struct {
		Blocking bool `json:"blocking"`
		Findings []struct {
			Check  string `json:"check"`
			Status string `json:"status"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &decoded))
	require.True(t, decoded.Blocking)
	require.Equal(t, "database", decoded.Findings[0].Check)
	require.Equal(t, "fail", decoded.Findings[0].Status)
}

func TestPublicTablesFromMigrations(t *testing.T) {
	tables, err := doctor.PublicTables()
	require.NoError(t, err)
	require.Subset(t, tables, []string{"tenants", "tenant_members", "whatsapp_sessions", "messages", "ai_agents", "ai_conversations"})
}
