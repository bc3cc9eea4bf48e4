package listener

// File size: the replication session loop (connect, stream, decode, hand
// off, acknowledge): the LSN contract of doc.go reads top to bottom here;
// decoding state is tracker.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase/backoff"
	"github.com/zapbase/zapbase/pgerr"
	"github.com/zapbase/zapbase/startstop"
)

const (
	connectTimeout  = 15 * time.Second
	closeTimeout    = 5 * time.Second
	applicationName = "zapbase-listener"
	// messagesTable is the only table whose inserts are handed over.
	messagesSchema, messagesTable = "public", "messages"
)

// LSN is a PostgreSQL WAL position.
type LSN uint64

// String formats l as PostgreSQL does (e.g. "16/B374D848").
func (l LSN) String() string { return pglogrepl.LSN(l).String() }

func parseLSN(s string) (LSN, error) {
	v, err := pglogrepl.ParseLSN(s)
	return LSN(v), err
}

// Role is what a listener currently does with the slot.
type Role string

// Roles reported by Status.
const (
	// RoleLeader streams the slot: it is the one process feeding dispatch.
	RoleLeader Role = "leader"
	// RoleStandby waits: another process holds the slot.
	RoleStandby Role = "standby"
	// RoleConnecting is between attempts (start-up, errors, reconnects).
	RoleConnecting Role = "connecting"
	// RoleStopped is before Start and after Stop.
	RoleStopped Role = "stopped"
)

// Status is a snapshot of the listener, for health checks and metrics.
type Status struct {
	Role     Role
	SlotName string
	// AckedLSN is the last position reported to the server as flushed.
	AckedLSN LSN
	// ServerWALEnd is the server's WAL end from the latest message.
	ServerWALEnd LSN
	// LagBytes is ServerWALEnd - AckedLSN (0 when unknown).
	LagBytes int64
	// WALStatus is the slot's wal_status when the session started.
	WALStatus string
	// StatusUpdates counts standby status updates sent.
	StatusUpdates uint64
	// Resyncs counts slot (re)creations followed by OnResyncFunc.
	Resyncs uint64
	// LastError is the error that ended the previous session, if any.
	LastError string
}

// Listener consumes the logical replication stream of public.messages and
// hands inserted row ids to a Handler. See the package documentation.
type Listener struct {
	startstop.BaseStartStop

	cfg    Config
	log    *slog.Logger
	tracer trace.Tracer

	mu     sync.Mutex
	status Status
}

// errSlotBusy means another process streams the slot: stay standby.
var errSlotBusy = errors.New("replication slot is held by another process")

// New validates cfg (applying defaults) and returns a stopped Listener.
func New(cfg Config) (*Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Listener{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "listener", "slot", cfg.SlotName),
		tracer: otel.Tracer("github.com/zapbase/zapbase/listener"),
		status: Status{Role: RoleStopped, SlotName: cfg.SlotName},
	}, nil
}

// Start checks the server (when it answers) and starts streaming in the
// background. It fails when the server refuses the configuration: wrong
// credentials, no REPLICATION attribute, wal_level not logical, or the
// publication cannot be created. An unreachable server is not an error:
// the listener keeps retrying. Cancelling ctx stops the listener as Stop
// does; call Stop to wait for it. Start on a running listener is a no-op.
func (l *Listener) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := l.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if err := l.preflight(ctx); err != nil {
		interrupted := startstop.Interrupted(ctx)
		stopped()
		if interrupted {
			return nil // a concurrent Stop cut Start short
		}
		return err
	}
	l.updateStatus(func(s *Status) { s.Role = RoleConnecting })
	go func() {
		started()
		defer stopped()
		l.run(ctx)
	}()
	return nil
}

// Stop ends streaming and waits for it: the in-flight handler call gets a
// cancelled context, and if it still returns nil its LSN is acknowledged
// in a last status update. Stop is idempotent.
func (l *Listener) Stop() { l.BaseStartStop.Stop() }

