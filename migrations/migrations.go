// Package migrations embeds zapbase's SQL migrations and applies them with
// golang-migrate (iofs source, pgx5 driver).
//
// Conventions: files are NNNNNN_name.{up,down}.sql, each wrapped in
// BEGIN/COMMIT so a failure rolls back completely, each starting with a
// comment saying why it exists. Up runs under golang-migrate's advisory lock,
// so several replicas starting together apply each file once.
//
// Dirty versions: golang-migrate marks version N dirty before running file N
// and clean after. Because every file is one transaction, a failure leaves
// nothing of N applied, so Up resets a dirty N to the previous version by
// itself when file N is transactional (BEGIN … COMMIT) and says so; the
// failed run's error is still returned. A dirty version whose file is not
// transactional is never forced automatically: Up stops with the exact
// `zapbase migrate force` command to run.
//
// Version ranges by area, so parallel work does not collide: 1–9 foundation,
// 10–19 delivery pipeline, 20–29 HTTP API, 30–39 Meta, 40–49 WhatsApp Web,
// 50–59 AI agents, 60–69 operations, 80–89 the original spec's shapes
// (agent slugs, default agent sync, enableAI assignment).
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded migration files, for tools that inspect them
// (zapbase doctor reads which public tables they create).
func FS() fs.FS { return files }

// MigrationsTable is where golang-migrate records the applied version. It
// lives in schema wa, away from the API and from Supabase's own history.
const MigrationsTable = "schema_migrations"

// setupLockKey is the advisory lock serialising migration set-up.
const setupLockKey = 72834510001

func newMigrate(databaseURL string) (*migrate.Migrate, func(), error) {
	return newMigrateFS(databaseURL, files)
}

