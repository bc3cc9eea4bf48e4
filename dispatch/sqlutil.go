package dispatch

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// isConnErr reports whether err looks like the database being unreachable
// (worth retrying the same statement) rather than the statement failing.
func isConnErr(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection exception), 57P01..03 (admin shutdown, crash
		// shutdown, cannot connect now).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	return !errors.Is(err, context.Canceled)
}