// Status returns a snapshot of the listener's state.
func (l *Listener) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

func (l *Listener) updateStatus(f func(*Status)) {
	l.mu.Lock()
	f(&l.status)
	if l.status.ServerWALEnd > l.status.AckedLSN && l.status.AckedLSN > 0 {
		l.status.LagBytes = int64(l.status.ServerWALEnd - l.status.AckedLSN)
	} else {
		l.status.LagBytes = 0
	}
	l.mu.Unlock()
}

// preflight rejects configurations the server refuses. Network errors are
// left to the retry loop.
func (l *Listener) preflight(ctx context.Context) error {
	conn, err := l.connect(ctx)
	if err != nil {
		if refusedAtConnect(pgerr.Code(err)) {
			return fmt.Errorf("listener: connect for replication: %w", err)
		}
		l.log.Warn("database unreachable at start; will keep retrying", "error", err)
		return nil
	}
	defer closeConn(conn)
	level, err := walLevel(ctx, conn)
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("listener: wal_level is %q; logical replication needs wal_level = logical", level)
	}
	if err := ensurePublicationConn(ctx, conn, l.cfg.Publication); err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	return nil
}

// refusedAtConnect reports SQLSTATEs meaning the server will keep refusing.
func refusedAtConnect(code string) bool {
	switch {
	case pgerrcode.IsInvalidAuthorizationSpecification(code):
		return true
	case code == pgerrcode.InsufficientPrivilege, code == pgerrcode.InvalidCatalogName: // no REPLICATION attribute; no such database
		return true
	}
	return false
}

func ensurePublicationConn(ctx context.Context, conn *pgconn.PgConn, name string) error {
	_, err := conn.Exec(ctx, publicationSQL(name)).ReadAll()
	if err != nil && !isDuplicate(err) {
		return fmt.Errorf("ensure publication %s: %w", name, err)
	}
	return nil
}

