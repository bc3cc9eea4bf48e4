// Package doctor checks a database (and the Supabase project around it) the
// way an operator would before putting zapbase in production, and explains
// every problem in Brazilian Portuguese with the fix.
//
// It only reads: it never creates slots or publications, never changes
// settings. Checks that depend on an unreachable database are reported as
// skipped. A Fail finding blocks (the command exits non-zero); a Warn one
// deserves attention but zapbase can run.
package doctor

// File size: one check list run in order (connection, replication,
// Supabase), each check short and independent; the report format is at the
// end.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zapbase/zapbase/migrations"
)

// Defaults and thresholds.
const (
	DefaultSlotName     = "zapbase"
	DefaultPublication  = "zapbase_messages"
	RealtimePublication = "supabase_realtime"
	DefaultTimeout      = 10 * time.Second
	// minSpareSlots/minSpareSenders: Supabase Realtime, read replicas and
	// Pipelines also take slots and senders; fewer spare than this is a
	// warning.
	minSpareSlots   = 2
	minSpareSenders = 2
	// smallKeepSizeMB: below this, a short zapbase outage can invalidate the
	// slot (Supabase shipped 1024 MB until mid-2024, some hosted projects run
	// 512 MB).
	smallKeepSizeMB = 1024
	// highSlotLag: an inactive slot this far behind deserves a look.
	highSlotLag = 1 << 30
)

// realtimeTables must be in supabase_realtime for the frontend to see
// changes live.
var realtimeTables = []string{"messages", "whatsapp_sessions", "ai_conversations"}

// Params name what to check (the same environment `zapbase serve` reads).
type Params struct {
	DatabaseURL    string // DATABASE_URL (required)
	ReplicationURL string // DATABASE_REPLICATION_URL (default DatabaseURL)
	SupabaseURL    string // SUPABASE_URL (JWKS check when set)
	JWTSecretSet   bool   // SUPABASE_JWT_SECRET is configured (legacy HS256)
	SlotName       string // ZAPBASE_SLOT_NAME (default zapbase)
	Publication    string // ZAPBASE_PUBLICATION (default zapbase_messages)
	HTTPClient     *http.Client
	// Timeout bounds each network step (default DefaultTimeout).
	Timeout time.Duration
}

