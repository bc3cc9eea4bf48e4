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
	fixed phaseResult
	sat   phaseResult
}

func main() {
	var (
		producers = flag.Int("producers", 16, "concurrent producers (single-row inserts)")
		rate      = flag.Float64("rate", 1000, "offered load of the latency phase, messages/s")
		fixedDur  = flag.Duration("fixed", 8*time.Second, "duration of the fixed-load (latency) phase")
		satDur    = flag.Duration("sat", 8*time.Second, "duration of the saturation (throughput) phase")
		chats     = flag.Int("chats", 1000, "distinct recipients (zapbase keeps order per chat)")
		fast      = flag.Bool("fast", false, "run PostgreSQL with fsync off (devdb Fast); default is durable")
		only      = flag.String("only", "raw,river,zapbase", "systems to run, comma-separated")
		riverW    = flag.Int("river-workers", 100, "River MaxWorkers of the default queue")
		riverCool = flag.Duration("river-fetch-cooldown", 5*time.Millisecond, "River FetchCooldown (default 100ms in River; lowered for latency)")
		riverPoll = flag.Duration("river-fetch-poll", 50*time.Millisecond, "River FetchPollInterval (default 1s in River)")
		receipts  = flag.Bool("receipts", false, "zapbase: let the sandbox also write delivered/read receipts (work River's job does not do)")
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
	river      riverOptions
}

func bench(ctx context.Context, p benchParams) error {
	bin := filepath.Join(p.dir, "zapbase")
	if slices.Contains(p.only, "zapbase") {
		log.Printf("building zapbase")
		if err := buildZapbase(ctx, p.root, bin); err != nil {
			return err
		}
	}
	log.Printf("starting PostgreSQL (fsync %s)", map[bool]string{true: "off", false: "on"}[p.fast])
	srv, err := devdb.Start(ctx, devdb.Options{DataDir: filepath.Join(p.dir, "pgdata"), Fast: p.fast})
	if err != nil {
		return err
	}
	defer srv.Stop()
	pgVersion, err := serverVersion(ctx, srv.URL("postgres"))
	if err != nil {
		return err
	}
	conns := int32(p.producers + 8)

	var results []result
	for _, name := range p.only {
		url, err := createDatabase(ctx, srv, "bench_"+name)
		if err != nil {
			return err
		}
		var tg target
		switch name {
		case "raw":
			tg, err = newRawTarget(ctx, url, conns, p.chats)
		case "river":
			tg, err = newRiverTarget(ctx, url, conns, p.river, p.chats)
		case "zapbase":
			if err = devdb.ApplyCompat(ctx, url); err == nil {
				if err = migrations.Up(url); err == nil {
					tg, err = newZapbaseTarget(ctx, bin, url, p.dir, conns, p.chats, p.receipts)
				}
			}
		default:
			err = fmt.Errorf("unknown system %q (use raw, river, zapbase)", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r := result{name: tg.Name()}
		log.Printf("%s: %.0f msg/s offered for %s", tg.Name(), p.rate, p.fixed)
		if r.fixed, err = runPhase(ctx, tg, p.producers, p.rate, p.fixed); err != nil {
			tg.Close()
			return err
		}
		log.Printf("%s: saturation, %d producers for %s", tg.Name(), p.producers, p.sat)
		if r.sat, err = runPhase(ctx, tg, p.producers, 0, p.sat); err != nil {
			tg.Close()
			return err
		}
		tg.Close()
		results = append(results, r)
	}
	printTable(os.Stdout, p, pgVersion, results)
	return nil
}

func printTable(out *os.File, p benchParams, pgVersion string, results []result) {
	durability := "durable: fsync on, synchronous_commit on (devdb Fast=false)"
	if p.fast {
		durability = "fsync off (devdb Fast=true)"
	}
	fmt.Fprintf(out, "\nzapbase pipeline benchmark — %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "PostgreSQL %s, one embedded server (%s); %d CPUs (%s/%s); %d producers; %d chats\n",
		pgVersion, durability, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, p.producers, p.chats)
	fmt.Fprintf(out, "River: MaxWorkers %d, FetchCooldown %s, FetchPollInterval %s. zapbase: real `serve`, logical replication, zero-delay sandbox (receipts %s), producers insert as supabase-js (role authenticated + JWT claims, RLS).\n",
		p.river.workers, p.river.fetchCooldown, p.river.fetchPoll, onOff(p.receipts))
	fmt.Fprintf(out, "Latency: producer about to INSERT → provider Send entered, at %.0f msg/s offered for %s. Throughput: %d producers flat out for %s, msgs / (first INSERT → last durably done).\n\n",
		p.rate, p.fixed, p.producers, p.sat)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tsaturation msg/s\toffered msg/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tsamples\t")
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
		pc := percentiles(r.fixed.latencies)
		missing := ""
		if r.fixed.missing+r.sat.missing > 0 {
			missing = fmt.Sprintf(" (%d without call)", r.fixed.missing+r.sat.missing)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d%s\t\n", r.name, r.sat.throughput(), r.fixed.offered,
			ms(pc.p50), ms(pc.p95), ms(pc.p99), ms(pc.max), len(r.fixed.latencies), missing)
	}
	tw.Flush()
	z, zok := byName["zapbase"]
	ratio := func(base string) {
		b, ok := byName[base]
		if !zok || !ok {
			return
		}
		zp, bp := percentiles(z.fixed.latencies), percentiles(b.fixed.latencies)
		fmt.Fprintf(out, "zapbase/%s: throughput %.2fx, p50 %.2fx, p99 %.2fx\n", b.name,
			z.sat.throughput()/b.sat.throughput(), float64(zp.p50)/float64(bp.p50), float64(zp.p99)/float64(bp.p99))
	}
	fmt.Fprintln(out)
	ratio("River")
	ratio("raw pgx")
	if r, ok := byName["River"]; ok && zok {
		tp := z.sat.throughput() / r.sat.throughput()
		p99 := float64(percentiles(z.fixed.latencies).p99) / float64(percentiles(r.fixed.latencies).p99)
		fmt.Fprintf(out, "targets: throughput ≥ 1.50x River: %.2fx %s; p99 at %.0f msg/s ≤ 0.50x River: %.2fx %s\n",
			tp, verdict(tp >= 1.5), p.rate, p99, verdict(p99 <= 0.5))
	}
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