func (l *Listener) connect(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(l.cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pc.RuntimeParams["replication"] = "database"
	pc.RuntimeParams["application_name"] = applicationName
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	return pgconn.ConnectConfig(cctx, pc)
}

func closeConn(conn *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// run is the reconnect loop: one session per iteration.
func (l *Listener) run(ctx context.Context) {
	defer l.updateStatus(func(s *Status) { s.Role = RoleStopped })
	attempt := 0
	for {
		streamed, err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		var delay time.Duration
		if errors.Is(err, errSlotBusy) {
			attempt = 0
			delay = l.cfg.StandbyRetry/2 + backoff.FullJitter(l.cfg.StandbyRetry/2)
			if l.Status().Role != RoleStandby {
				l.log.Info("slot held by another process; standing by", "retry_every", l.cfg.StandbyRetry)
			}
			l.updateStatus(func(s *Status) { s.Role = RoleStandby; s.LastError = err.Error() })
			l.log.Debug("slot busy; standing by", "delay", delay)
		} else {
			// A session that streamed for a while resets the backoff; one
			// that fails right after starting keeps growing it.
			if streamed >= l.cfg.ReconnectMax {
				attempt = 0
			}
			attempt++
			delay = backoff.Policy{Base: l.cfg.ReconnectMin, Max: l.cfg.ReconnectMax}.Delay(attempt)
			msg := "<nil>"
			if err != nil {
				msg = err.Error()
			}
			l.updateStatus(func(s *Status) { s.Role = RoleConnecting; s.LastError = msg })
			l.log.Warn("replication session ended; reconnecting", "attempt", attempt, "delay", delay, "error", err)
		}
		if !backoff.Sleep(ctx, delay) {
			return
		}
	}
}

// session connects, prepares the publication and the slot, and streams
// until an error or ctx is done. streamed is how long it held the slot.
func (l *Listener) session(ctx context.Context) (streamed time.Duration, err error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer closeConn(conn)

	if err := ensurePublicationConn(ctx, conn, l.cfg.Publication); err != nil {
		return 0, err
	}
	slot := l.cfg.SlotName
	info, db, err := readSlot(ctx, conn, slot)
	if err != nil {
		return 0, err
	}
	if info.exists {
		if info.slotType != "logical" || info.plugin != "pgoutput" || info.database != db {
			return 0, fmt.Errorf("slot %s exists as a %s slot with plugin %q on database %q (this is %q): choose another slot name",
				slot, info.slotType, info.plugin, info.database, db)
		}
		if info.active || info.temporary {
			return 0, errSlotBusy
		}
		if info.walStatus == "unreserved" {
			l.log.Warn("replication slot is about to lose WAL it needs (wal_status = unreserved)")
		}
		if info.walStatus == "lost" {
			l.log.Warn("replication slot lost its WAL; recreating it", "wal_status", info.walStatus)
			err := pglogrepl.DropReplicationSlot(ctx, conn, slot, pglogrepl.DropReplicationSlotOptions{})
			switch pgCode(err) {
			case "", sqlstateUndefinedObject:
			case sqlstateObjectInUse:
				return 0, errSlotBusy
			default:
				return 0, fmt.Errorf("drop lost slot %s: %w", slot, err)
			}
			info.exists = false
		}
	}
	created := false
	if !info.exists {
		res, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
			Mode:           pglogrepl.LogicalReplication,
			SnapshotAction: "NOEXPORT_SNAPSHOT",
		})
		if isDuplicate(err) {
			return 0, errSlotBusy // another process created it just now
		}
		if err != nil {
			return 0, fmt.Errorf("create slot %s: %w", slot, err)
		}
		if info.confirmed, err = parseLSN(res.ConsistentPoint); err != nil {
			return 0, fmt.Errorf("create slot %s: consistent point: %w", slot, err)
		}
		info.walStatus = "reserved"
		created = true
		l.log.Info("created replication slot", "consistent_point", info.confirmed)
	}
	if created {
		// Rows committed while no slot existed are not in the stream:
		// reconcile from the table before streaming.
		l.updateStatus(func(s *Status) { s.Resyncs++ })
		if l.cfg.OnResyncFunc != nil {
			l.cfg.OnResyncFunc(ctx)
		}
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			"proto_version '1'",
			"publication_names '" + l.cfg.Publication + "'",
		},
	})
	if pgCode(err) == sqlstateObjectInUse {
		return 0, errSlotBusy
	}
	if err != nil {
		return 0, fmt.Errorf("start replication on slot %s: %w", slot, err)
	}
	l.updateStatus(func(s *Status) {
		s.Role = RoleLeader
		s.WALStatus = info.walStatus
		s.AckedLSN = max(s.AckedLSN, info.confirmed)
	})
	l.log.Info("streaming replication slot", "start_lsn", info.confirmed, "wal_status", info.walStatus)
	began := time.Now()
	err = l.stream(ctx, conn, info.confirmed)
	return time.Since(began), err
}

// inbound is one message from the reader goroutine.
type inbound struct {
	data []byte
	err  error
}

// reader owns the receiving side of conn and forwards copies of the
// CopyData payloads. The session loop writes status updates concurrently:
// pgconn's receive path and the frontend's unbuffered write path share no
// state, and the socket supports one reader and one writer.
func reader(ctx context.Context, conn *pgconn.PgConn, out chan<- inbound) {
	defer close(out)
	for {
		msg, err := conn.ReceiveMessage(ctx)
		var item inbound
		if err != nil {
			item.err = err
		} else {
			switch m := msg.(type) {
			case *pgproto3.CopyData:
				item.data = bytes.Clone(m.Data)
			case *pgproto3.ErrorResponse:
				item.err = pgconn.ErrorResponseToPgError(m)
			case *pgproto3.CopyDone:
				item.err = errors.New("server ended the replication stream")
			default:
				continue
			}
		}
		select {
		case out <- item:
		case <-ctx.Done():
			return
		}
		if item.err != nil {
			return
		}
	}
}