// Run performs every check and returns the report. It does not fail: a
// problem is a finding.
func Run(ctx context.Context, p Params) Report {
	if p.ReplicationURL == "" {
		p.ReplicationURL = p.DatabaseURL
	}
	if p.SlotName == "" {
		p.SlotName = DefaultSlotName
	}
	if p.Publication == "" {
		p.Publication = DefaultPublication
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.HTTPClient == nil {
		p.HTTPClient = &http.Client{Timeout: p.Timeout}
	}
	var r Report
	d := &doctor{p: p, r: &r}
	d.database(ctx)
	d.directConnection(ctx)
	d.jwks(ctx)
	return r
}

type doctor struct {
	p    Params
	r    *Report
	conn *pgx.Conn
}

func (d *doctor) database(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, d.p.Timeout)
	defer cancel()
	conn, err := pgx.Connect(cctx, d.p.DatabaseURL)
	if err != nil {
		d.r.add(CheckDatabase, Fail, "não foi possível conectar: "+errText(err),
			"Confira DATABASE_URL (host, porta, usuário, senha, sslmode). No Supabase, copie a string em\n"+
				"Project Settings → Database → Connection string.")
		for _, c := range []string{CheckWALLevel, CheckReplicationRole, CheckReplicationSlots, CheckWALSenders,
			CheckSlotWALKeepSize, CheckSlot, CheckPublication, CheckRealtimePublication, CheckMigrations,
			CheckRLS, CheckPrivateSchemas, CheckPublicGrants, CheckSecurityDrift} {
			d.r.add(c, Skipped, "não verificado (sem conexão com o banco)", "")
		}
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	d.conn = conn
	var version, user, db string
	if err := conn.QueryRow(cctx, `SELECT current_setting('server_version'), current_user, current_database()`).
		Scan(&version, &user, &db); err != nil {
		d.r.add(CheckDatabase, Fail, "conectado, mas a consulta inicial falhou: "+errText(err), "Confira as permissões do usuário.")
		return
	}
	d.r.add(CheckDatabase, OK, fmt.Sprintf("PostgreSQL %s, usuário %s, banco %s", version, user, db), "")

	for _, step := range []func(context.Context) error{
		d.walLevel, d.replicationRole, d.slots, d.walSenders, d.keepSize, d.slot,
		d.publication, d.realtimePublication, d.migrations, d.rls, d.privateSchemas, d.publicGrants,
		d.securityDrift,
	} {
		sctx, cancel := context.WithTimeout(ctx, d.p.Timeout)
		err := step(sctx)
		cancel()
		if err != nil {
			// A query that fails is reported under the check that ran it.
			var ce *checkError
			if errors.As(err, &ce) {
				d.r.add(ce.check, Fail, "não foi possível verificar: "+errText(ce.err),
					"Confira se o usuário de DATABASE_URL pode ler os catálogos do Postgres e o esquema wa.")
			}
		}
	}
}

// checkError ties a query failure to its check.
type checkError struct {
	check string
	err   error
}

func (e *checkError) Error() string { return e.check + ": " + e.err.Error() }

func fail(check string, err error) error { return &checkError{check: check, err: err} }

func (d *doctor) setting(ctx context.Context, name string) (string, error) {
	var v string
	err := d.conn.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
	return v, err
}

func (d *doctor) walLevel(ctx context.Context) error {
	v, err := d.setting(ctx, "wal_level")
	if err != nil {
		return fail(CheckWALLevel, err)
	}
	if v == "logical" {
		d.r.add(CheckWALLevel, OK, "logical", "")
		return nil
	}
	d.r.add(CheckWALLevel, Fail, fmt.Sprintf("está em %q; a replicação lógica exige logical", v),
		"No Supabase já vem logical. Em Postgres próprio: ALTER SYSTEM SET wal_level = logical; e reinicie\n"+
			"o servidor (no docker-compose: command: postgres -c wal_level=logical).")
	return nil
}

func (d *doctor) replicationRole(ctx context.Context) error {
	cfg, err := pgconn.ParseConfig(d.p.ReplicationURL)
	if err != nil {
		d.r.add(CheckReplicationRole, Fail, "DATABASE_REPLICATION_URL inválida", "Use uma URL postgres://usuario:senha@host:5432/banco.")
		return nil
	}
	var exists, repl, super bool
	err = d.conn.QueryRow(ctx, `
SELECT true, rolreplication, rolsuper FROM pg_roles WHERE rolname = $1`, cfg.User).Scan(&exists, &repl, &super)
	if errors.Is(err, pgx.ErrNoRows) {
		d.r.add(CheckReplicationRole, Fail, fmt.Sprintf("o usuário %q da conexão de replicação não existe neste servidor", cfg.User),
			"Confira o usuário em DATABASE_REPLICATION_URL (ou DATABASE_URL).")
		return nil
	}
	if err != nil {
		return fail(CheckReplicationRole, err)
	}
	switch {
	case super:
		d.r.add(CheckReplicationRole, OK, fmt.Sprintf("%s é superusuário", cfg.User), "")
	case repl:
		d.r.add(CheckReplicationRole, OK, fmt.Sprintf("%s tem REPLICATION", cfg.User), "")
	default:
		d.r.add(CheckReplicationRole, Fail, fmt.Sprintf("%s não tem o atributo REPLICATION", cfg.User),
			fmt.Sprintf("ALTER ROLE %s WITH REPLICATION; (como superusuário). No Supabase use o usuário postgres,\n"+
				"que já tem REPLICATION; a partir do PostgreSQL 17 também é possível criar um usuário com REPLICATION.",
				pgx.Identifier{cfg.User}.Sanitize()))
	}
	return nil
}

func (d *doctor) slots(ctx context.Context) error {
	var max, used int
	var ours bool
	err := d.conn.QueryRow(ctx, `
SELECT current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_replication_slots)::int,
       EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, d.p.SlotName).Scan(&max, &used, &ours)
	if err != nil {
		return fail(CheckReplicationSlots, err)
	}
	free := max - used
	summary := fmt.Sprintf("%d de %d em uso", used, max)
	const fix = "Aumente max_replication_slots (no Supabase: supabase --experimental postgres-config update\n" +
		"--config max_replication_slots=10; em Postgres próprio: -c max_replication_slots=10) ou remova slots\n" +
		"abandonados: SELECT pg_drop_replication_slot(nome) FROM pg_replication_slots WHERE NOT active;"
	switch {
	case max == 0:
		d.r.add(CheckReplicationSlots, Fail, "max_replication_slots = 0: não há slots disponíveis", fix)
	case ours:
		d.r.add(CheckReplicationSlots, OK, summary+fmt.Sprintf(" (inclui o slot %s)", d.p.SlotName), "")
	case free <= 0:
		d.r.add(CheckReplicationSlots, Fail, summary+"; nenhum livre para o slot do zapbase", fix)
	case free < minSpareSlots:
		d.r.add(CheckReplicationSlots, Warn, summary+"; sobra só 1 além do slot do zapbase (Realtime e réplicas também usam slots)", fix)
	default:
		d.r.add(CheckReplicationSlots, OK, summary+fmt.Sprintf("; %d livres", free), "")
	}
	return nil
}

func (d *doctor) walSenders(ctx context.Context) error {
	var max, used int
	var oursActive bool
	err := d.conn.QueryRow(ctx, `
SELECT current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_stat_replication)::int,
       EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active)`, d.p.SlotName).Scan(&max, &used, &oursActive)
	if err != nil {
		return fail(CheckWALSenders, err)
	}
	free := max - used
	summary := fmt.Sprintf("%d de %d em uso", used, max)
	const fix = "Aumente max_wal_senders (no Supabase: supabase --experimental postgres-config update\n" +
		"--config max_wal_senders=10; em Postgres próprio: -c max_wal_senders=10)."
	switch {
	case max == 0:
		d.r.add(CheckWALSenders, Fail, "max_wal_senders = 0: nenhuma conexão de replicação é aceita", fix)
	case oursActive:
		d.r.add(CheckWALSenders, OK, summary+" (inclui o zapbase)", "")
	case free <= 0:
		d.r.add(CheckWALSenders, Fail, summary+"; nenhum livre para o zapbase", fix)
	case free < minSpareSenders:
		d.r.add(CheckWALSenders, Warn, summary+"; sobra só 1 (o Realtime também abre conexões de replicação)", fix)
	default:
		d.r.add(CheckWALSenders, OK, summary+fmt.Sprintf("; %d livres", free), "")
	}
	return nil
}

func (d *doctor) keepSize(ctx context.Context) error {
	var mb int64
	var found bool
	err := d.conn.QueryRow(ctx, `
SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size'`).Scan(&mb)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fail(CheckSlotWALKeepSize, err)
	default:
		found = true
	}
	s, fix := classifyKeepSize(found, mb)
	switch s {
	case OK:
		d.r.add(CheckSlotWALKeepSize, OK, fmt.Sprintf("%d MB", mb), "")
	case Warn:
		if mb < 0 {
			d.r.add(CheckSlotWALKeepSize, Warn, "ilimitado (-1): um zapbase parado retém WAL até encher o disco", fix)
		} else {
			d.r.add(CheckSlotWALKeepSize, Warn, fmt.Sprintf("%d MB é pouco: uma parada curta do zapbase pode invalidar o slot", mb), fix)
		}
	default:
		d.r.add(CheckSlotWALKeepSize, Warn, "parâmetro inexistente (PostgreSQL anterior ao 13)", fix)
	}
	return nil
}

