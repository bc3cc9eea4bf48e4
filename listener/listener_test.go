package listener_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/listener"
	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/startstop/startstoptest"
	"github.com/zapbase/zapbase/supabase/devdb"
)

func TestPermanentSlotSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	rec := newRecorder()
	var resyncs atomic.Int32
	cfg := testConfig(t, db.url, rec)
	cfg.OnResyncFunc = func(context.Context) { resyncs.Add(1) }

	l1, err := listener.New(cfg)
	require.NoError(t, err)
	require.NoError(t, l1.Start(context.Background()))
	waitRole(t, l1, listener.RoleLeader)
	require.EqualValues(t, 1, resyncs.Load(), "a new slot is followed by a resync")

	a := db.insert(t)
	rec.waitFor(t, a)
	l1.Stop()
	l1.Stop() // idempotent
	require.Equal(t, listener.RoleStopped, l1.Status().Role)
	require.True(t, db.slotExists(t, cfg.SlotName), "the slot is permanent")

	// Rows committed while nobody listens are delivered after the restart.
	b := db.insert(t)
	c := db.insert(t)
	l2 := startListener(t, cfg)
	rec.waitFor(t, b, c)
	require.Equal(t, listener.RoleLeader, l2.Status().Role)
	require.EqualValues(t, 1, resyncs.Load(), "an existing slot needs no resync")
}

func TestBatchesSeveralTransactions(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	release := make(chan struct{})
	rec := newRecorder()
	first := true
	rec.block = func(ctx context.Context, ids []string) error {
		if first { // hold the first batch so the next rows pile up
			first = false
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	cfg := testConfig(t, db.url, rec)
	cfg.MaxBatch = 4
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)

	head := db.insert(t)
	var rest []string
	for range 10 {
		rest = append(rest, db.insert(t))
	}
	// Every row reached the listener (its status saw WAL past them) while the
	// handler is still held on the first batch.
	end := db.currentLSN(t)
	db.touchOtherTable(t)
	eventually(t, "stream past the inserts", func() bool { return l.Status().ServerWALEnd >= end })
	close(release)
	rec.waitFor(t, append(rest, head)...)
	rec.mu.Lock()
	calls, largest := rec.calls, rec.largest
	rec.mu.Unlock()
	// 11 single-row transactions, at most 4 ids per call: the 10 that piled
	// up behind the held batch take 3 calls, whatever the first one held.
	require.LessOrEqual(t, calls, 4, "transactions that arrived together are batched")
	require.Equal(t, 4, largest, "batches fill up to MaxBatch")
}

func TestAckNeverPassesUnhandledRows(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	var held atomic.Value // id whose batch blocks
	held.Store("")
	blocked := make(chan struct{}, 1)
	release := make(chan struct{})
	rec := newRecorder()
	rec.block = func(ctx context.Context, ids []string) error {
		for _, id := range ids {
			if id == held.Load().(string) {
				select {
				case blocked <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
	cfg := testConfig(t, db.url, rec)
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)

	a := db.insert(t)
	rec.waitFor(t, a)

	// A second slot on the same publication tells us B's exact commit end.
	aux := randomName("zbaux_")
	_, err := db.pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, aux)
	require.NoError(t, err)

	// Insert B in a transaction whose id we know before it commits.
	tx, err := db.pool.Begin(ctx)
	require.NoError(t, err)
	var b string
	require.NoError(t, tx.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&b))
	held.Store(b)
	_, err = tx.Exec(ctx, `INSERT INTO public.messages (id, tenant_id, to_number) VALUES ($1, $2, '5511999990000')`, b, db.tenant)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	<-blocked
	c := db.insert(t) // queued behind B

	bEnd := commitEndOf(t, db, aux, cfg.Publication, b)

	// Let the listener see WAL well past B (other tables written) and send
	// a couple of status updates while B is held.
	db.touchOtherTable(t)
	past := db.currentLSN(t)
	db.touchOtherTable(t)
	eventually(t, "keepalive past B", func() bool { return l.Status().ServerWALEnd >= past })
	sent := l.Status().StatusUpdates
	eventually(t, "two more status updates", func() bool { return l.Status().StatusUpdates >= sent+2 })

	require.Less(t, db.confirmedFlush(t, cfg.SlotName), bEnd, "confirmed_flush_lsn must stay before B's commit end")
	require.Less(t, l.Status().AckedLSN, bEnd)
	require.False(t, rec.has(c), "C waits behind B")

	close(release)
	rec.waitFor(t, b, c)
	eventually(t, "ack past B", func() bool { return db.confirmedFlush(t, cfg.SlotName) >= bEnd })
}

// commitEndOf peeks the aux slot and returns the end LSN of the transaction
// that inserted id.
func commitEndOf(t *testing.T, db *testDB, slot, publication, id string) listener.LSN {
	t.Helper()
	rows, err := db.pool.Query(context.Background(),
		`SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
		   'proto_version', '1', 'publication_names', $2)`, slot, publication)
	require.NoError(t, err)
	datas, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	rels := map[uint32]int{}
	found := false
	for _, d := range datas {
		msg, err := pglogrepl.Parse(d)
		require.NoError(t, err)
		switch m := msg.(type) {
		case *pglogrepl.RelationMessage:
			for i, c := range m.Columns {
				if c.Name == "id" {
					rels[m.RelationID] = i
				}
			}
		case *pglogrepl.InsertMessage:
			if string(m.Tuple.Columns[rels[m.RelationID]].Data) == id {
				found = true
			}
		case *pglogrepl.CommitMessage:
			if found {
				return listener.LSN(m.TransactionEndLSN)
			}
		}
	}
	t.Fatalf("commit of %s not found in slot %s", id, slot)
	return 0
}

func TestIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	cfg := testConfig(t, db.url, newRecorder())
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)

	start := db.confirmedFlush(t, cfg.SlotName)
	for range 5 {
		db.touchOtherTable(t)
	}
	target := db.currentLSN(t)
	require.Greater(t, target, start)
	db.touchOtherTable(t)
	eventually(t, "idle slot to advance", func() bool { return db.confirmedFlush(t, cfg.SlotName) >= target })
}

