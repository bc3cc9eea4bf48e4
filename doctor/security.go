package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase/migrations"
)

// securityDrift compares the live grants, policies and security-definer
// functions of zapbase's objects with the policy matrix the migrations
// implement (migrations.PolicyMatrix): a GRANT or policy added by hand in
// the dashboard, a revoked grant the frontend needs, a SECURITY DEFINER
// function in wa/wa_rls that is not zapbase's or that the API roles may call.
// The tenant's own public tables and functions are not judged.
func (d *doctor) securityDrift(ctx context.Context) error {
	roles, err := d.apiRoles(ctx)
	if err != nil {
		return fail(CheckSecurityDrift, err)
	}
	if len(roles) < 2 {
		d.r.add(CheckSecurityDrift, Skipped, "papéis anon/authenticated não existem (banco sem Supabase)", "")
		return nil
	}
	latest, err := migrations.Latest()
	if err != nil {
		return fail(CheckSecurityDrift, err)
	}
	var migrated bool
	if err := d.conn.QueryRow(ctx, `SELECT to_regclass('wa.schema_migrations') IS NOT NULL`).Scan(&migrated); err != nil {
		return fail(CheckSecurityDrift, err)
	}
	var st migrations.Status
	if migrated {
		if err := d.conn.QueryRow(ctx, migrations.StatusQuery).Scan(&st.Version, &st.Dirty); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fail(CheckSecurityDrift, err)
		}
	}
	st.Latest = latest
	if !st.Current() {
		d.r.add(CheckSecurityDrift, Skipped, "migrações pendentes: a comparação só vale com o banco na versão atual", "")
		return nil
	}
	var hasService bool
	if err := d.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role')`).Scan(&hasService); err != nil {
		return fail(CheckSecurityDrift, err)
	}
	checkRoles := []string{"anon", "authenticated"}
	if hasService {
		checkRoles = append(checkRoles, "service_role")
	}

	var tables []string
	for _, t := range migrations.PolicyMatrix {
		tables = append(tables, t.Name)
	}
	var drift, fix []string

	// Column privileges (SELECT/INSERT/UPDATE) and table privileges.
	rows, err := d.conn.Query(ctx, `
SELECT c.relname::text, a.attname::text, r, p, has_column_privilege(r, c.oid, a.attname, p)
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
       unnest($2::text[]) r, unnest($3::text[]) p
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)
UNION ALL
SELECT c.relname::text, '', r, p, has_table_privilege(r, c.oid, p)
  FROM pg_class c, unnest($2::text[]) r, unnest($4::text[]) p
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)
 ORDER BY 1, 2, 3, 4`, tables, checkRoles, migrations.ColumnPrivileges,
		append([]string{"DELETE"}, migrations.ExtraTablePrivileges...))
	if err != nil {
		return fail(CheckSecurityDrift, err)
	}
	type key struct{ table, role, priv string }
	extra, missing := map[key][]string{}, map[key][]string{}
	var keys []key
	var table, column, role, priv string
	var has bool
	if _, err := pgx.ForEachRow(rows, []any{&table, &column, &role, &priv, &has}, func() error {
		t, _ := migrations.TableByName(table)
		want := migrations.ExpectedPrivilege(t, role, priv, column)
		if priv != "DELETE" && column == "" { // TRUNCATE, REFERENCES, TRIGGER
			want = role == "service_role"
		}
		if has == want {
			return nil
		}
		k := key{table, role, priv}
		if len(extra[k]) == 0 && len(missing[k]) == 0 {
			keys = append(keys, k)
		}
		if has {
			extra[k] = append(extra[k], column)
		} else {
			missing[k] = append(missing[k], column)
		}
		return nil
	}); err != nil {
		return fail(CheckSecurityDrift, err)
	}
	for _, k := range keys {
		t, _ := migrations.TableByName(k.table)
		rel := "public." + ident(k.table)
		if cols := extra[k]; len(cols) > 0 {
			drift = append(drift, fmt.Sprintf("%s pode %s em %s%s (a matriz não permite)", k.role, k.priv, rel, columnList(cols)))
			fix = append(fix, fmt.Sprintf("REVOKE %s ON %s FROM %s;", k.priv, rel, k.role))
			if allowed := matrixColumns(t, k.role, k.priv); allowed != "" {
				fix = append(fix, fmt.Sprintf("GRANT %s%s ON %s TO %s;", k.priv, allowed, rel, k.role))
			}
		}
		if cols := missing[k]; len(cols) > 0 {
			drift = append(drift, fmt.Sprintf("%s não pode mais %s em %s%s (a matriz permite)", k.role, k.priv, rel, columnList(cols)))
			on := ""
			if cols[0] != "" && !matrixAll(t, k.role, k.priv) {
				on = " (" + joinIdents(cols) + ")"
			}
			fix = append(fix, fmt.Sprintf("GRANT %s%s ON %s TO %s;", k.priv, on, rel, k.role))
		}
	}

	// Policies: exactly the migrations' set on each matrix table.
	rows, err = d.conn.Query(ctx, `SELECT tablename::text, policyname::text FROM pg_policies
 WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY 1, 2`, tables)
	if err != nil {
		return fail(CheckSecurityDrift, err)
	}
	live := map[string][]string{}
	var policy string
	if _, err := pgx.ForEachRow(rows, []any{&table, &policy}, func() error {
		live[table] = append(live[table], policy)
		return nil
	}); err != nil {
		return fail(CheckSecurityDrift, err)
	}
	for _, t := range migrations.PolicyMatrix {
		for _, p := range live[t.Name] {
			if !slices.Contains(t.Policies, p) {
				drift = append(drift, fmt.Sprintf("política %s em public.%s não é do zapbase", p, t.Name))
				fix = append(fix, fmt.Sprintf("DROP POLICY %s ON public.%s;  -- revise antes: ela amplia ou restringe o acesso",
					ident(p), ident(t.Name)))
			}
		}
		for _, p := range t.Policies {
			if !slices.Contains(live[t.Name], p) {
				drift = append(drift, fmt.Sprintf("política %s em public.%s foi removida", p, t.Name))
				fix = append(fix, fmt.Sprintf("Recrie %s como na migração 000070 (migrations/000070_client_lockdown.up.sql).", p))
			}
		}
	}

	// Policy texts: as the migrations left them (wa.policy_baseline,
	// recorded on this server, so the deparsed texts compare exactly).
	var hasBaseline bool
	if err := d.conn.QueryRow(ctx, `SELECT to_regclass('wa.policy_baseline') IS NOT NULL`).Scan(&hasBaseline); err != nil {
		return fail(CheckSecurityDrift, err)
	}
	if hasBaseline {
		// Deparsed texts depend on search_path: compare them under the
		// empty one the baseline was recorded with.
		tx, err := d.conn.Begin(ctx)
		if err != nil {
			return fail(CheckSecurityDrift, err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op once rolled back below
		if _, err := tx.Exec(ctx, `SET LOCAL search_path = ''`); err != nil {
			return fail(CheckSecurityDrift, err)
		}
		rows, err = tx.Query(ctx, `
SELECT p.tablename::text, p.policyname::text
  FROM pg_catalog.pg_policies p JOIN wa.policy_baseline b ON b.tablename = p.tablename AND b.policyname = p.policyname
 WHERE p.schemaname = 'public' AND p.tablename OPERATOR(pg_catalog.=) ANY ($1::text[])
   AND (p.permissive, p.roles::text[], p.cmd, p.qual, p.with_check) IS DISTINCT FROM
       (b.permissive, b.roles, b.cmd, b.qual, b.with_check)
 ORDER BY 1, 2`, tables)
		if err != nil {
			return fail(CheckSecurityDrift, err)
		}
		if _, err := pgx.ForEachRow(rows, []any{&table, &policy}, func() error {
			drift = append(drift, fmt.Sprintf("política %s em public.%s foi alterada (texto, papéis ou comando diferentes do que as migrações criaram)", policy, table))
			fix = append(fix, fmt.Sprintf("Veja a definição original: SELECT cmd, roles, qual, with_check FROM wa.policy_baseline WHERE policyname = '%s';\n"+
				"e recrie a política com ela (DROP POLICY %s ON public.%s; CREATE POLICY ...).", policy, ident(policy), ident(table)))
			return nil
		}); err != nil {
			return fail(CheckSecurityDrift, err)
		}
		if err := tx.Rollback(ctx); err != nil {
			return fail(CheckSecurityDrift, err)
		}
	}

	// Security-definer functions in zapbase's schemas.
	rows, err = d.conn.Query(ctx, `
SELECT p.oid::regprocedure::text, r, has_function_privilege(r, p.oid, 'EXECUTE')
  FROM pg_proc p, unnest($1::text[]) r
 WHERE p.prosecdef AND p.pronamespace::regnamespace::text IN ('wa', 'wa_rls')
 ORDER BY 1, 2`, checkRoles)
	if err != nil {
		return fail(CheckSecurityDrift, err)
	}
	var sig string
	unknown := map[string]bool{}
	if _, err := pgx.ForEachRow(rows, []any{&sig, &role, &has}, func() error {
		i := slices.IndexFunc(migrations.SecurityDefinerFunctions, func(f migrations.SecurityDefinerFunction) bool { return f.Signature == sig })
		if i < 0 {
			if !unknown[sig] {
				unknown[sig] = true
				drift = append(drift, fmt.Sprintf("função SECURITY DEFINER %s não é do zapbase", sig))
				fix = append(fix, fmt.Sprintf("Revise quem a criou; se não for necessária: DROP FUNCTION %s;", sig))
			}
			return nil
		}
		if want := slices.Contains(migrations.SecurityDefinerFunctions[i].Executors, role); has != want {
			if has {
				drift = append(drift, fmt.Sprintf("%s pode executar %s (SECURITY DEFINER)", role, sig))
				fix = append(fix, fmt.Sprintf("REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %s;", sig, role))
			} else {
				drift = append(drift, fmt.Sprintf("%s não pode mais executar %s (as políticas dependem dela)", role, sig))
				fix = append(fix, fmt.Sprintf("GRANT EXECUTE ON FUNCTION %s TO %s;", sig, role))
			}
		}
		return nil
	}); err != nil {
		return fail(CheckSecurityDrift, err)
	}

	if len(drift) == 0 {
		d.r.add(CheckSecurityDrift, OK, fmt.Sprintf("GRANTs, políticas e funções SECURITY DEFINER iguais às migrações (%d tabelas públicas)", len(tables)), "")
		return nil
	}
	sort.Strings(drift)
	const maxListed = 12
	summary := strings.Join(drift, "; ")
	if len(drift) > maxListed {
		summary = strings.Join(drift[:maxListed], "; ") + fmt.Sprintf("; e mais %d", len(drift)-maxListed)
	}
	d.r.add(CheckSecurityDrift, Fail, fmt.Sprintf("%d divergência(s) da matriz de permissões (README, “Segurança e RLS”): %s",
		len(drift), summary), strings.Join(fix, "\n"))
	return nil
}

// ident quotes a Postgres identifier only when it needs quoting.
func ident(s string) string {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || (i > 0 && c >= '0' && c <= '9')) {
			return pgx.Identifier{s}.Sanitize()
		}
	}
	return s
}