// relation is the cached shape of a published table.
type relation struct {
	isMessages bool
	idCol      int
}

type handlerResult struct{ err error }

// stream is the session loop: it decodes the stream, feeds the handler
// one batch at a time and reports the safe LSN.
func (l *Listener) stream(ctx context.Context, conn *pgconn.PgConn, start LSN) error {
	readCtx, stopReader := context.WithCancel(context.WithoutCancel(ctx))
	in := make(chan inbound, 64)
	go reader(readCtx, conn, in)

	handlerCtx, cancelHandler := context.WithCancel(context.WithoutCancel(ctx))
	handlerDone := make(chan handlerResult, 1)
	running := false

	tr := newTracker(start)
	rels := make(map[uint32]relation)

	sendStatus := func() error {
		err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
			WALWritePosition: pglogrepl.LSN(max(tr.received, tr.safe)),
			WALFlushPosition: pglogrepl.LSN(tr.safe),
			WALApplyPosition: pglogrepl.LSN(tr.safe),
		})
		if err != nil {
			return fmt.Errorf("send standby status: %w", err)
		}
		l.updateStatus(func(s *Status) { s.AckedLSN = tr.safe; s.StatusUpdates++ })
		return nil
	}

	defer func() {
		cancelHandler()
		if running {
			if res := <-handlerDone; res.err == nil {
				tr.done()
			}
		}
		_ = sendStatus() // last ack; the connection may already be gone
		stopReader()
		for range in {
		}
	}()

	launch := func(b *batch) {
		running = true
		go func() {
			// The batch's span is the origin of the rows it hands over that
			// carry no trace context of their own (a supabase-js insert):
			// their sends join this trace.
			ctx, span := l.tracer.Start(handlerCtx, "zapbase.listener.batch",
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(attribute.Int("zapbase.rows", len(b.ids)),
					attribute.String("zapbase.lsn", b.ack.String()), attribute.String("zapbase.slot", l.cfg.SlotName)))
			err := callHandler(ctx, l.cfg.Handler, b.ids)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "handler failed")
			}
			span.End()
			handlerDone <- handlerResult{err: err}
		}()
	}

	ticker := time.NewTicker(l.cfg.StatusInterval)
	defer ticker.Stop()
	var (
		pendingSince time.Time
		batchTimer   <-chan time.Time
		retryTimer   <-chan time.Time
		retryAttempt int
	)
	if err := sendStatus(); err != nil {
		return err
	}
	for {
		if !running && retryTimer == nil && tr.inflight == nil && tr.pendingIDs > 0 {
			wait := l.cfg.BatchWait - time.Since(pendingSince)
			switch {
			case tr.pendingIDs >= l.cfg.MaxBatch:
				launch(tr.next(l.cfg.MaxBatch))
			case wait <= 0 && len(in) == 0:
				// Nothing else already received: go now. What the reader
				// already queued joins the batch first.
				launch(tr.next(l.cfg.MaxBatch))
			case wait > 0 && batchTimer == nil:
				batchTimer = time.After(wait)
			}
		}
		recv := in
		if tr.pendingIDs >= l.cfg.MaxPending {
			recv = nil // backpressure: status updates continue
		}
		select {
		case <-ctx.Done():
			return nil
		case item, ok := <-recv:
			if !ok {
				return errors.New("replication reader stopped")
			}
			if item.err != nil {
				return fmt.Errorf("receive: %w", item.err)
			}
			hadPending := tr.pendingIDs > 0
			reply, err := l.decode(item.data, tr, rels)
			if err != nil {
				return err
			}
			if !hadPending && tr.pendingIDs > 0 {
				pendingSince = time.Now()
			}
			if reply {
				if err := sendStatus(); err != nil {
					return err
				}
			}
		case res := <-handlerDone:
			running = false
			if res.err != nil {
				if databaseUnavailable(res.err) {
					// The database is going away (shutdown, restart) or
					// unreachable: end this replication session so the
					// walsender can exit — a fast shutdown otherwise waits
					// for our confirmation up to wal_sender_timeout — and
					// reconnect with backoff; unacknowledged rows are
					// redelivered.
					return fmt.Errorf("handler cannot reach the database: %w", res.err)
				}
				retryAttempt++
				delay := backoff.Policy{Base: l.cfg.ReconnectMin, Max: l.cfg.ReconnectMax}.Delay(retryAttempt)
				l.log.Warn("handler failed; retrying batch", "attempt", retryAttempt, "delay", delay,
					"rows", len(tr.inflight.ids), "error", res.err)
				retryTimer = time.After(delay)
				continue
			}
			retryAttempt = 0
			tr.done()
			if err := sendStatus(); err != nil {
				return err
			}
		case <-retryTimer:
			retryTimer = nil
			launch(tr.inflight)
		case <-batchTimer:
			batchTimer = nil
		case <-ticker.C:
			if err := sendStatus(); err != nil {
				return err
			}
		}
	}
}