func TestDroppedSlotIsRecreated(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	rec := newRecorder()
	var resyncs atomic.Int32
	cfg := testConfig(t, db.url, rec)
	cfg.ReconnectMin = 200 * time.Millisecond
	cfg.OnResyncFunc = func(ctx context.Context) {
		// What dispatch does: scan the table and handle what it finds.
		rows, err := db.pool.Query(ctx, `SELECT id::text FROM public.messages WHERE status = 'pending'`)
		if err == nil {
			if ids, err := pgx.CollectRows(rows, pgx.RowTo[string]); err == nil && len(ids) > 0 {
				_ = rec.HandleInserts(ctx, ids)
			}
		}
		resyncs.Add(1)
	}
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)
	a := db.insert(t)
	rec.waitFor(t, a)

	// Kill the walsender and drop the slot (retry: the listener reconnects).
	eventually(t, "slot dropped", func() bool {
		_, _ = db.pool.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
			WHERE slot_name = $1 AND active_pid IS NOT NULL`, cfg.SlotName)
		_, err := db.pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, cfg.SlotName)
		return err == nil
	})
	b := db.insert(t) // possibly before the slot exists again
	eventually(t, "resync after recreation", func() bool { return resyncs.Load() >= 2 })
	rec.waitFor(t, b)
	require.True(t, db.slotExists(t, cfg.SlotName))
	waitRole(t, l, listener.RoleLeader)

	c := db.insert(t)
	rec.waitFor(t, c)
}

func TestStandbyTakesOver(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	rec1, rec2 := newRecorder(), newRecorder()
	cfg1 := testConfig(t, db.url, rec1)
	cfg2 := cfg1
	cfg2.Handler = rec2

	l1, err := listener.New(cfg1)
	require.NoError(t, err)
	require.NoError(t, l1.Start(context.Background()))
	t.Cleanup(l1.Stop)
	waitRole(t, l1, listener.RoleLeader)
	l2 := startListener(t, cfg2)
	waitRole(t, l2, listener.RoleStandby)

	a := db.insert(t)
	rec1.waitFor(t, a)
	require.Equal(t, listener.RoleStandby, l2.Status().Role)

	l1.Stop()
	waitRole(t, l2, listener.RoleLeader)
	b := db.insert(t)
	rec2.waitFor(t, b)
	require.False(t, rec1.has(b))
}

func TestHandlerErrorIsRetried(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	rec := newRecorder()
	var failures atomic.Int32
	rec.block = func(ctx context.Context, ids []string) error {
		if failures.Add(1) <= 2 {
			return errors.New("dispatcher unavailable")
		}
		return nil
	}
	cfg := testConfig(t, db.url, rec)
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)
	a := db.insert(t)
	rec.waitFor(t, a)
	require.GreaterOrEqual(t, failures.Load(), int32(3))
	require.Equal(t, listener.RoleLeader, l.Status().Role, "a failing handler does not drop the stream")
}

// privateServer starts a PostgreSQL of the test's own (restarting or
// reconfiguring the shared one would break parallel tests) with one migrated
// database.
func privateServer(t *testing.T, extra map[string]string) (*devdb.Server, string) {
	t.Helper()
	ctx := context.Background()
	srv, err := devdb.Start(ctx, devdb.Options{DataDir: t.TempDir() + "/pgdata", Fast: true, ExtraSettings: extra})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	admin, err := pgx.Connect(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `CREATE DATABASE listener_private`)
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	url := srv.URL("listener_private")
	require.NoError(t, devdb.ApplyCompat(ctx, url))
	require.NoError(t, migrations.Up(url))
	return srv, url
}

func TestPostgresRestartMidStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url := privateServer(t, nil)
	db := openTestDB(t, url)
	rec := newRecorder()
	cfg := testConfig(t, url, rec)
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)

	var before []string
	for range 5 {
		before = append(before, db.insert(t))
	}
	srv2, err := srv.Restart(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv2.Stop() })
	db.pool.Reset() // drop connections to the old process

	eventually(t, "reconnect after restart", func() bool {
		s := l.Status()
		return s.Role == listener.RoleLeader && s.LastError != ""
	})
	after := db.insert(t)
	rec.waitFor(t, append(before, after)...)
	l.Stop() // before the server's cleanup
}

func TestLostSlotIsRecreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A tiny max_slot_wal_keep_size lets a checkpoint invalidate the slot.
	_, url := privateServer(t, map[string]string{"max_slot_wal_keep_size": "1MB", "wal_keep_size": "0"})
	db := openTestDB(t, url)
	rec := newRecorder()
	var resyncs atomic.Int32
	cfg := testConfig(t, url, rec)
	cfg.OnResyncFunc = func(ctx context.Context) {
		rows, err := db.pool.Query(ctx, `SELECT id::text FROM public.messages WHERE status = 'pending'`)
		if err == nil {
			if ids, err := pgx.CollectRows(rows, pgx.RowTo[string]); err == nil && len(ids) > 0 {
				_ = rec.HandleInserts(ctx, ids)
			}
		}
		resyncs.Add(1)
	}
	l1, err := listener.New(cfg)
	require.NoError(t, err)
	require.NoError(t, l1.Start(ctx))
	waitRole(t, l1, listener.RoleLeader)
	l1.Stop()
	require.EqualValues(t, 1, resyncs.Load())

	// While nobody listens: rows, then enough WAL and a checkpoint to
	// invalidate the slot.
	a := db.insert(t)
	eventually(t, "slot lost", func() bool {
		db.touchOtherTable(t)
		_, err := db.pool.Exec(ctx, `SELECT pg_switch_wal()`)
		require.NoError(t, err)
		_, err = db.pool.Exec(ctx, `CHECKPOINT`)
		require.NoError(t, err)
		var status string
		require.NoError(t, db.pool.QueryRow(ctx,
			`SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1`, cfg.SlotName).Scan(&status))
		return status == "lost"
	})

	l2 := startListener(t, cfg)
	waitRole(t, l2, listener.RoleLeader)
	require.EqualValues(t, 2, resyncs.Load(), "a recreated slot is followed by a resync")
	rec.waitFor(t, a)
	require.Equal(t, "reserved", l2.Status().WALStatus)
	b := db.insert(t)
	rec.waitFor(t, b)
	l2.Stop()
}

func TestStartRefusesUnknownDatabase(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	cfg := testConfig(t, db.url, newRecorder())
	cfg.DatabaseURL = replaceDB(t, db.url, "no_such_database_zb")
	l, err := listener.New(cfg)
	require.NoError(t, err)
	require.Error(t, l.Start(context.Background()))
	require.Equal(t, listener.RoleStopped, l.Status().Role)
	l.Stop() // harmless when not running
}

func TestEnsurePublication(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	name := randomName("zbpub_")
	require.NoError(t, listener.EnsurePublication(ctx, db.pool, name))
	require.NoError(t, listener.EnsurePublication(ctx, db.pool, name), "idempotent")

	// Someone widened it: it is narrowed back to inserts.
	_, err := db.pool.Exec(ctx, `ALTER PUBLICATION `+name+` SET (publish = 'insert, update, delete')`)
	require.NoError(t, err)
	require.NoError(t, listener.EnsurePublication(ctx, db.pool, name))
	var ins, upd, del, trunc bool
	var tables int
	require.NoError(t, db.pool.QueryRow(ctx, `SELECT pubinsert, pubupdate, pubdelete, pubtruncate,
		(SELECT count(*) FROM pg_publication_tables t WHERE t.pubname = p.pubname AND schemaname = 'public' AND tablename = 'messages')
		FROM pg_publication p WHERE pubname = $1`, name).Scan(&ins, &upd, &del, &trunc, &tables))
	require.Equal(t, []bool{true, false, false, false}, []bool{ins, upd, del, trunc})
	require.Equal(t, 1, tables)

	// Only the id column is streamed (the listener reads nothing else); a
	// publication widened to whole rows (an older zapbase, a hand edit) is
	// narrowed back.
	attnames := func() []string {
		var a []string
		require.NoError(t, db.pool.QueryRow(ctx, `SELECT attnames FROM pg_publication_tables
			WHERE pubname = $1 AND schemaname = 'public' AND tablename = 'messages'`, name).Scan(&a))
		return a
	}
	require.Equal(t, []string{"id"}, attnames())
	_, err = db.pool.Exec(ctx, `ALTER PUBLICATION `+name+` SET TABLE public.messages`)
	require.NoError(t, err)
	require.Greater(t, len(attnames()), 1)
	require.NoError(t, listener.EnsurePublication(ctx, db.pool, name))
	require.Equal(t, []string{"id"}, attnames())

	require.Error(t, listener.EnsurePublication(ctx, db.pool, `bad"name`))
}

func TestRepliesToServerWhileHandlerBlocks(t *testing.T) {
	t.Parallel()
	// wal_sender_timeout = 1s and a 10 s status period: only answering the
	// server's reply requests keeps the session alive.
	_, url := privateServer(t, map[string]string{"wal_sender_timeout": "1s"})
	db := openTestDB(t, url)
	blocked := make(chan struct{})
	release := make(chan struct{})
	rec := newRecorder()
	rec.block = func(ctx context.Context, ids []string) error {
		close(blocked)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cfg := testConfig(t, url, rec)
	cfg.StatusInterval = 10 * time.Second
	l := startListener(t, cfg)
	waitRole(t, l, listener.RoleLeader)

	a := db.insert(t)
	<-blocked
	sent := l.Status().StatusUpdates
	eventually(t, "status updates answering reply requests", func() bool { return l.Status().StatusUpdates >= sent+6 })
	close(release)
	rec.waitFor(t, a)
	s := l.Status()
	require.Equal(t, listener.RoleLeader, s.Role)
	require.Empty(t, s.LastError, "the session never dropped")
	l.Stop()
}

// TestStartStopStress starts and stops one listener from many goroutines
// under the race detector; it ends stopped, and a later start still streams.
func TestStartStopStress(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	rec := newRecorder()
	l, err := listener.New(testConfig(t, db.url, rec))
	require.NoError(t, err)
	startstoptest.Stress(context.Background(), t, l)
	require.Equal(t, listener.RoleStopped, l.Status().Role)

	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(l.Stop)
	waitRole(t, l, listener.RoleLeader)
	id := db.insert(t)
	rec.waitFor(t, id)
}
