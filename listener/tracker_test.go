package listener

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func commitTx(t *tracker, end LSN, ids ...string) {
	t.begin()
	for _, id := range ids {
		t.insert(id)
	}
	t.commit(end)
}

func TestTrackerAcksOnlyHandledTransactions(t *testing.T) {
	tr := newTracker(100)
	commitTx(tr, 110, "a")
	commitTx(tr, 120, "b", "c")
	tr.keepalive(200) // the server is further ahead: not safe while rows wait
	require.Equal(t, LSN(100), tr.safe)

	b := tr.next(10)
	require.Equal(t, []string{"a", "b", "c"}, b.ids)
	require.Nil(t, tr.next(10), "one batch in flight at a time")
	commitTx(tr, 130, "d") // arrives while the batch is in flight
	tr.keepalive(210)
	require.Equal(t, LSN(100), tr.safe)

	tr.done()
	require.Equal(t, LSN(120), tr.safe, "ack stops before the unhandled transaction")
	b = tr.next(10)
	require.Equal(t, []string{"d"}, b.ids)
	tr.done()
	require.Equal(t, LSN(210), tr.safe, "idle: advance to the keepalive's WAL end")
}

func TestTrackerSplitsLargeTransactions(t *testing.T) {
	tr := newTracker(0)
	commitTx(tr, 50, "a", "b", "c", "d", "e")
	commitTx(tr, 60, "f")
	b := tr.next(2)
	require.Equal(t, []string{"a", "b"}, b.ids)
	tr.done()
	require.Equal(t, LSN(0), tr.safe, "part of a transaction is not an ack")
	require.Equal(t, []string{"c", "d"}, tr.next(2).ids)
	tr.done()
	require.Equal(t, LSN(0), tr.safe)
	b = tr.next(2)
	require.Equal(t, []string{"e", "f"}, b.ids)
	require.Equal(t, LSN(60), b.ack)
	tr.done()
	require.Equal(t, LSN(60), tr.safe)
}

func TestTrackerTransactionsWithoutRows(t *testing.T) {
	tr := newTracker(10)
	commitTx(tr, 20) // idle: acked at once
	require.Equal(t, LSN(20), tr.safe)

	commitTx(tr, 30, "a")
	tr.next(10)
	commitTx(tr, 40) // behind the in-flight batch
	require.Equal(t, LSN(20), tr.safe)
	tr.done()
	require.Equal(t, LSN(40), tr.safe)

	commitTx(tr, 50, "b")
	commitTx(tr, 60) // merged into the pending transaction before it
	require.Equal(t, 1, len(tr.pending))
	tr.next(10)
	tr.done()
	require.Equal(t, LSN(60), tr.safe)
}

func TestTrackerKeepaliveDuringTransaction(t *testing.T) {
	tr := newTracker(0)
	tr.begin()
	tr.insert("a")
	tr.keepalive(500) // mid-transaction: never skip past it
	require.Equal(t, LSN(0), tr.safe)
	tr.commit(400)
	tr.next(10)
	tr.done()
	require.Equal(t, LSN(500), tr.safe)
	tr.keepalive(450) // keepalives never move the ack backwards
	require.Equal(t, LSN(500), tr.safe)
}

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{
			DatabaseURL: "postgres://u@localhost/db",
			Handler:     HandlerFunc(func(context.Context, []string) error { return nil }),
		}
	}
	cfg := ok()
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultSlotName, cfg.SlotName)
	require.Equal(t, DefaultPublication, cfg.Publication)
	require.Equal(t, DefaultStatusInterval, cfg.StatusInterval)
	require.Equal(t, DefaultMaxBatch, cfg.MaxBatch)
	require.NotNil(t, cfg.Logger)

	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no url", func(c *Config) { c.DatabaseURL = "" }},
		{"bad url", func(c *Config) { c.DatabaseURL = "postgres://%zz" }},
		{"no handler", func(c *Config) { c.Handler = nil }},
		{"realtime slot", func(c *Config) { c.SlotName = "zapbase_realtime" }},
		{"upper-case slot", func(c *Config) { c.SlotName = "Zapbase" }},
		{"quote in publication", func(c *Config) { c.Publication = "a'b" }},
		{"status interval too long", func(c *Config) { c.StatusInterval = MaxStatusInterval + 1 }},
		{"negative batch", func(c *Config) { c.MaxBatch = -1 }},
		{"pending below batch", func(c *Config) { c.MaxBatch = 10; c.MaxPending = 5 }},
		{"backoff inverted", func(c *Config) { c.ReconnectMin = time.Minute; c.ReconnectMax = time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mod(&c)
			require.Error(t, c.Validate())
		})
	}
}

func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		err  error
		want bool
	}{
		"admin shutdown":     {fmt.Errorf("claim: %w", &pgconn.PgError{Code: "57P01"}), true},
		"cannot connect now": {&pgconn.PgError{Code: "57P03"}, true},
		"connection failure": {&pgconn.PgError{Code: "08006"}, true},
		"refused":            {fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		"unexpected eof":     {fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		"unique violation":   {&pgconn.PgError{Code: "23505"}, false},
		"logic error":        {errors.New("handler bug"), false},
	}
	for name, c := range cases {
		if got := databaseUnavailable(c.err); got != c.want {
			t.Errorf("%s: databaseUnavailable = %v, want %v", name, got, c.want)
		}
	}
}
