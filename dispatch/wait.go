package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zapbase/zapbase"
)

// waiters wakes WaitFinal callers when this process writes a row's outcome.
type waiters struct {
	mu sync.Mutex
	m  map[string]map[chan struct{}]struct{}
}

func newWaiters() *waiters { return &waiters{m: map[string]map[chan struct{}]struct{}{}} }

func (w *waiters) add(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m[id] == nil {
		w.m[id] = map[chan struct{}]struct{}{}
	}
	w.m[id][ch] = struct{}{}
	return ch
}

func (w *waiters) remove(id string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m[id], ch)
	if len(w.m[id]) == 0 {
		delete(w.m, id)
	}
}

func (w *waiters) notify(batch []*outcome) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m) == 0 {
		return
	}
	for _, o := range batch {
		for ch := range w.m[o.id] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// WaitFinal waits until the row leaves pending/sending (sent, failed, or a
// later receipt state) and answers that status. It is woken when this
// process writes the row's outcome and polls the database meanwhile
// (another replica may send it). A retry back to pending keeps waiting:
// bound the wait with ctx.
func (d *Dispatcher) WaitFinal(ctx context.Context, rowID string) (zapbase.Status, error) {
	ch := d.waiters.add(rowID)
	defer d.waiters.remove(rowID, ch)
	t := time.NewTicker(d.cfg.WaitPollInterval)
	defer t.Stop()
	for {
		var s string
		err := d.pool.QueryRow(ctx, `SELECT status FROM public.messages WHERE id = $1::uuid`, rowID).Scan(&s)
		if isNoRows(err) {
			return "", zapbase.Errorf(zapbase.CodeNotFound, "Mensagem não encontrada.")
		}
		if err != nil {
			return "", fmt.Errorf("read message %s status: %w", rowID, err)
		}
		if st := zapbase.Status(s); st != zapbase.StatusPending && st != zapbase.StatusSending {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-ch:
		case <-t.C:
		}
	}
}
