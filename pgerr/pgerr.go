// Package pgerr classifies PostgreSQL errors by SQLSTATE
// (github.com/jackc/pgerrcode), once, for every package that talks to the
// database: no hand-written "23505" anywhere else.
package pgerr

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// Code is the SQLSTATE of the first *pgconn.PgError in err's chain ("" when
// there is none: the statement never reached the server, or failed in Go).
func Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Constraint is the constraint named by a constraint violation ("" when
// none).
func Constraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
}

// IsUniqueViolation: a unique or primary key constraint refused the row
// (23505).
func IsUniqueViolation(err error) bool { return Code(err) == pgerrcode.UniqueViolation }

// IsForeignKeyViolation: a foreign key refused the row (23503).
func IsForeignKeyViolation(err error) bool { return Code(err) == pgerrcode.ForeignKeyViolation }

// IsCheckViolation: a CHECK constraint refused the row (23514).
func IsCheckViolation(err error) bool { return Code(err) == pgerrcode.CheckViolation }

// IsInvalidText: a value could not be parsed as its type, e.g. a malformed
// uuid (22P02).
func IsInvalidText(err error) bool { return Code(err) == pgerrcode.InvalidTextRepresentation }

// IsStringTooLong: a value exceeds its column's length (22001).
func IsStringTooLong(err error) bool {
	return Code(err) == pgerrcode.StringDataRightTruncationDataException
}

// IsServerShutdown: the server is going away or not accepting connections
// yet (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
// now).
func IsServerShutdown(err error) bool {
	switch Code(err) {
	case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow:
		return true
	}
	return false
}

// IsConnLost reports whether err means the database could not be reached
// or the connection broke (so the same statement is worth retrying on
// another connection), as opposed to the statement itself failing. It is
// true for SQLSTATE class 08 and 57P01..03, connect errors, closed
// connections, network errors and unexpected EOFs; false for every other
// server error, for errors raised in Go (encoding, scanning) and for a
// cancelled context.
func IsConnLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if code := Code(err); code != "" {
		return pgerrcode.IsConnectionException(code) || IsServerShutdown(err)
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var netErr net.Error
	return errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		pgconn.SafeToRetry(err)
}
