package dispatch

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// isConnErr reports whether err is the database being unreachable (worth
// retrying the same statement later) rather than the statement failing:
// connection-exception and shutdown SQLSTATEs, a failed connect, a network
// error or a connection cut mid-reply. Anything else — a statement the
// server refused, a value pgx could not encode — is not, and a batch that
// hit it is split so one bad row cannot hold the others.
func isConnErr(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection exception), 57P01..03 (admin shutdown, crash
		// shutdown, cannot connect now).
		return pgerrcode.IsConnectionException(pgErr.Code) || strings.HasPrefix(pgErr.Code, "57P")
	}
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}

// isTxConflict reports a deadlock or serialization failure: the statement
// did nothing and may simply run again.
func isTxConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.DeadlockDetected || pgErr.Code == pgerrcode.SerializationFailure)
}
