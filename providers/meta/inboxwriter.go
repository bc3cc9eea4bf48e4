package meta

import (
	"context"
	"fmt"
	"sync"
	"time"

	zstore "github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/tracing"
)

// inboxWriter group-commits webhook inbox rows: concurrent requests join a
// pending batch and at most maxFlushers of them write it, one multi-row
// INSERT and one commit per batch. Under low load a batch is one row and
// nothing waits for a timer; under load the commit cost is shared. Every
// request still answers only after its own row is durable.
type inboxWriter struct {
	db          Store
	maxBatch    int
	maxFlushers int

	mu       sync.Mutex
	pending  []*inboxItem
	flushing int
}

type inboxItem struct {
	tenant *string
	key    string
	body   []byte
	// traceparent is the webhook request's trace context (nil: tracing off).
	traceparent *string
	done        chan error
}

const (
	inboxMaxBatch    = 256
	inboxMaxFlushers = 4
	inboxWriteLimit  = 10 * time.Second
)

func newInboxWriter(db Store) *inboxWriter {
	return &inboxWriter{db: db, maxBatch: inboxMaxBatch, maxFlushers: inboxMaxFlushers}
}

// insert stores one row (idempotent on key) and returns once it is durable.
func (w *inboxWriter) insert(ctx context.Context, tenant *string, key string, body []byte) error {
	it := &inboxItem{tenant: tenant, key: key, body: body, traceparent: tracing.TraceparentOrNil(ctx), done: make(chan error, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, it)
	leader := w.flushing < w.maxFlushers
	if leader {
		w.flushing++
	}
	w.mu.Unlock()
	if leader {
		// Flush until nothing is pending; a request's own row is in the
		// first batch it takes, so its answer is never delayed by a later one.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inboxWriteLimit)
		w.flush(wctx)
		cancel()
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *inboxWriter) flush(ctx context.Context) {
	for {
		w.mu.Lock()
		n := min(len(w.pending), w.maxBatch)
		if n == 0 {
			w.flushing--
			w.mu.Unlock()
			return
		}
		batch := w.pending[:n:n]
		w.pending = w.pending[n:]
		w.mu.Unlock()
		err := w.write(ctx, batch)
		for _, it := range batch {
			it.done <- err
		}
	}
}

func (w *inboxWriter) write(ctx context.Context, batch []*inboxItem) error {
	rows := make([]zstore.InboxRow, len(batch))
	for i, it := range batch {
		rows[i] = zstore.InboxRow{Tenant: it.tenant, Key: it.key, Body: it.body, Traceparent: it.traceparent}
	}
	if err := w.db.InsertInbox(ctx, InboxSource, rows); err != nil {
		return fmt.Errorf("write webhook inbox: %w", err)
	}
	return nil
}