// classifyKeepSize judges max_slot_wal_keep_size (MB; -1 unlimited).
func classifyKeepSize(found bool, mb int64) (Status, string) {
	const watch = "Acompanhe zapbase_replication_slot_retained_bytes e o alerta ZapbaseSlotWALStatus (deploy/alerts.yml)."
	switch {
	case !found:
		return Warn, "Use PostgreSQL 13 ou mais novo (o Supabase usa 15+)."
	case mb < 0:
		return Warn, "Defina um limite compatível com o disco, por exemplo 4096MB (padrão do Supabase):\n" +
			"supabase --experimental postgres-config update --config max_slot_wal_keep_size=4096\n" + watch
	case mb < smallKeepSizeMB:
		return Warn, "Aumente para 4096MB ou mais se o disco permitir (o zapbase recria o slot perdido e\n" +
			"reconcilia pela tabela, mas com atraso). " + watch
	default:
		return OK, ""
	}
}

func (d *doctor) slot(ctx context.Context) error {
	name := d.p.SlotName
	if strings.Contains(strings.ToLower(name), "realtime") {
		d.r.add(CheckSlot, Fail, fmt.Sprintf("o nome %q contém \"realtime\": o Supabase Realtime apaga slots com esse nome", name),
			"Escolha outro nome em ZAPBASE_SLOT_NAME (o padrão é zapbase).")
		return nil
	}
	var (
		slotType, plugin, database, walStatus *string
		active                                bool
		lag                                   *int64
		currentDB                             string
	)
	err := d.conn.QueryRow(ctx, `
SELECT s.slot_type, s.plugin, s.database, s.active, s.wal_status,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint, current_database()
FROM pg_replication_slots s WHERE s.slot_name = $1`, name).
		Scan(&slotType, &plugin, &database, &active, &walStatus, &lag, &currentDB)
	if errors.Is(err, pgx.ErrNoRows) {
		d.r.add(CheckSlot, OK, fmt.Sprintf("o slot %s ainda não existe; o zapbase o cria no primeiro início", name), "")
		return nil
	}
	if err != nil {
		return fail(CheckSlot, err)
	}
	drop := fmt.Sprintf("SELECT pg_drop_replication_slot('%s');", strings.ReplaceAll(name, "'", "''"))
	switch {
	case deref(slotType) != "logical" || deref(plugin) != "pgoutput":
		d.r.add(CheckSlot, Fail, fmt.Sprintf("o slot %s existe mas é %s/%s, não logical/pgoutput", name, deref(slotType), deref(plugin)),
			"Outro programa usa esse nome: escolha outro ZAPBASE_SLOT_NAME ou, se for resto antigo, "+drop)
		return nil
	case deref(database) != currentDB:
		d.r.add(CheckSlot, Fail, fmt.Sprintf("o slot %s pertence ao banco %s, não a %s", name, deref(database), currentDB),
			"Use outro ZAPBASE_SLOT_NAME para este banco, ou remova o slot antigo: "+drop)
		return nil
	}
	state := "inativo"
	if active {
		state = "ativo"
	}
	lagText := "?"
	if lag != nil {
		lagText = humanBytes(*lag)
	}
	summary := fmt.Sprintf("%s, wal_status %s, atraso %s", state, deref(walStatus), lagText)
	switch deref(walStatus) {
	case "reserved":
		if !active && lag != nil && *lag > highSlotLag {
			d.r.add(CheckSlot, Warn, summary+"; o slot está parado e retendo WAL",
				"Inicie o zapbase (ele consome e libera o WAL). Se esta instalação foi desativada: "+drop)
			return nil
		}
		d.r.add(CheckSlot, OK, summary, "")
	case "extended", "unreserved":
		d.r.add(CheckSlot, Warn, summary+"; o slot passou de max_wal_size e pode perder WAL",
			"Garanta que um zapbase esteja rodando e consumindo. Se o slot for perdido, o zapbase o recria e\n"+
				"reconcilia pela tabela, mas investigue por que ficou parado.")
	case "lost":
		d.r.add(CheckSlot, Warn, summary+"; o WAL necessário já foi removido",
			"O zapbase recria o slot e reconcilia as mensagens pela tabela ao iniciar. Para limpar agora: "+drop+"\n"+
				"Considere aumentar max_slot_wal_keep_size.")
	default:
		d.r.add(CheckSlot, OK, summary, "")
	}
	return nil
}