// databaseUnavailable reports whether err says the database is shutting
// down, restarting or unreachable (as opposed to a failure of the handler's
// own logic, which is retried on the same stream).
func databaseUnavailable(err error) bool { return pgerr.IsConnLost(err) }

// callHandler runs the handler, turning a panic into an error so one bad
// batch does not take the process down.
func callHandler(ctx context.Context, h Handler, ids []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return h.HandleInserts(ctx, ids)
}

// decode applies one CopyData payload to the tracker. reply reports that
// the server asked for an immediate status update.
func (l *Listener) decode(data []byte, tr *tracker, rels map[uint32]relation) (reply bool, err error) {
	if len(data) == 0 {
		return false, nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return false, fmt.Errorf("parse keepalive: %w", err)
		}
		tr.keepalive(LSN(pkm.ServerWALEnd))
		l.updateStatus(func(s *Status) { s.ServerWALEnd = max(s.ServerWALEnd, LSN(pkm.ServerWALEnd)) })
		return pkm.ReplyRequested, nil
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return false, fmt.Errorf("parse xlog data: %w", err)
		}
		msg, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return false, fmt.Errorf("parse pgoutput message: %w", err)
		}
		switch m := msg.(type) {
		case *pglogrepl.RelationMessage:
			rel := relation{isMessages: m.Namespace == messagesSchema && m.RelationName == messagesTable, idCol: -1}
			for i, c := range m.Columns {
				if c.Name == "id" {
					rel.idCol = i
				}
			}
			rels[m.RelationID] = rel
		case *pglogrepl.BeginMessage:
			tr.begin()
		case *pglogrepl.InsertMessage:
			rel, ok := rels[m.RelationID]
			if !ok {
				return false, fmt.Errorf("insert for unknown relation %d", m.RelationID)
			}
			if !rel.isMessages {
				return false, nil
			}
			if rel.idCol < 0 || rel.idCol >= len(m.Tuple.Columns) {
				return false, errors.New("public.messages has no id column in the stream")
			}
			col := m.Tuple.Columns[rel.idCol]
			if col.DataType != pglogrepl.TupleDataTypeText {
				return false, fmt.Errorf("messages.id arrived as %q, want text", col.DataType)
			}
			tr.insert(string(col.Data))
		case *pglogrepl.CommitMessage:
			tr.commit(LSN(m.TransactionEndLSN))
		}
		l.updateStatus(func(s *Status) { s.ServerWALEnd = max(s.ServerWALEnd, LSN(xld.ServerWALEnd)) })
		return false, nil
	}
	return false, nil
}
