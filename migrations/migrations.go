// Package migrations embeds zapbase's SQL migrations and applies them with
// golang-migrate (iofs source, pgx5 driver).
//
// Conventions: files are NNNNNN_name.{up,down}.sql, each wrapped in
// BEGIN/COMMIT so a failure rolls back completely, each starting with a
// comment saying why it exists. Up runs under golang-migrate's advisory lock,
// so several replicas starting together apply each file once. A dirty version
// is never forced automatically: it stops start-up with a message.
//
// Version ranges by area, so parallel work does not collide: 1–9 foundation,
// 10–19 delivery pipeline, 20–29 HTTP API, 30–39 Meta, 40–49 WhatsApp Web,
// 50–59 AI agents, 60–69 operations.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

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
	src, err := iofs.New(files, ".")
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
	m, closeFn, err := newMigrate(databaseURL)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
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
