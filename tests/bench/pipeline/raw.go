package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
)

// calls records when the in-process provider was first called per key.
type calls struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newCalls() *calls { return &calls{at: make(map[string]time.Time)} }

func (c *calls) record(key string, t time.Time) {
	c.mu.Lock()
	if _, ok := c.at[key]; !ok {
		c.at[key] = t
	}
	c.mu.Unlock()
}

func (c *calls) snapshot() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Time, len(c.at))
	for k, v := range c.at {
		out[k] = v
	}
	return out
}

// inProcessSend is the zero-delay sandbox-like send River and raw use: the
// real sandbox provider with no receipts, its call time recorded first.
type inProcessSend struct {
	sb    *sandbox.Provider
	calls *calls
}

func newInProcessSend() *inProcessSend {
	return &inProcessSend{sb: sandbox.New(sandbox.Config{ZeroDelay: true, NoReceipts: true}), calls: newCalls()}
}

func (s *inProcessSend) send(ctx context.Context, key, to, text string) error {
	s.calls.record(key, time.Now())
	_, err := s.sb.Send(ctx, providers.OutboundMessage{
		RowID: key, TenantID: "bench", SessionID: "bench", From: "5511900000001", To: to,
		Type: zapbase.MessageText, Content: providers.Content{Text: text}, Attempt: 1,
	})
	return err
}

// rawTarget is the floor of the database work: the producer inserts a row,
// calls the provider and marks the row done — one INSERT and one UPDATE per
// message, nothing else.
type rawTarget struct {
	pool  *pgxpool.Pool
	out   *inProcessSend
	chats int
	mu    sync.Mutex
	last  time.Time
}

const rawSchema = `
CREATE TABLE IF NOT EXISTS bench_raw (
  id          bigserial PRIMARY KEY,
  to_number   text NOT NULL,
  content     jsonb NOT NULL,
  state       text NOT NULL DEFAULT 'pending',
  created_at  timestamptz NOT NULL DEFAULT now(),
  finalized_at timestamptz
)`

func newRawTarget(ctx context.Context, url string, conns int32, chats int) (*rawTarget, error) {
	pool, err := openPool(ctx, url, conns)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, rawSchema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("create bench_raw: %w", err)
	}
	return &rawTarget{pool: pool, out: newInProcessSend(), chats: chats}, nil
}

func (r *rawTarget) Name() string { return "raw pgx" }

func (r *rawTarget) Enqueue(ctx context.Context, p, i int) ([]string, error) {
	to, text := recipient(p, i, r.chats), "bench "+strconv.Itoa(i)
	var id int64
	if err := r.pool.QueryRow(ctx, `INSERT INTO bench_raw (to_number, content) VALUES ($1, jsonb_build_object('text', $2::text)) RETURNING id`,
		to, text).Scan(&id); err != nil {
		return nil, err
	}
	key := strconv.FormatInt(id, 10)
	if err := r.out.send(ctx, key, to, text); err != nil {
		return nil, err
	}
	if _, err := r.pool.Exec(ctx, `UPDATE bench_raw SET state = 'completed', finalized_at = now() WHERE id = $1`, id); err != nil {
		return nil, err
	}
	now := time.Now()
	r.mu.Lock()
	if now.After(r.last) {
		r.last = now
	}
	r.mu.Unlock()
	return []string{key}, nil
}

func (r *rawTarget) Done(ctx context.Context, keys []string) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, nil
}

func (r *rawTarget) Calls(ctx context.Context) (map[string]time.Time, error) {
	return r.out.calls.snapshot(), nil
}

func (r *rawTarget) PID() int { return 0 }

func (r *rawTarget) Close() {
	r.out.sb.Close()
	r.pool.Close()
}

// recipient spreads messages over chats (zapbase keeps order per chat).
func recipient(p, i, chats int) string {
	return fmt.Sprintf("55119%08d", (p*7919+i)%chats)
}
