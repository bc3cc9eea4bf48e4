package sandbox

import (
	"container/heap"
	"context"
	"sort"
	"sync"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// receiptTimeout bounds one EventSink write.
const receiptTimeout = 10 * time.Second

type pendingReceipt struct {
	due       time.Time
	seq       uint64
	tenantID  string
	sessionID string
	recipient string
	id        string
	status    zapbase.Status
}

type receiptHeap []pendingReceipt

func (h receiptHeap) Len() int { return len(h) }
func (h receiptHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h receiptHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *receiptHeap) Push(x any)   { *h = append(*h, x.(pendingReceipt)) }
func (h *receiptHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// receiptQueue holds receipts until they are due. One goroutine drains it,
// reporting receipts that fall due together in as few sink calls as possible
// (one per tenant, session and status), like a channel batching its acks.
type receiptQueue struct {
	mu   sync.Mutex
	h    receiptHeap
	seq  uint64
	wake chan struct{}
}

func newReceiptQueue() *receiptQueue {
	return &receiptQueue{wake: make(chan struct{}, 1)}
}

func (q *receiptQueue) push(r pendingReceipt) {
	q.mu.Lock()
	q.seq++
	r.seq = q.seq
	heap.Push(&q.h, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// due pops every receipt due at now and answers the wait until the next one
// (negative: none queued).
func (q *receiptQueue) due(now time.Time) ([]pendingReceipt, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []pendingReceipt
	for len(q.h) > 0 && !q.h[0].due.After(now) {
		out = append(out, heap.Pop(&q.h).(pendingReceipt))
	}
	if len(q.h) == 0 {
		return out, -1
	}
	return out, q.h[0].due.Sub(now)
}

func (p *Provider) scheduleReceipts(msg providers.OutboundMessage, id string, at time.Time) {
	steps := []struct {
		status zapbase.Status
		delay  time.Duration
	}{
		{zapbase.StatusSent, p.cfg.SentDelay},
		{zapbase.StatusDelivered, p.cfg.DeliveredDelay},
		{zapbase.StatusRead, p.cfg.ReadDelay},
	}
	for _, s := range steps {
		if s.delay < 0 {
			continue
		}
		p.receipts.push(pendingReceipt{
			due: at.Add(s.delay), tenantID: msg.TenantID, sessionID: msg.SessionID,
			recipient: msg.To, id: id, status: s.status,
		})
	}
}

func (p *Provider) emitReceipts(ctx context.Context) {
	q := p.receipts
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		batch, wait := q.due(time.Now())
		if len(batch) > 0 {
			p.report(batch)
			continue
		}
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
	}
}

func (p *Provider) report(batch []pendingReceipt) {
	type key struct {
		tenant, session string
		status          zapbase.Status
	}
	groups := map[key]*providers.Receipt{}
	var order []key
	for _, r := range batch {
		k := key{r.tenantID, r.sessionID, r.status}
		g, ok := groups[k]
		if !ok {
			g = &providers.Receipt{
				TenantID: r.tenantID, SessionID: r.sessionID, Provider: zapbase.ProviderSandbox,
				Status: r.status, Timestamp: r.due, Recipient: r.recipient,
			}
			groups[k] = g
			order = append(order, k)
		}
		g.ProviderMessageIDs = append(g.ProviderMessageIDs, r.id)
		if r.due.After(g.Timestamp) {
			g.Timestamp = r.due
		}
	}
	// Report lower states first so a batch holding sent and read of the same
	// message walks it forward.
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i].status) < rank(order[j].status) })
	for _, k := range order {
		ctx, cancel := context.WithTimeout(context.Background(), receiptTimeout)
		if err := p.cfg.Sink.Receipt(ctx, *groups[k]); err != nil {
			p.log.Warn("report receipt", "tenant_id", k.tenant, "status", string(k.status),
				"messages", len(groups[k].ProviderMessageIDs), "error", err)
		}
		cancel()
	}
}

func rank(s zapbase.Status) int {
	switch s {
	case zapbase.StatusSent:
		return 0
	case zapbase.StatusDelivered:
		return 1
	case zapbase.StatusRead:
		return 2
	}
	return 3
}
