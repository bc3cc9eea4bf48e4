// Command pipeline benchmarks zapbase's delivery pipeline against the floor
// of the database work (raw pgx) and River, on one embedded PostgreSQL, and
// prints one table.
//
//	cd tests/bench && go run ./pipeline [-producers 16] [-rate 1000] ...
//
// Definitions, identical for the three systems:
//
//   - latency: from the moment a producer is about to issue the INSERT (the
//     message row, the River job, the raw row) to the moment the provider's
//     Send is entered for that message; same machine clock. zapbase runs in
//     its own process, whose sandbox appends each call's time to a send log
//     (ZAPBASE_SANDBOX_SEND_LOG). Measured at a fixed offered load: paced,
//     open-loop producers (default 1,000 msg/s).
//   - throughput at saturation: producers insert flat out for -sat; messages
//     / (first INSERT → last message durably completed: River job
//     completed, zapbase row sent, raw row updated).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb"
)

type riverOptions struct {
	workers       int
	fetchCooldown time.Duration
	fetchPoll     time.Duration
}

type result struct {
	name  string
	run   int
	fixed phaseResult
	sat   phaseResult
}

func main() {
	spinIfChild()
	var (
		producers = flag.Int("producers", 16, "concurrent producers (single-row inserts)")
		rate      = flag.Float64("rate", 1000, "offered load of the latency phase, messages/s")
		fixedDur  = flag.Duration("fixed", 8*time.Second, "duration of the fixed-load (latency) phase")
		satDur    = flag.Duration("sat", 8*time.Second, "duration of the saturation (throughput) phase")
		chats     = flag.Int("chats", 1000, "distinct recipients (zapbase keeps order per chat)")
		fast      = flag.Bool("fast", false, "run PostgreSQL with fsync off (devdb Fast); default is durable")
		only      = flag.String("only", "raw,river,zapbase", "systems to run, comma-separated (also zapbase-api-text, zapbase-api-bulk)")
		runs      = flag.Int("runs", 1, "run every system this many times (interleaved) and report median and spread")
		noise     = flag.Int("noise", 0, "CPU-spinning processes running during every phase (contention, the same for all systems)")
		riverW    = flag.Int("river-workers", 100, "River MaxWorkers of the default queue")
		riverCool = flag.Duration("river-fetch-cooldown", 5*time.Millisecond, "River FetchCooldown (default 100ms in River; lowered for latency)")
		riverPoll = flag.Duration("river-fetch-poll", 50*time.Millisecond, "River FetchPollInterval (default 1s in River)")
		receipts  = flag.Bool("receipts", false, "zapbase: let the sandbox also write delivered/read receipts (work River's job does not do)")
		pgss      = flag.Bool("pgss", false, "load pg_stat_statements (track = all) and print the top statements of every saturation phase (adds overhead: not for the figures)")
		pprofDir  = flag.String("pprof", "", "zapbase: write CPU profiles of `zapbase serve` for each phase into this directory")
		keep      = flag.Bool("keep", false, "keep the temporary directory (database, zapbase log, send log)")
	)
	flag.Parse()
	log.SetFlags(log.Ltime)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	root, err := repoRoot()
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "zapbase-bench-")
	if err != nil {
		log.Fatal(err)
	}
	if *keep {
		log.Printf("temporary directory: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	run := func() error {
		return bench(ctx, benchParams{
			root: root, dir: dir, producers: *producers, rate: *rate, fixed: *fixedDur, sat: *satDur,
			chats: *chats, fast: *fast, receipts: *receipts, only: strings.Split(*only, ","),
			runs: max(1, *runs), noise: *noise, pprofDir: *pprofDir, pgss: *pgss,
			river: riverOptions{workers: *riverW, fetchCooldown: *riverCool, fetchPoll: *riverPoll},
		})
	}
	if err := run(); err != nil {
		log.Printf("benchmark failed: %v", err)
		if !*keep {
			os.RemoveAll(dir)
		}
		os.Exit(1)
	}
}