func (d *doctor) publication(ctx context.Context) error {
	name := d.p.Publication
	var exists, hasMessages, inserts bool
	err := d.conn.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1),
       EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = 'public' AND tablename = 'messages'),
       coalesce((SELECT pubinsert FROM pg_publication WHERE pubname = $1), false)`, name).
		Scan(&exists, &hasMessages, &inserts)
	if err != nil {
		return fail(CheckPublication, err)
	}
	quoted := pgx.Identifier{name}.Sanitize()
	switch {
	case exists && hasMessages && inserts:
		d.r.add(CheckPublication, OK, fmt.Sprintf("%s publica public.messages", name), "")
		return nil
	case exists && !hasMessages:
		d.r.add(CheckPublication, Fail, fmt.Sprintf("%s existe mas não contém public.messages", name),
			fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE public.messages;", quoted))
		return nil
	case exists:
		d.r.add(CheckPublication, Fail, fmt.Sprintf("%s não publica INSERTs", name),
			fmt.Sprintf("ALTER PUBLICATION %s SET (publish = 'insert, update');", quoted))
		return nil
	}
	// Not created yet: the listener creates it, which needs ownership of
	// public.messages (PostgreSQL rule) and CREATE on the database.
	var tableExists, canCreate bool
	err = d.conn.QueryRow(ctx, `