func joinIdents(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = ident(c)
	}
	return strings.Join(out, ", ")
}

// columnList names up to five columns (" (colunas a, b, …)"), or nothing
// for a table-level privilege.
func columnList(cols []string) string {
	if len(cols) == 0 || cols[0] == "" {
		return ""
	}
	if len(cols) > 5 {
		return fmt.Sprintf(" (colunas %s e mais %d)", strings.Join(cols[:5], ", "), len(cols)-5)
	}
	return " (colunas " + strings.Join(cols, ", ") + ")"
}

// matrixAll reports whether the matrix grants role priv on every column.
func matrixAll(t migrations.Table, role, priv string) bool {
	if role == "service_role" {
		return true
	}
	for _, a := range migrations.Actors {
		if a.DBRole() != role {
			continue
		}
		acc := t.Access[a]
		if (priv == "SELECT" && acc.Select.All()) || (priv == "INSERT" && acc.Insert.All()) || (priv == "UPDATE" && acc.Update.All()) {
			return true
		}
	}
	return false
}

// matrixColumns is the " (a, b)" column list the matrix grants role for
// priv after a table-level REVOKE, "" when it grants none (or the whole
// table, which the REVOKE fix then must not remove: callers only use it for
// extra privileges, which a whole-table grant cannot have).
func matrixColumns(t migrations.Table, role, priv string) string {
	if priv == "DELETE" || priv == "TRUNCATE" || priv == "REFERENCES" || priv == "TRIGGER" {
		return ""
	}
	var cols []string
	seen := map[string]bool{}
	for _, a := range migrations.Actors {
		if a.DBRole() != role {
			continue
		}
		acc := t.Access[a]
		var cs migrations.Columns
		switch priv {
		case "SELECT":
			cs = acc.Select
		case "INSERT":
			cs = acc.Insert
		case "UPDATE":
			cs = acc.Update
		}
		for _, c := range cs {
			if !seen[c] && c != "*" {
				seen[c] = true
				cols = append(cols, c)
			}
		}
	}
	if len(cols) == 0 {
		return ""
	}
	return " (" + joinIdents(cols) + ")"
}
