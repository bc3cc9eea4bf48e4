package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is what a query runs on: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Store holds one query type per table, all running on the same DB.
type Store struct {
	db   DB
	pool *pgxpool.Pool // nil when bound to a transaction
}

// New returns a Store over pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{db: pool, pool: pool}
}

// On returns a Store whose queries run on db (a transaction the caller
// owns, or a dedicated connection).
func On(db DB) *Store { return &Store{db: db} }

// DB returns what the store's queries run on. For packages outside the
// data layer it exists only for tests and tooling; production code calls
// query methods.
func (s *Store) DB() DB { return s.db }

// InTx runs fn with a Store bound to one transaction, committed when fn
// returns nil and rolled back otherwise. On a Store already bound to a
// transaction it runs fn in a savepoint.
func (s *Store) InTx(ctx context.Context, fn func(*Store) error) error {
	return s.inTx(ctx, pgx.TxOptions{}, fn)
}

func (s *Store) inTx(ctx context.Context, opts pgx.TxOptions, fn func(*Store) error) error {
	var (
		tx  pgx.Tx
		err error
	)
	switch db := s.db.(type) {
	case *pgxpool.Pool:
		tx, err = db.BeginTx(ctx, opts)
	case interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	}:
		tx, err = db.BeginTx(ctx, opts)
	case interface {
		Begin(context.Context) (pgx.Tx, error)
	}:
		tx, err = db.Begin(ctx)
	default:
		return fmt.Errorf("store: %T cannot begin a transaction", s.db)
	}
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(On(tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