SELECT to_regclass('public.messages') IS NOT NULL,
       coalesce((SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c
                 WHERE c.oid = to_regclass('public.messages')), false)
       AND has_database_privilege(current_database(), 'CREATE')`).Scan(&tableExists, &canCreate)
	if err != nil {
		return fail(CheckPublication, err)
	}
	switch {
	case !tableExists:
		d.r.add(CheckPublication, OK, fmt.Sprintf("%s ainda não existe; é criada depois das migrações", name), "")
	case canCreate:
		d.r.add(CheckPublication, OK, fmt.Sprintf("%s ainda não existe; o zapbase a cria no primeiro início", name), "")
	default:
		d.r.add(CheckPublication, Fail, fmt.Sprintf("%s não existe e o usuário atual não pode criá-la (precisa ser dono de public.messages)", name),
			fmt.Sprintf("Como dono da tabela (no Supabase, postgres): CREATE PUBLICATION %s FOR TABLE public.messages;", quoted))
	}
	return nil
}

func (d *doctor) realtimePublication(ctx context.Context) error {
	var exists bool
	var members []string
	err := d.conn.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1),
       coalesce(array_agg(t.tablename::text) FILTER (WHERE t.tablename IS NOT NULL), '{}')
FROM (SELECT 1) one
LEFT JOIN pg_publication_tables t ON t.pubname = $1 AND t.schemaname = 'public'`, RealtimePublication).Scan(&exists, &members)
	if err != nil {
		return fail(CheckRealtimePublication, err)
	}
	if !exists {
		d.r.add(CheckRealtimePublication, Warn, "não existe: o frontend não recebe status e mensagens ao vivo pelo Realtime",
			"No Supabase ela sempre existe (confira se este é o banco do projeto). Em Postgres próprio sem Realtime,\n"+
				"ignore este aviso.")
		return nil
	}
	var missing []string
	for _, t := range realtimeTables {
		if !contains(members, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		d.r.add(CheckRealtimePublication, OK, "contém "+strings.Join(realtimeTables, ", "), "")
		return nil
	}
	var fix []string
	for _, t := range missing {
		fix = append(fix, fmt.Sprintf("ALTER PUBLICATION supabase_realtime ADD TABLE public.%s;", t))
	}
	d.r.add(CheckRealtimePublication, Warn, "faltam "+strings.Join(missing, ", ")+": o frontend não vê essas mudanças ao vivo",
		strings.Join(fix, "\n")+"\n(ou Database → Publications no painel do Supabase)")
	return nil
}

func (d *doctor) migrations(ctx context.Context) error {
	latest, err := migrations.Latest()
	if err != nil {
		return fail(CheckMigrations, err)
	}
	var tableExists bool
	if err := d.conn.QueryRow(ctx, `SELECT to_regclass('wa.schema_migrations') IS NOT NULL`).Scan(&tableExists); err != nil {
		return fail(CheckMigrations, err)
	}
	if !tableExists {
		d.r.add(CheckMigrations, Warn, "nenhuma migração aplicada ainda",
			"Rode zapbase migrate (o zapbase serve também aplica as migrações ao iniciar).")
		return nil
	}
	var st migrations.Status
	if err := d.conn.QueryRow(ctx, migrations.StatusQuery).Scan(&st.Version, &st.Dirty); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			d.r.add(CheckMigrations, Warn, "nenhuma migração aplicada ainda", "Rode zapbase migrate.")
			return nil
		}
		return fail(CheckMigrations, err)
	}
	st.Latest = latest
	switch {
	case st.Dirty:
		d.r.add(CheckMigrations, Fail, fmt.Sprintf("a migração %d falhou no meio (dirty)", st.Version),
			fmt.Sprintf("Rode zapbase migrate: se a migração %d roda numa transação (todas as do zapbase rodam), a marca é removida sozinha. "+
				"Senão, a mensagem diz exatamente qual zapbase migrate force N rodar. Esta versão do binário vai até %d.", st.Version, latest))
	case st.Version > latest:
		d.r.add(CheckMigrations, Fail, fmt.Sprintf("o banco está na versão %d, mais nova que este binário (%d)", st.Version, latest),
			"Atualize o zapbase para a versão que aplicou essas migrações.")
	case st.Version < latest:
		d.r.add(CheckMigrations, Warn, fmt.Sprintf("versão %d de %d", st.Version, latest),
			"Rode zapbase migrate (o zapbase serve também aplica ao iniciar).")
	default:
		d.r.add(CheckMigrations, OK, fmt.Sprintf("versão %d (atual)", st.Version), "")
	}
	return nil
}

