package migrations_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the policy matrix in ../README.md")

// matrixFixture: tenant A with an owner, an admin and a member; tenant B
// with an owner; one row of every table in each tenant.
type matrixFixture struct {
	conn   *pgx.Conn
	tenant map[string]string            // "A"/"B" → tenant id
	users  map[migrations.Actor]string  // actors of A → user id
	userB  string                       // owner of B
	spare  string                       // a user in no tenant
	rows   map[string]map[string]string // tenant → table → row id
}

func newMatrixFixture(t *testing.T) *matrixFixture {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, devdbtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	f := &matrixFixture{conn: conn, tenant: map[string]string{}, users: map[migrations.Actor]string{},
		rows: map[string]map[string]string{"A": {}, "B": {}}}
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := conn.Exec(ctx, q, args...)
		require.NoError(t, err, q)
	}
	scan := func(q string, args ...any) string {
		t.Helper()
		var id string
		require.NoError(t, conn.QueryRow(ctx, q, args...).Scan(&id), q)
		return id
	}
	newUser := func() string {
		id := uuid.NewString()
		exec(`INSERT INTO auth.users (id, email) VALUES ($1::uuid, $1::text || '@example.com')`, id)
		return id
	}
	for _, k := range []string{"A", "B"} {
		tid := scan(`INSERT INTO tenants (client_id, name) VALUES ($1, $1) RETURNING id`, "tenant-"+strings.ToLower(k))
		f.tenant[k] = tid
		r := f.rows[k]
		r["tenants"] = tid
		r["whatsapp_sessions"] = scan(`INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000001', 'sandbox') RETURNING id`, tid)
		r["ai_agents"] = scan(`INSERT INTO ai_agents (tenant_id, name) VALUES ($1, 'Agente') RETURNING id`, tid)
		r["ai_conversations"] = scan(`INSERT INTO ai_conversations (tenant_id, contact) VALUES ($1, '5511988887777') RETURNING id`, tid)
		r["messages"] = scan(`INSERT INTO messages (tenant_id, to_number, content) VALUES ($1, '5511988887777', '{"text":"oi"}') RETURNING id`, tid)
		r["ai_knowledge_documents"] = scan(`INSERT INTO ai_knowledge_documents (tenant_id, agent_id, title, content) VALUES ($1, $2, 'Doc', 'texto') RETURNING id`, tid, r["ai_agents"])
		r["ai_knowledge_chunks"] = scan(`INSERT INTO ai_knowledge_chunks (tenant_id, agent_id, document_id, ordinal, category, title, content) VALUES ($1, $2, $3, 0, 'general', 'Doc', 'texto') RETURNING id::text`, tid, r["ai_agents"], r["ai_knowledge_documents"])
	}
	for _, a := range []migrations.Actor{migrations.ActorOwner, migrations.ActorAdmin, migrations.ActorMember} {
		u := newUser()
		f.users[a] = u
		exec(`INSERT INTO tenant_members (tenant_id, user_id, role) VALUES ($1, $2, $3)`, f.tenant["A"], u, string(a))
	}
	f.userB = newUser()
	exec(`INSERT INTO tenant_members (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, f.tenant["B"], f.userB)
	f.spare = newUser()
	return f
}

// as runs fn in a transaction the way PostgREST does (SET LOCAL ROLE plus
// request.jwt.claims), rolled back at the end.
func (f *matrixFixture) as(t *testing.T, actor migrations.Actor, fn func(tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	role := actor.DBRole()
	claims := fmt.Sprintf(`{"role":%q}`, role)
	if u, ok := f.users[actor]; ok {
		claims = fmt.Sprintf(`{"sub":%q,"role":"authenticated","aud":"authenticated"}`, u)
	}
	_, err = tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true)`, claims)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize())
	require.NoError(t, err)
	fn(tx)
}

// probe runs stmt in a savepoint that is always rolled back.
func probe(t *testing.T, tx pgx.Tx, stmt string, args ...any) (int64, error) {
	t.Helper()
	ctx := context.Background()
	sp, err := tx.Begin(ctx)
	require.NoError(t, err)
	defer sp.Rollback(ctx) //nolint:errcheck
	tag, err := sp.Exec(ctx, stmt, args...)
	return tag.RowsAffected(), err
}

type outcome int

const (
	allowed outcome = iota
	denied
)

func (o outcome) String() string {
	if o == allowed {
		return "allowed"
	}
	return "denied"
}