type benchParams struct {
	receipts   bool
	root, dir  string
	producers  int
	rate       float64
	fixed, sat time.Duration
	chats      int
	fast       bool
	only       []string
	runs       int
	noise      int
	pprofDir   string
	pgss       bool
	river      riverOptions
	loadStart  string
}

func bench(ctx context.Context, p benchParams) error {
	bin := filepath.Join(p.dir, "zapbase")
	if slices.ContainsFunc(p.only, func(s string) bool { return strings.HasPrefix(s, "zapbase") }) {
		log.Printf("building zapbase")
		if err := buildZapbase(ctx, p.root, bin); err != nil {
			return err
		}
	}
	log.Printf("starting PostgreSQL (fsync %s)", map[bool]string{true: "off", false: "on"}[p.fast])
	opts := devdb.Options{DataDir: filepath.Join(p.dir, "pgdata"), Fast: p.fast}
	if p.pgss {
		opts.ExtraSettings = map[string]string{"shared_preload_libraries": "pg_stat_statements",
			"pg_stat_statements.track": "all", "track_io_timing": "on"}
	}
	srv, err := devdb.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer srv.Stop()
	pgVersion, err := serverVersion(ctx, srv.URL("postgres"))
	if err != nil {
		return err
	}
	meter, err := newCPUMeter(srv.DataDir())
	if err != nil {
		return err
	}
	conns := int32(p.producers + 8)
	p.loadStart = loadAverage()
	stopNoise, err := startNoise(p.noise)
	if err != nil {
		return err
	}
	defer stopNoise()
	if p.noise > 0 {
		log.Printf("%d CPU-spinning noise processes running", p.noise)
	}

	var results []result
	for run := 1; run <= p.runs; run++ {
		for _, name := range p.only {
			r, err := benchOne(ctx, p, srv, meter, bin, name, run, conns)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	printTable(os.Stdout, p, pgVersion, results)
	return nil
}

func benchOne(ctx context.Context, p benchParams, srv *devdb.Server, meter *cpuMeter, bin, name string, run int, conns int32) (result, error) {
	url, err := createDatabase(ctx, srv, fmt.Sprintf("bench_%s_%d", strings.ReplaceAll(name, "-", "_"), run))
	if err != nil {
		return result{}, err
	}
	var tg target
	switch name {
	case "raw":
		tg, err = newRawTarget(ctx, url, conns, p.chats)
	case "river":
		tg, err = newRiverTarget(ctx, url, conns, p.river, p.chats)
	case "zapbase", "zapbase-api-text", "zapbase-api-bulk":
		if err = devdb.ApplyCompat(ctx, url); err == nil {
			if err = migrations.Up(url); err == nil {
				tg, err = newZapbaseTarget(ctx, zapbaseParams{bin: bin, url: url, dir: p.dir, conns: conns,
					chats: p.chats, receipts: p.receipts, mode: strings.TrimPrefix(strings.TrimPrefix(name, "zapbase"), "-api-"), run: run})
			}
		}
	default:
		err = fmt.Errorf("unknown system %q (use raw, river, zapbase, zapbase-api-text, zapbase-api-bulk)", name)
	}
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	defer tg.Close()
	if p.pgss {
		if err := pgssExec(ctx, url, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
			return result{}, err
		}
	}
	r := result{name: tg.Name(), run: run}
	prof := func(phase string, d time.Duration) func() {
		z, ok := tg.(*zapbaseTarget)
		if !ok || p.pprofDir == "" {
			return func() {}
		}
		return z.profile(filepath.Join(p.pprofDir, fmt.Sprintf("%s-%s-run%d.pprof", name, phase, run)), d)
	}
	log.Printf("run %d, %s: %.0f msg/s offered for %s", run, tg.Name(), p.rate, p.fixed)
	done := prof("fixed", p.fixed)
	r.fixed, err = runPhase(ctx, tg, meter, p.producers, p.rate, p.fixed)
	done()
	if err != nil {
		return result{}, err
	}
	log.Printf("run %d, %s: saturation, %d producers for %s", run, tg.Name(), p.producers, p.sat)
	done = prof("sat", p.sat)
	if p.pgss {
		if err := pgssExec(ctx, url, `SELECT pg_stat_statements_reset()`); err != nil {
			return result{}, err
		}
	}
	r.sat, err = runPhase(ctx, tg, meter, p.producers, 0, p.sat)
	done()
	if err != nil {
		return result{}, err
	}
	if p.pgss {
		if err := pgssReport(ctx, url, tg.Name(), r.sat.n); err != nil {
			return result{}, err
		}
	}
	return r, nil
}

func printTable(out *os.File, p benchParams, pgVersion string, results []result) {
	durability := "durable: fsync on, synchronous_commit on (devdb Fast=false)"
	if p.fast {
		durability = "fsync off (devdb Fast=true)"
	}
	fmt.Fprintf(out, "\nzapbase pipeline benchmark — %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "PostgreSQL %s, one embedded server (%s); %d CPUs (%s/%s); %d producers; %d chats; %d run(s) per system, interleaved; %d noise process(es)\n",
		pgVersion, durability, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, p.producers, p.chats, p.runs, p.noise)
	fmt.Fprintf(out, "Load average (1/5/15 min) at start: %s; at end: %s\n", p.loadStart, loadAverage())
	fmt.Fprintf(out, "River: MaxWorkers %d, FetchCooldown %s, FetchPollInterval %s. zapbase: real `serve`, logical replication, zero-delay sandbox (receipts %s), producers insert as supabase-js (role authenticated + JWT claims, RLS).\n",
		p.river.workers, p.river.fetchCooldown, p.river.fetchPoll, onOff(p.receipts))
	fmt.Fprintf(out, "Latency: producer about to INSERT → provider Send entered, at %.0f msg/s offered for %s. Throughput: %d producers flat out for %s, msgs / (first INSERT → last durably done).\n",
		p.rate, p.fixed, p.producers, p.sat)
	fmt.Fprintf(out, "CPU: CPU-seconds per 1,000 messages of the saturation phase (fixed-load phase in brackets): benchmark process (producers; River and raw run inside it) + system process (zapbase serve) + every PostgreSQL process.\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\trun\tsat msg/s\toffered\tp50 ms\tp95 ms\tp99 ms\tmax ms\tCPU s/1k\t(fixed)\tbench\tsystem\tpg backends\twalsender\tpg other\t")
	for _, r := range results {
		pc := percentiles(r.fixed.latencies)
		missing := ""
		if r.fixed.missing+r.sat.missing > 0 {
			missing = fmt.Sprintf(" (%d without call)", r.fixed.missing+r.sat.missing)
		}
		c, n := r.sat.cpu, float64(r.sat.n)/1000
		per := func(d time.Duration) float64 { return d.Seconds() / n }
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f%s\t%.3f\t(%.3f)\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", r.name, r.run, r.sat.throughput(), r.fixed.offered,
			ms(pc.p50), ms(pc.p95), ms(pc.p99), ms(pc.max), missing, r.sat.cpuPer1k(), r.fixed.cpuPer1k(),
			per(c.bench), per(c.system), per(c.pg["backends"]), per(c.pg["walsender"]),
			per(c.pgTotal()-c.pg["backends"]-c.pg["walsender"]))
	}
	tw.Flush()

	// Median and spread over the runs, per system.
	type agg struct{ tp, p99, max, cpu []float64 }
	aggs := map[string]*agg{}
	var names []string
	for _, r := range results {
		a := aggs[r.name]
		if a == nil {
			a = &agg{}
			aggs[r.name] = a
			names = append(names, r.name)
		}
		pc := percentiles(r.fixed.latencies)
		a.tp = append(a.tp, r.sat.throughput())
		a.p99 = append(a.p99, ms(pc.p99))
		a.max = append(a.max, ms(pc.max))
		a.cpu = append(a.cpu, r.sat.cpuPer1k())
	}
	fmt.Fprintf(out, "\nmedian [min–max] over %d run(s):\n", p.runs)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tsat msg/s\tp99 ms\tmax ms\tCPU s/1k msgs\t")
	for _, n := range names {
		a := aggs[n]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", n, spread(a.tp, "%.0f"), spread(a.p99, "%.2f"), spread(a.max, "%.1f"), spread(a.cpu, "%.3f"))
	}
	tw.Flush()
	z, zok := aggs["zapbase"]
	ratio := func(base string) {
		b, ok := aggs[base]
		if !zok || !ok {
			return
		}
		fmt.Fprintf(out, "zapbase/%s (medians): throughput %.2fx, p99 %.2fx, CPU per message %.2fx\n", base,
			median(z.tp)/median(b.tp), median(z.p99)/median(b.p99), median(z.cpu)/median(b.cpu))
	}
	fmt.Fprintln(out)
	ratio("River")
	ratio("raw pgx")
	if r, ok := aggs["River"]; ok && zok {
		tp := median(z.tp) / median(r.tp)
		p99 := median(z.p99) / median(r.p99)
		cpu := median(z.cpu) / median(r.cpu)
		maxOverP99 := median(z.max) / median(z.p99)
		fmt.Fprintf(out, "targets: throughput ≥ 1.50x River: %.2fx %s; p99 at %.0f msg/s ≤ 0.50x River: %.2fx %s; zapbase max < 10x its p99: %.1fx %s; CPU per message ≤ 0.50x River: %.2fx %s\n",
			tp, verdict(tp >= 1.5), p.rate, p99, verdict(p99 <= 0.5), maxOverP99, verdict(maxOverP99 < 10), cpu, verdict(cpu <= 0.5))
		if raw, ok := aggs["raw pgx"]; ok {
			tr := median(z.tp) / median(raw.tp)
			fmt.Fprintf(out, "target: throughput ≥ 0.75x raw pgx: %.2fx %s\n", tr, verdict(tr >= 0.75))
		}
	}
}

func pgssExec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// pgssReport prints the statements that took most execution time during
// the phase, in microseconds per message.
func pgssReport(ctx context.Context, url, name string, n int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, rows, toplevel, regexp_replace(left(query, 150), '\s+', ' ', 'g')
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY total_exec_time DESC LIMIT 15`)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Printf("\npg_stat_statements, %s saturation phase (%d messages): µs per message, calls, rows, statement\n", name, n)
	for rows.Next() {
		var (
			calls, nrows int64
			total        float64
			top          bool
			q            string
		)
		if err := rows.Scan(&calls, &total, &nrows, &top, &q); err != nil {
			return err
		}
		nested := ""
		if !top {
			nested = " (nested)"
		}
		fmt.Printf("%8.1f µs  %7d calls  %7d rows%s  %s\n", total*1000/float64(n), calls, nrows, nested, q)
	}
	return rows.Err()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(xs []float64, format string) string {
	if len(xs) == 1 {
		return fmt.Sprintf(format, xs[0])
	}
	return fmt.Sprintf(format+" ["+format+"–"+format+"]", median(xs), slices.Min(xs), slices.Max(xs))
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type pcts struct{ p50, p95, p99, max time.Duration }

func percentiles(ds []time.Duration) pcts {
	if len(ds) == 0 {
		return pcts{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return pcts{p50: at(0.50), p95: at(0.95), p99: at(0.99), max: s[len(s)-1]}
}

func openPool(ctx context.Context, url string, conns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = conns
	cfg.MinConns = conns
	return pgxpool.NewWithConfig(ctx, cfg)
}

func createDatabase(ctx context.Context, srv *devdb.Server, name string) (string, error) {
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return srv.URL(name), nil
}

func serverVersion(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, `SHOW server_version`).Scan(&v)
	return v, err
}

// waitZero polls a count query until it answers 0 (or 2 minutes pass).
func waitZero(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d messages still not done after 2 minutes", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off: rows end at sent, like River's completed job"
}