var createPublicTable = regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?public\.([a-z_][a-z0-9_]*)`)

// PublicTables returns the public tables zapbase's migrations create (read
// from the embedded files, so new migrations are covered automatically).
func PublicTables() ([]string, error) {
	seen := map[string]bool{}
	err := fs.WalkDir(migrations.FS(), ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".up.sql") {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		for _, m := range createPublicTable.FindAllStringSubmatch(string(b), -1) {
			seen[strings.ToLower(m[1])] = true
		}
		return nil
	})
	var out []string
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, err
}

func (d *doctor) rls(ctx context.Context) error {
	tables, err := PublicTables()
	if err != nil {
		return fail(CheckRLS, err)
	}
	rows, err := d.conn.Query(ctx, `
SELECT c.relname, c.relrowsecurity FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)
ORDER BY c.relname`, tables)
	if err != nil {
		return fail(CheckRLS, err)
	}
	var without []string
	var n int
	var name string
	var rls bool
	if _, err := pgx.ForEachRow(rows, []any{&name, &rls}, func() error {
		n++
		if !rls {
			without = append(without, name)
		}
		return nil
	}); err != nil {
		return fail(CheckRLS, err)
	}
	switch {
	case n == 0:
		d.r.add(CheckRLS, Skipped, "tabelas do zapbase ainda não criadas (migrações pendentes)", "")
	case len(without) > 0:
		var fix []string
		for _, t := range without {
			fix = append(fix, fmt.Sprintf("ALTER TABLE public.%s ENABLE ROW LEVEL SECURITY;", t))
		}
		d.r.add(CheckRLS, Fail, "RLS desligado em "+strings.Join(without, ", ")+": qualquer usuário da API veria as linhas de todos os tenants",
			strings.Join(fix, "\n"))
	default:
		d.r.add(CheckRLS, OK, fmt.Sprintf("ligado nas %d tabelas públicas do zapbase", n), "")
	}
	return nil
}

// apiRoles returns which of anon/authenticated exist (plain Postgres may have
// neither).
func (d *doctor) apiRoles(ctx context.Context) ([]string, error) {
	rows, err := d.conn.Query(ctx, `SELECT rolname::text FROM pg_roles WHERE rolname IN ('anon', 'authenticated') ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (d *doctor) privateSchemas(ctx context.Context) error {
	roles, err := d.apiRoles(ctx)
	if err != nil {
		return fail(CheckPrivateSchemas, err)
	}
	// PUBLIC grants reach every role, including roles Supabase adds later.
	rows, err := d.conn.Query(ctx, `
SELECT n.nspname::text, 'PUBLIC'
FROM pg_namespace n, aclexplode(n.nspacl) a
WHERE n.nspname IN ('wa', 'whatsmeow') AND a.grantee = 0 AND a.privilege_type = 'USAGE'
UNION ALL
SELECT n.nspname::text, r
FROM pg_namespace n, unnest($1::text[]) r
WHERE n.nspname IN ('wa', 'whatsmeow') AND has_schema_privilege(r, n.oid, 'USAGE')
UNION ALL
SELECT n.nspname || '.' || c.relname, r
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest($1::text[]) r
WHERE n.nspname IN ('wa', 'whatsmeow') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND has_table_privilege(r, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')
ORDER BY 1, 2`, roles)
	if err != nil {
		return fail(CheckPrivateSchemas, err)
	}
	var leaks, fix []string
	var obj, role string
	if _, err := pgx.ForEachRow(rows, []any{&obj, &role}, func() error {
		leaks = append(leaks, obj+" → "+role)
		if strings.Contains(obj, ".") {
			fix = append(fix, fmt.Sprintf("REVOKE ALL ON %s FROM %s;", obj, role))
		} else {
			fix = append(fix, fmt.Sprintf("REVOKE ALL ON SCHEMA %s FROM %s;", obj, role))
		}
		return nil
	}); err != nil {
		return fail(CheckPrivateSchemas, err)
	}
	if len(leaks) > 0 {
		d.r.add(CheckPrivateSchemas, Fail, "acessíveis pela API: "+strings.Join(leaks, ", ")+
			" (chaves Signal, segredos e filas privadas ficariam expostos)", strings.Join(fix, "\n"))
		return nil
	}
	if len(roles) == 0 {
		d.r.add(CheckPrivateSchemas, OK, "sem acesso PUBLIC (papéis anon/authenticated não existem: banco sem Supabase)", "")
		return nil
	}
	d.r.add(CheckPrivateSchemas, OK, "nada concedido a "+strings.Join(roles, " ou "), "")
	return nil
}

