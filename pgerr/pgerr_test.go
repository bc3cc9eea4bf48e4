package pgerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/pgerr"
)

func pg(code string) error {
	return fmt.Errorf("insert row: %w", &pgconn.PgError{Code: code, ConstraintName: "messages_pkey"})
}

func TestClassification(t *testing.T) {
	require.True(t, pgerr.IsUniqueViolation(pg("23505")))
	require.False(t, pgerr.IsUniqueViolation(pg("23503")))
	require.True(t, pgerr.IsForeignKeyViolation(pg("23503")))
	require.True(t, pgerr.IsCheckViolation(pg("23514")))
	require.True(t, pgerr.IsInvalidText(pg("22P02")))
	require.True(t, pgerr.IsStringTooLong(pg("22001")))
	require.Equal(t, "23505", pgerr.Code(pg("23505")))
	require.Equal(t, "messages_pkey", pgerr.Constraint(pg("23505")))
	require.Empty(t, pgerr.Code(errors.New("plain")))
	require.False(t, pgerr.IsUniqueViolation(nil))
}

func TestIsConnLost(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection exception 08006", pg("08006"), true},
		{"admin shutdown", pg("57P01"), true},
		{"cannot connect now", pg("57P03"), true},
		{"query canceled 57014 is the statement's", pg("57014"), false},
		{"unique violation", pg("23505"), false},
		{"syntax error", pg("42601"), false},
		{"closed connection", fmt.Errorf("exec: %w", pgconn.ErrConnClosed), true},
		{"network error", &net.OpError{Op: "read", Err: errors.New("connection reset")}, true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"context canceled", fmt.Errorf("exec: %w", context.Canceled), false},
		{"an error raised in Go (encoding)", errors.New("cannot encode []string into text"), false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, pgerr.IsConnLost(c.err), c.name)
	}
}
