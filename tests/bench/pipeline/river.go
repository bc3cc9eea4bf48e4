package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// sendArgs is the River job: send one text message.
type sendArgs struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

func (sendArgs) Kind() string { return "bench_send" }

type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	out *inProcessSend
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	return w.out.send(ctx, strconv.FormatInt(job.ID, 10), job.Args.To, job.Args.Text)
}

// riverTarget: producers insert River jobs; River's workers call the
// provider and River marks the jobs completed.
type riverTarget struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	out    *inProcessSend
	chats  int
}

func newRiverTarget(ctx context.Context, url string, conns int32, opts riverOptions, chats int) (*riverTarget, error) {
	pool, err := openPool(ctx, url, conns)
	if err != nil {
		return nil, err
	}
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		pool.Close()
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	out := newInProcessSend()
	workers := river.NewWorkers()
	river.AddWorker(workers, &sendWorker{out: out})
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.workers}},
		Workers:           workers,
		FetchCooldown:     opts.fetchCooldown,
		FetchPollInterval: opts.fetchPoll,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &riverTarget{pool: pool, client: client, out: out, chats: chats}, nil
}

func (r *riverTarget) Name() string { return "River" }

func (r *riverTarget) Enqueue(ctx context.Context, p, i int) ([]string, error) {
	res, err := r.client.Insert(ctx, sendArgs{To: recipient(p, i, r.chats), Text: "bench " + strconv.Itoa(i)}, nil)
	if err != nil {
		return nil, err
	}
	return []string{strconv.FormatInt(res.Job.ID, 10)}, nil
}

func (r *riverTarget) Done(ctx context.Context, keys []string) (time.Time, error) {
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i], _ = strconv.ParseInt(k, 10, 64)
	}
	if err := waitZero(ctx, r.pool, `SELECT count(*) FROM river_job WHERE id = ANY($1) AND state <> 'completed'`, ids); err != nil {
		return time.Time{}, fmt.Errorf("river: %w", err)
	}
	var end time.Time
	err := r.pool.QueryRow(ctx, `SELECT max(finalized_at) FROM river_job WHERE id = ANY($1)`, ids).Scan(&end)
	return end, err
}

func (r *riverTarget) Calls(ctx context.Context) (map[string]time.Time, error) {
	return r.out.calls.snapshot(), nil
}

func (r *riverTarget) PID() int { return 0 }

func (r *riverTarget) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = r.client.Stop(ctx)
	r.out.sb.Close()
	r.pool.Close()
}