func (d *doctor) publicGrants(ctx context.Context) error {
	roles, err := d.apiRoles(ctx)
	if err != nil {
		return fail(CheckPublicGrants, err)
	}
	if !contains(roles, "anon") {
		d.r.add(CheckPublicGrants, Skipped, "papel anon não existe (banco sem Supabase)", "")
		return nil
	}
	tables, err := PublicTables()
	if err != nil {
		return fail(CheckPublicGrants, err)
	}
	rows, err := d.conn.Query(ctx, `
SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = ANY($1)
  AND has_table_privilege('anon', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')
ORDER BY 1`, tables)
	if err != nil {
		return fail(CheckPublicGrants, err)
	}
	granted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fail(CheckPublicGrants, err)
	}
	if len(granted) > 0 {
		var fix []string
		for _, t := range granted {
			fix = append(fix, fmt.Sprintf("REVOKE ALL ON public.%s FROM anon;", t))
		}
		d.r.add(CheckPublicGrants, Warn, "anon (visitante sem login) tem acesso a "+strings.Join(granted, ", ")+
			"; o RLS ainda filtra as linhas, mas o zapbase não concede nada a anon", strings.Join(fix, "\n"))
		return nil
	}
	d.r.add(CheckPublicGrants, OK, "anon não tem acesso às tabelas do zapbase", "")
	return nil
}