// classify: allowed = no error and at least one row; denied = permission
// error (grant or RLS, 42501) or no row reached. Anything else (a
// constraint error, ...) means the probe itself is wrong.
func classify(t *testing.T, n int64, err error, what string) outcome {
	t.Helper()
	if err == nil {
		if n > 0 {
			return allowed
		}
		return denied
	}
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "%s: %v", what, err)
	require.Equal(t, "42501", pe.Code, "%s: unexpected error %v", what, err)
	return denied
}

type column struct {
	name      string
	generated bool // GENERATED ALWAYS (identity or stored): only DEFAULT
}

func publicColumns(t *testing.T, conn *pgx.Conn, table string) []column {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
SELECT a.attname::text, a.attidentity = 'a' OR a.attgenerated <> ''
  FROM pg_attribute a
 WHERE a.attrelid = ('public.' || quote_ident($1))::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`, table)
	require.NoError(t, err)
	var out []column
	for rows.Next() {
		var c column
		require.NoError(t, rows.Scan(&c.name, &c.generated))
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out, table)
	return out
}

// insertBase is the smallest insert of a row of table in tenant k.
func (f *matrixFixture) insertBase(table, k string) (cols []string, vals []string) {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	tid, r := q(f.tenant[k]), f.rows[k]
	switch table {
	case "tenants":
		return []string{"client_id", "name"}, []string{"'sonda'", "'Sonda'"}
	case "tenant_members":
		return []string{"tenant_id", "user_id"}, []string{tid, q(f.spare)}
	case "whatsapp_sessions":
		return []string{"tenant_id", "phone_number", "provider_type"}, []string{tid, "'5511900000077'", "'sandbox'"}
	case "messages":
		return []string{"tenant_id", "to_number"}, []string{tid, "'5511988887777'"}
	case "ai_agents":
		return []string{"tenant_id", "name"}, []string{tid, "'Sonda'"}
	case "ai_conversations":
		return []string{"tenant_id", "contact"}, []string{tid, "'5511955554444'"}
	case "ai_knowledge_documents":
		return []string{"tenant_id", "agent_id", "title", "content"}, []string{tid, q(r["ai_agents"]), "'Doc'", "'texto'"}
	case "ai_knowledge_chunks":
		return []string{"tenant_id", "agent_id", "document_id", "ordinal", "category", "title", "content"},
			[]string{tid, q(r["ai_agents"]), q(r["ai_knowledge_documents"]), "99", "'general'", "'t'", "'c'"}
	}
	return nil, nil
}

// rowFilter selects the fixture row of table in tenant k as seen by actor.
func (f *matrixFixture) rowFilter(table, k string, actor migrations.Actor) string {
	id := f.rows[k][table]
	switch table {
	case "tenants":
		return fmt.Sprintf("id = '%s'", id)
	case "tenant_members":
		u := f.userB
		if k == "A" {
			u = f.users[migrations.ActorOwner]
			if v, ok := f.users[actor]; ok {
				u = v
			}
		}
		return fmt.Sprintf("tenant_id = '%s' AND user_id = '%s'", f.tenant[k], u)
	case "ai_knowledge_chunks":
		return "id = " + id
	}
	return fmt.Sprintf("id = '%s'", id)
}

// TestPolicyMatrix runs every public table × operation × actor × column as
// PostgREST would and compares each outcome with migrations.PolicyMatrix.
func TestPolicyMatrix(t *testing.T) {
	t.Parallel()
	f := newMatrixFixture(t)
	for _, table := range migrations.PolicyMatrix {
		cols := publicColumns(t, f.conn, table.Name)
		for _, actor := range migrations.Actors {
			acc := table.Access[actor]
			f.as(t, actor, func(tx pgx.Tx) {
				check := func(what string, want outcome, n int64, err error) {
					t.Helper()
					got := classify(t, n, err, what)
					if got != want {
						t.Errorf("%s: matrix says %s, database %s (err: %v)", what, want, got, err)
					}
				}
				exp := func(ok bool) outcome {
					if ok {
						return allowed
					}
					return denied
				}
				q := pgx.Identifier{"public", table.Name}.Sanitize()
				own := f.rowFilter(table.Name, "A", actor)
				other := f.rowFilter(table.Name, "B", actor)
				baseCols, baseVals := f.insertBase(table.Name, "A")
				otherCols, otherVals := f.insertBase(table.Name, "B")
				if len(acc.Insert) > 0 {
					for _, c := range baseCols {
						require.True(t, acc.Insert.Has(c), "%s/%s: fixture inserts %s, which the matrix does not allow", table.Name, actor, c)
					}
				}
				for _, c := range cols {
					where := fmt.Sprintf("%s %s.%s", actor, table.Name, c.name)
					// SELECT
					n, err := probe(t, tx, fmt.Sprintf("SELECT %s FROM %s WHERE %s", pgx.Identifier{c.name}.Sanitize(), q, own))
					check("SELECT "+where, exp(acc.Allows("SELECT", c.name)), n, err)
					// UPDATE (self-assignment: privileges, policies and
					// UPDATE OF triggers, not value rules)
					set := fmt.Sprintf("%[1]s = %[1]s", pgx.Identifier{c.name}.Sanitize())
					if c.generated {
						set = pgx.Identifier{c.name}.Sanitize() + " = DEFAULT"
					}
					n, err = probe(t, tx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", q, set, own))
					check("UPDATE "+where, exp(acc.Allows("UPDATE", c.name)), n, err)
					// INSERT naming the column (DEFAULT as its value)
					ic, iv := baseCols, baseVals
					if !slices.Contains(baseCols, c.name) {
						ic, iv = append(slices.Clone(baseCols), c.name), append(slices.Clone(baseVals), "DEFAULT")
					}
					n, err = probe(t, tx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", q, strings.Join(ic, ", "), strings.Join(iv, ", ")))
					check("INSERT "+where, exp(acc.Allows("INSERT", c.name)), n, err)
					if actor == migrations.ActorServiceRole {
						continue
					}
					// Another tenant: never anything.
					n, err = probe(t, tx, fmt.Sprintf("SELECT %s FROM %s WHERE %s", pgx.Identifier{c.name}.Sanitize(), q, other))
					check("SELECT other tenant "+where, denied, n, err)
					n, err = probe(t, tx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", q, set, other))
					check("UPDATE other tenant "+where, denied, n, err)
				}
				n, err := probe(t, tx, fmt.Sprintf("DELETE FROM %s WHERE %s", q, own))
				check(fmt.Sprintf("DELETE %s %s", actor, table.Name), exp(acc.Delete), n, err)
				if actor != migrations.ActorServiceRole {
					n, err = probe(t, tx, fmt.Sprintf("DELETE FROM %s WHERE %s", q, other))
					check(fmt.Sprintf("DELETE other tenant %s %s", actor, table.Name), denied, n, err)
					if table.Name != "tenants" {
						n, err = probe(t, tx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", q, strings.Join(otherCols, ", "), strings.Join(otherVals, ", ")))
						check(fmt.Sprintf("INSERT other tenant %s %s", actor, table.Name), denied, n, err)
					}
				}
			})
		}
	}
}

// TestPolicyMatrixGrants compares the catalog with the matrix: column and
// table privileges per API role, RLS on, the exact policy set, and every
// security-definer function with who may execute it. Public tables the
// matrix does not list fail the test.
func TestPolicyMatrixGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, devdbtest.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)

	rows, err := conn.Query(ctx, `SELECT relname::text FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	var listed []string
	for _, tb := range migrations.PolicyMatrix {
		listed = append(listed, tb.Name)
	}
	sort.Strings(listed)
	for _, name := range tables {
		require.Contains(t, listed, name, "public.%s exists but migrations/policy.go does not declare it: "+
			"add it to PolicyMatrix (RLS on, explicit grants), then run go test ./migrations -run TestPolicyMatrixREADME -update-readme", name)
	}
	require.ElementsMatch(t, listed, tables, "every table of the matrix exists")

	for _, tb := range migrations.PolicyMatrix {
		var rls bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT relrowsecurity FROM pg_class WHERE oid = ('public.' || $1)::regclass`, tb.Name).Scan(&rls))
		require.True(t, rls, "RLS off on %s", tb.Name)
		rows, err := conn.Query(ctx, `SELECT policyname::text FROM pg_policies WHERE schemaname = 'public' AND tablename = $1`, tb.Name)
		require.NoError(t, err)
		pols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.ElementsMatch(t, tb.Policies, pols, "policies of %s", tb.Name)

		for _, c := range publicColumns(t, conn, tb.Name) {
			for _, role := range []string{"anon", "authenticated", "service_role"} {
				for _, priv := range migrations.ColumnPrivileges {
					var has bool
					require.NoError(t, conn.QueryRow(ctx, `SELECT has_column_privilege($1, ('public.' || $2)::regclass, $3, $4)`,
						role, tb.Name, c.name, priv).Scan(&has))
					require.Equal(t, migrations.ExpectedPrivilege(tb, role, priv, c.name), has, "%s %s on %s.%s", role, priv, tb.Name, c.name)
				}
			}
		}
		for _, role := range []string{"anon", "authenticated", "service_role"} {
			for _, priv := range append([]string{"DELETE"}, migrations.ExtraTablePrivileges...) {
				var has bool
				require.NoError(t, conn.QueryRow(ctx, `SELECT has_table_privilege($1, ('public.' || $2)::regclass, $3)`,
					role, tb.Name, priv).Scan(&has))
				want := role == "service_role" || (priv == "DELETE" && migrations.ExpectedPrivilege(tb, role, priv, ""))
				require.Equal(t, want, has, "%s %s on %s", role, priv, tb.Name)
			}
		}
		// Every column named by the matrix exists.
		cols := publicColumns(t, conn, tb.Name)
		for a, acc := range tb.Access {
			for _, cs := range []migrations.Columns{acc.Select, acc.Insert, acc.Update} {
				if cs.All() {
					continue
				}
				for _, name := range cs {
					require.True(t, slices.ContainsFunc(cols, func(c column) bool { return c.name == name }),
						"matrix %s/%s names unknown column %s", tb.Name, a, name)
				}
			}
		}
	}

	// The baseline zapbase doctor compares policy texts with is current.
	var stale int
	// Deparsed texts depend on search_path; the baseline uses the empty one.
	btx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer btx.Rollback(ctx) //nolint:errcheck
	_, err = btx.Exec(ctx, `SET LOCAL search_path = ''`)
	require.NoError(t, err)
	require.NoError(t, btx.QueryRow(ctx, `
WITH live AS (SELECT tablename::text, policyname::text, permissive, roles::text[] AS roles, cmd, qual, with_check
                FROM pg_catalog.pg_policies WHERE schemaname = 'public'),
     base AS (SELECT tablename, policyname, permissive, roles, cmd, qual, with_check FROM wa.policy_baseline)
SELECT pg_catalog.count(*) FROM ((SELECT * FROM live EXCEPT SELECT * FROM base) UNION ALL (SELECT * FROM base EXCEPT SELECT * FROM live)) d`).Scan(&stale))
	require.NoError(t, btx.Rollback(ctx))
	require.Zero(t, stale, "wa.policy_baseline differs from pg_policies: end the migration that changed policies with SELECT wa.record_policy_baseline();")

	rows, err = conn.Query(ctx, `
SELECT p.oid::regprocedure::text,
       has_function_privilege('anon', p.oid, 'EXECUTE'),
       has_function_privilege('authenticated', p.oid, 'EXECUTE'),
       has_function_privilege('service_role', p.oid, 'EXECUTE')
  FROM pg_proc p
 WHERE p.prosecdef AND p.pronamespace IN ('public'::regnamespace, 'wa'::regnamespace, 'wa_rls'::regnamespace)`)
	require.NoError(t, err)
	seen := map[string]bool{}
	for rows.Next() {
		var sig string
		var anon, auth, svc bool
		require.NoError(t, rows.Scan(&sig, &anon, &auth, &svc))
		seen[sig] = true
		i := slices.IndexFunc(migrations.SecurityDefinerFunctions, func(f migrations.SecurityDefinerFunction) bool { return f.Signature == sig })
		require.GreaterOrEqual(t, i, 0, "security definer function %s is not declared in migrations/policy.go", sig)
		ex := migrations.SecurityDefinerFunctions[i].Executors
		require.Equal(t, slices.Contains(ex, "anon"), anon, "anon EXECUTE on %s", sig)
		require.Equal(t, slices.Contains(ex, "authenticated"), auth, "authenticated EXECUTE on %s", sig)
		require.Equal(t, slices.Contains(ex, "service_role"), svc, "service_role EXECUTE on %s", sig)
	}
	require.NoError(t, rows.Err())
	require.True(t, seen["wa_rls.managed_tenant_ids()"] && seen["wa_rls.writable_tenant_ids()"], "the policy helpers exist: %v", seen)
}

const readmeBegin, readmeEnd = "<!-- policy-matrix:begin (gerado de migrations/policy.go) -->\n", "<!-- policy-matrix:end -->"

// TestPolicyMatrixREADME: the README's matrix is generated from the Go one
// (go test ./migrations -run TestPolicyMatrixREADME -update-readme).
func TestPolicyMatrixREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	s := string(b)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	require.True(t, i >= 0 && j > i, "README.md must contain the policy matrix markers %q … %q", readmeBegin, readmeEnd)
	want := readmeBegin + migrations.PolicyMatrixMarkdown()
	got := s[i:j]
	if *updateREADME {
		require.NoError(t, os.WriteFile("../README.md", []byte(s[:i]+want+s[j:]), 0o644))
		return
	}
	require.Equal(t, want, got, "README.md's policy matrix differs from migrations/policy.go: run go test ./migrations -run TestPolicyMatrixREADME -update-readme")
}
