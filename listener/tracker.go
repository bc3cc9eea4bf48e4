package listener

// tracker is the ack bookkeeping of one streaming session. It knows which
// committed transactions still hold rows the handler has not accepted and
// computes the safe LSN: the highest position at which every row of every
// transaction ending at or before it has been handled. Only the safe LSN is
// ever reported to PostgreSQL as flushed.
//
// tracker is not safe for concurrent use; the session loop owns it.
type tracker struct {
	safe     LSN // all transactions ending at or before safe are handled
	received LSN // highest position seen on the stream (keepalive or commit)
	// keepaliveEnd is the server WAL end of the latest keepalive. The
	// stream is ordered, so every transaction before it has been received.
	keepaliveEnd LSN

	inTx  bool
	txIDs []string

	pending    []unit // committed, not yet handed to the handler, in order
	pendingIDs int
	inflight   *batch // handed to the handler, not yet accepted
}

// unit is one committed transaction: its rows and its end LSN.
type unit struct {
	ids []string
	end LSN
}

// batch is one HandleInserts call. ack is the end LSN of the last
// transaction wholly contained in the batch, or 0 when the batch holds only
// part of one large transaction.
type batch struct {
	ids []string
	ack LSN
}

func newTracker(start LSN) *tracker {
	return &tracker{safe: start, received: start}
}

func (t *tracker) begin() {
	t.inTx = true
	t.txIDs = nil
}

func (t *tracker) insert(id string) { t.txIDs = append(t.txIDs, id) }

func (t *tracker) commit(end LSN) {
	ids := t.txIDs
	t.inTx, t.txIDs = false, nil
	t.received = max(t.received, end)
	switch {
	case len(ids) > 0:
		t.pending = append(t.pending, unit{ids: ids, end: end})
		t.pendingIDs += len(ids)
	case len(t.pending) > 0:
		// Nothing to handle: its end may be acked together with the
		// transaction before it.
		t.pending[len(t.pending)-1].end = end
	case t.inflight != nil:
		t.pending = append(t.pending, unit{end: end})
	default:
		t.safe = max(t.safe, end)
	}
	t.advanceIdle()
}

func (t *tracker) keepalive(walEnd LSN) {
	t.keepaliveEnd = max(t.keepaliveEnd, walEnd)
	t.received = max(t.received, walEnd)
	t.advanceIdle()
}

// idle reports whether nothing received is waiting for the handler.
func (t *tracker) idle() bool {
	return !t.inTx && len(t.pending) == 0 && t.inflight == nil
}

// advanceIdle moves the safe LSN to the server's WAL end when nothing is
// in flight, so an idle slot does not pin WAL written to other tables.
func (t *tracker) advanceIdle() {
	if t.idle() {
		t.safe = max(t.safe, t.keepaliveEnd)
	}
}

// next takes the next batch of at most maxIDs ids off the pending queue and
// marks it in flight. It returns nil when a batch is already in flight or
// nothing is pending.
func (t *tracker) next(maxIDs int) *batch {
	if t.inflight != nil || t.pendingIDs == 0 {
		return nil
	}
	b := &batch{}
	n := 0
	for n < len(t.pending) {
		u := &t.pending[n]
		if len(b.ids)+len(u.ids) <= maxIDs {
			b.ids = append(b.ids, u.ids...)
			b.ack = u.end
			n++
			continue
		}
		if len(b.ids) == 0 {
			// A transaction larger than a batch: hand over a slice of it;
			// its LSN is acked with its last slice.
			b.ids = append(b.ids, u.ids[:maxIDs]...)
			u.ids = u.ids[maxIDs:]
		}
		break
	}
	t.pending = t.pending[n:]
	t.pendingIDs -= len(b.ids)
	t.inflight = b
	return b
}

// done records that the in-flight batch was handled.
func (t *tracker) done() {
	if t.inflight == nil {
		return
	}
	t.safe = max(t.safe, t.inflight.ack)
	t.inflight = nil
	// Transactions without rows queued behind the batch are handled too.
	for len(t.pending) > 0 && len(t.pending[0].ids) == 0 {
		t.safe = max(t.safe, t.pending[0].end)
		t.pending = t.pending[1:]
	}
	t.advanceIdle()
}