// directConnection opens a replication=database connection, as the listener
// does, and runs IDENTIFY_SYSTEM.
func (d *doctor) directConnection(ctx context.Context) {
	cfg, err := pgconn.ParseConfig(d.p.ReplicationURL)
	if err != nil {
		d.r.add(CheckDirectConnection, Fail, "URL de replicação inválida", "Confira DATABASE_REPLICATION_URL (ou DATABASE_URL).")
		return
	}
	if isPooler(cfg.Host, cfg.Port) {
		d.r.add(CheckDirectConnection, Fail, fmt.Sprintf("%s:%d é o pooler (Supavisor), que não transporta replicação", cfg.Host, cfg.Port),
			"Use a conexão direta em DATABASE_REPLICATION_URL: db.<ref>.supabase.co:5432 (IPv6; para IPv4 ative\n"+
				"o add-on de IPv4 do Supabase). DATABASE_URL pode continuar no pooler de sessão.")
		return
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["application_name"] = "zapbase-doctor"
	cctx, cancel := context.WithTimeout(ctx, d.p.Timeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(cctx, cfg)
	if err != nil {
		d.r.add(CheckDirectConnection, Fail, "não foi possível abrir a conexão de replicação: "+errText(err), directFix(cfg.Host, err))
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sys, err := pglogrepl.IdentifySystem(cctx, conn)
	if err != nil {
		d.r.add(CheckDirectConnection, Fail, "IDENTIFY_SYSTEM falhou: "+errText(err), directFix(cfg.Host, err))
		return
	}
	d.r.add(CheckDirectConnection, OK, fmt.Sprintf("%s:%d aceita replicação (system id %s, timeline %d, WAL em %s)",
		cfg.Host, cfg.Port, sys.SystemID, sys.Timeline, sys.XLogPos), "")
}

func isPooler(host string, port uint16) bool {
	h := strings.ToLower(host)
	return strings.HasSuffix(h, ".pooler.supabase.com") || port == 6543
}

func directFix(host string, err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgerrcode.InsufficientPrivilege, pgerrcode.InvalidAuthorizationSpecification:
			return "O usuário precisa do atributo REPLICATION (ALTER ROLE ... WITH REPLICATION) e o pg_hba.conf deve\n" +
				"permitir conexões de replicação (no Supabase, use o usuário postgres)."
		case pgerrcode.TooManyConnections, pgerrcode.ConfigurationLimitExceeded:
			return "O servidor atingiu max_wal_senders: aumente o limite ou encerre conexões de replicação sobrando."
		}
		if strings.Contains(pgErr.Message, "max_wal_senders") || strings.Contains(pgErr.Message, "wal_level") {
			return "Configure o servidor com wal_level=logical e max_wal_senders > 0 (e reinicie)."
		}
	}
	if strings.HasSuffix(strings.ToLower(host), ".supabase.co") {
		var netErr *net.OpError
		var dnsErr *net.DNSError
		if errors.As(err, &netErr) || errors.As(err, &dnsErr) || strings.Contains(err.Error(), "dial") {
			return "A conexão direta db.<ref>.supabase.co só tem IPv6 nos planos sem o add-on de IPv4. Se este\n" +
				"servidor não tem IPv6 de saída, ative o add-on de IPv4 (Project Settings → Add-ons) ou rode o\n" +
				"zapbase num host com IPv6. Sem isso, use o webhook do banco como caminho alternativo (README, seção “Operação em produção”)."
		}
	}
	return "Confira host, porta e usuário de DATABASE_REPLICATION_URL; ela precisa ser a conexão direta ao Postgres\n" +
		"(nunca um pooler) com um usuário que tenha REPLICATION."
}

// jwks fetches SUPABASE_URL/auth/v1/.well-known/jwks.json.
func (d *doctor) jwks(ctx context.Context) {
	if d.p.SupabaseURL == "" {
		if d.p.JWTSecretSet {
			d.r.add(CheckJWKS, Skipped, "SUPABASE_URL não definida; os JWTs serão validados com o segredo legado (HS256)", "")
		} else {
			d.r.add(CheckJWKS, Skipped, "SUPABASE_URL não definida", "")
		}
		return
	}
	url := strings.TrimRight(d.p.SupabaseURL, "/") + "/auth/v1/.well-known/jwks.json"
	n, err := fetchJWKS(ctx, d.p.HTTPClient, url, d.p.Timeout)
	switch {
	case err != nil && d.p.JWTSecretSet:
		d.r.add(CheckJWKS, Warn, fmt.Sprintf("%s inacessível (%v); os JWTs serão validados só com o segredo legado", url, err),
			"Confira SUPABASE_URL (https://<ref>.supabase.co) e a saída HTTPS deste servidor.")
	case err != nil:
		d.r.add(CheckJWKS, Fail, fmt.Sprintf("%s inacessível (%v): os JWTs dos usuários não poderão ser validados", url, err),
			"Confira SUPABASE_URL (https://<ref>.supabase.co) e a saída HTTPS deste servidor, ou defina\n"+
				"SUPABASE_JWT_SECRET (segredo legado HS256).")
	case n == 0 && d.p.JWTSecretSet:
		d.r.add(CheckJWKS, OK, "o projeto ainda não publica chaves assimétricas; SUPABASE_JWT_SECRET (HS256) será usado", "")
	case n == 0:
		d.r.add(CheckJWKS, Fail, "o projeto não publica chaves assimétricas e SUPABASE_JWT_SECRET não está definida",
			"Migre para JWT Signing Keys (Project Settings → JWT Keys) ou defina SUPABASE_JWT_SECRET.")
	default:
		d.r.add(CheckJWKS, OK, fmt.Sprintf("%d chave(s) publicada(s) em %s", n, url), "")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func humanBytes(n int64) string {
	switch {
	case n < 0:
		return "0 B"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// errText is the error without the connection string (pgconn errors name
// host, user and database, never the password).
func errText(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message + " (" + pgErr.Code + ")"
	}
	return err.Error()
}