func newMigrateFS(databaseURL string, fsys fs.FS) (*migrate.Migrate, func(), error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	ctx := context.Background()
	// Several replicas may start at once: creating the schema and the
	// version table races, so serialise set-up on an advisory lock held on
	// its own connection (the driver keeps another one, on which
	// golang-migrate takes its own lock while migrating).
	lockConn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connect for migrations: %w", err)
	}
	if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, setupLockKey); err != nil {
		lockConn.Close()
		db.Close()
		return nil, nil, fmt.Errorf("lock migration set-up: %w", err)
	}
	release := func() {
		_, _ = lockConn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, setupLockKey)
		lockConn.Close()
	}
	if _, err := lockConn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS wa`); err != nil {
		release()
		db.Close()
		return nil, nil, fmt.Errorf("create schema wa: %w", err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{MigrationsTable: MigrationsTable, SchemaName: "wa"})
	release()
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migration driver: %w", err)
	}
	src, err := iofs.New(fsys, ".")
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migration source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return m, func() { m.Close() }, nil
}

// Up applies every pending migration. Already current is not an error.
func Up(databaseURL string) error {
	_, err := UpReport(databaseURL)
	return err
}

// Report tells what Up did besides applying files.
type Report struct {
	// Recovered is set when a dirty version left by an earlier failed run
	// was reset before migrating; Notice says so in pt-BR.
	Recovered *Recovery
}

// Recovery is a dirty version reset to the previous one.
type Recovery struct {
	DirtyVersion uint
	// Version is the version the database was reset to (0: none).
	Version uint
	Notice  string
}

// UpReport is Up that also reports a recovered dirty version, so callers can
// log it.
func UpReport(databaseURL string) (Report, error) { return upFS(databaseURL, files) }

// upLockKey serialises whole Up runs (dirty recovery included) across
// processes. Without it, a replica starting while another is migrating saw
// the dirty flag of the migration in progress, took it for a crashed run and
// reset it, then applied the same file again.
const upLockKey = 72834510002

func upFS(databaseURL string, fsys fs.FS) (Report, error) {
	unlock, err := lockUp(databaseURL)
	if err != nil {
		return Report{}, err
	}
	defer unlock()
	return upLocked(databaseURL, fsys)
}

// lockUp holds the Up advisory lock on a connection of its own until the
// returned function runs (the lock also ends with the connection).
func lockUp(databaseURL string) (func(), error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect for migrations: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, upLockKey); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, upLockKey)
		conn.Close()
		db.Close()
	}, nil
}

func upLocked(databaseURL string, fsys fs.FS) (Report, error) {
	var rep Report
	rec, err := recoverDirty(databaseURL, fsys)
	if err != nil {
		return rep, err
	}
	rep.Recovered = rec
	m, closeFn, err := newMigrateFS(databaseURL, fsys)
	if err != nil {
		return rep, err
	}
	upErr := m.Up()
	// Close before looking at the outcome: the failed file's transaction is
	// rolled back when its connection goes away.
	closeFn()
	if upErr == nil || errors.Is(upErr, migrate.ErrNoChange) {
		return rep, nil
	}
	rec, err = recoverDirty(databaseURL, fsys)
	if err != nil {
		return rep, fmt.Errorf("apply migrations: %w; %w", upErr, err)
	}
	if rec == nil {
		return rep, fmt.Errorf("apply migrations: %w", upErr)
	}
	return rep, &FailedError{Version: rec.DirtyVersion, Previous: rec.Version, Err: upErr}
}

// FailedError is a migration that failed and was rolled back; the database
// is clean at Previous.
type FailedError struct {
	Version, Previous uint
	Err               error
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("a migração %d falhou e foi desfeita por inteiro (cada migração roda numa transação): o banco continua na versão %d, "+
		"sem a marca \"dirty\". Corrija a causa e rode zapbase migrate de novo (o zapbase serve também aplica ao iniciar). "+
		"Se a migração %d já estava aplicada por completo (queda entre o COMMIT e o registro da versão), marque-a com: zapbase migrate force %d. Causa: %v",
		e.Version, e.Previous, e.Version, e.Version, e.Err)
}

func (e *FailedError) Unwrap() error { return e.Err }

// recoverDirty resets a dirty version to the previous one when the dirty
// version's file is transactional, so nothing of it can have been applied.
// It returns nil when the database is not dirty.
func recoverDirty(databaseURL string, fsys fs.FS) (*Recovery, error) {
	m, closeFn, err := newMigrateFS(databaseURL, fsys)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	v, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) || (err == nil && !dirty) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read migration version: %w", err)
	}
	prev, hasPrev, err := previousVersion(fsys, v)
	if err != nil {
		return nil, err
	}
	if ok, _ := transactional(fsys, v); !ok {
		return nil, &DirtyError{Version: v, Previous: prev}
	}
	target := int(prev)
	if !hasPrev {
		target = -1 // golang-migrate's "no version"
	}
	if err := m.Force(target); err != nil {
		return nil, fmt.Errorf("reset dirty migration %d: %w", v, err)
	}
	return &Recovery{DirtyVersion: v, Version: prev, Notice: fmt.Sprintf(
		"a migração %d tinha falhado numa execução anterior e foi desfeita pela própria transação; "+
			"a marca \"dirty\" foi removida e o banco voltou à versão %d. A migração %d será aplicada de novo agora.", v, prev, v)}, nil
}

// DirtyError is a dirty version zapbase cannot reset by itself.
type DirtyError struct{ Version, Previous uint }

func (e *DirtyError) Error() string {
	return fmt.Sprintf("o banco está marcado como \"dirty\" na versão %d: essa migração não terminou e não roda numa transação, "+
		"então pode ter sido aplicada em parte. Verifique o banco (veja o arquivo %06d_*.up.sql) e rode: "+
		"zapbase migrate force %d  (se nada dela ficou aplicado) ou zapbase migrate force %d  (se ela foi aplicada por completo); "+
		"depois, zapbase migrate.", e.Version, e.Version, e.Previous, e.Version)
}

// Force marks the database as migrated to version (0: none), clean, without
// running anything: the operator's way out of a dirty version.
func Force(databaseURL string, version uint) error {
	if version != 0 {
		if _, err := migrationFile(files, version, "up"); err != nil {
			return fmt.Errorf("versão %d não existe neste binário", version)
		}
	}
	m, closeFn, err := newMigrate(databaseURL)
	if err != nil {
		return err
	}
	defer closeFn()
	target := int(version)
	if version == 0 {
		target = -1
	}
	if err := m.Force(target); err != nil {
		return fmt.Errorf("force version %d: %w", version, err)
	}
	return nil
}

// previousVersion is the embedded version before v (ok false: v is first).
func previousVersion(fsys fs.FS, v uint) (uint, bool, error) {
	src, err := iofs.New(fsys, ".")
	if err != nil {
		return 0, false, err
	}
	defer src.Close()
	prev, err := src.Prev(v)
	if err != nil {
		return 0, false, nil
	}
	return prev, true, nil
}

func migrationFile(fsys fs.FS, v uint, dir string) ([]byte, error) {
	matches, err := fs.Glob(fsys, fmt.Sprintf("%06d_*.%s.sql", v, dir))
	if err != nil || len(matches) != 1 {
		return nil, fmt.Errorf("migration %d %s: not found", v, dir)
	}
	return fs.ReadFile(fsys, matches[0])
}

// transactional reports whether version v's up file is one transaction:
// its first statement (after comments) is BEGIN and its last COMMIT.
func transactional(fsys fs.FS, v uint) (bool, error) {
	b, err := migrationFile(fsys, v, "up")
	if err != nil {
		return false, err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "--") {
			continue
		}
		lines = append(lines, strings.ToUpper(l))
	}
	return len(lines) >= 2 && lines[0] == "BEGIN;" && lines[len(lines)-1] == "COMMIT;", nil
}

// Down reverts every migration.
func Down(databaseURL string) error {
	m, closeFn, err := newMigrate(databaseURL)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("revert migrations: %w", err)
	}
	return nil
}

// Latest returns the highest version embedded in this binary.
func Latest() (uint, error) {
	src, err := iofs.New(files, ".")
	if err != nil {
		return 0, err
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil
		}
		v = next
	}
}

// Status is the database's migration state.
type Status struct {
	Version uint
	Dirty   bool
	Latest  uint
}

// Current reports whether the database is fully migrated.
func (s Status) Current() bool { return !s.Dirty && s.Version == s.Latest }

// StatusQuery reads the applied version from the migrations table; callers
// pass a function that runs one query (so readiness checks can use a pool).
const StatusQuery = `SELECT version, dirty FROM wa.schema_migrations LIMIT 1`
