// Command metawebhook measures Meta webhook ingest: concurrent senders POST
// signed payloads to the real handler (signature check over the raw bytes,
// durable insert into wa.webhook_inbox, 200), and prints requests/s and
// latency percentiles beside the raw Postgres insert throughput of the same
// inbox rows measured on the same server in the same run.
//
//	go run ./metawebhook -c 48 -d 10s
//
// It starts its own PostgreSQL (supabase/devdb, durable by default; -fast
// turns fsync off) unless -database-url is given.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
	"github.com/zapbase/zapbase/providers/providertest"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb"
)

const (
	pnid      = "109876543210987"
	display   = "5511988887777"
	appSecret = "f3c1a9e07b2d4c5e8a6f1b3d9c7e2a40"
	token     = "EAAG-bench-token"
)

// nopSink drops every event; the methods the benchmark does not count
// come from providertest's no-op implementations.
type nopSink struct{ *providertest.RecordingSink }

func (nopSink) Receipt(context.Context, providers.Receipt) error                   { return nil }
func (nopSink) Inbound(context.Context, providers.InboundMessage) error            { return nil }
func (nopSink) SessionState(context.Context, string, providers.SessionState) error { return nil }
func (nopSink) BindProviderID(context.Context, providers.BindProviderIDParams) error {
	return nil
}
func (nopSink) MarkInboundError(context.Context, providers.MarkInboundErrorParams) error {
	return nil
}

func main() {
	conc := flag.Int("c", 48, "concurrent senders")
	dur := flag.Duration("d", 10*time.Second, "duration of each phase")
	fast := flag.Bool("fast", false, "run PostgreSQL with fsync off (not durable)")
	dbURL := flag.String("database-url", "", "use this database instead of starting one")
	poolSize := flag.Int("pool", 32, "database connections")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the webhook phase")
	flag.Parse()
	ctx := context.Background()

	url := *dbURL
	if url == "" {
		dir, err := os.MkdirTemp("", "zapbase-bench-")
		check(err)
		defer os.RemoveAll(dir)
		srv, err := devdb.Start(ctx, devdb.Options{DataDir: dir + "/pgdata", Fast: *fast,
			ExtraSettings: map[string]string{"max_connections": "200"}})
		check(err)
		defer srv.Stop()
		url = srv.URL("postgres")
		check(devdb.ApplyCompat(ctx, url))
	}
	check(migrations.Up(url))
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: int32(*poolSize)})
	check(err)
	defer pool.Close()

	body := payloadTemplate()
	fmt.Printf("metawebhook: %d CPUs, %d senders, %s per phase, pool %d, fsync %s, payload %d bytes\n",
		runtime.NumCPU(), *conc, *dur, *poolSize, map[bool]string{true: "off", false: "on"}[*fast], len(body))

	// Phase 1: raw Postgres inserts of the same rows, no HTTP, no signature.
	var seq atomic.Int64
	raw := run(*conc, *dur, func() error {
		b := uniqueBody(body, seq.Add(1))
		_, err := pool.Exec(ctx, `INSERT INTO wa.webhook_inbox (source, dedupe_key, payload) VALUES ('bench_raw', $1, $2)
ON CONFLICT (source, dedupe_key) DO NOTHING`, randomKey(), b)
		return err
	})
	report("raw postgres insert", raw)

	// Phase 2: the real webhook handler over loopback HTTP.
	prov := setup(ctx, pool)
	defer prov.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	hs := &http.Server{Handler: prov.Webhook(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	target := "http://" + ln.Addr().String() + "/api/v1/webhooks/meta"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2, MaxConnsPerHost: *conc * 2}}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	web := run(*conc, *dur, func() error {
		b := uniqueBody(body, seq.Add(1))
		req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", meta.Sign(appSecret, b))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	report("webhook ingest (sig + inbox + 200)", web)
	var stored int
	check(pool.QueryRow(ctx, `SELECT count(*) FROM wa.webhook_inbox WHERE source = 'meta'`).Scan(&stored))
	fmt.Printf("  inbox rows stored: %d (of %d answered 200)\n", stored, web.ok)
	fmt.Printf("ratio webhook/raw: %.2f\n", web.rps()/raw.rps())
	verdict := "MET"
	if web.rps() < 5000 || web.pct(0.99) >= 20*time.Millisecond {
		verdict = "NOT MET"
	}
	fmt.Printf("target >= 5000 req/s and p99 < 20ms: %s\n", verdict)
}

func setup(ctx context.Context, pool *pgxpool.Pool) *meta.Provider {
	fake := metafake.New(metafake.Number{PhoneNumberID: pnid, Display: display, Token: token})
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	check(err)
	prov, err := meta.New(meta.Params{Store: store.New(pool).MetaChannel(), Box: box, Events: nopSink{&providertest.RecordingSink{}}, Client: meta.ClientConfig{BaseURL: fake.URL}})
	check(err)
	var tenant, session string
	check(pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('bench', 'bench')
ON CONFLICT (client_id) DO UPDATE SET name = 'bench' RETURNING id::text`).Scan(&tenant))
	check(pool.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&session))
	opts, _ := json.Marshal(meta.Credentials{PhoneNumberID: pnid, WABAID: "102938475610293", AccessToken: token,
		AppSecret: appSecret, VerifyToken: "bench-verify-token"})
	_, err = prov.Initialize(ctx, providers.InitializeParams{TenantID: tenant, SessionID: session, PhoneNumber: display, Options: opts})
	check(err)
	return prov
}

// payloadTemplate is Meta's text webhook with non-ASCII escaped as Meta
// sends it.
func payloadTemplate() []byte {
	return metafake.Fixture("webhook_signed_unicode_raw.json")
}

// uniqueBody changes the wamid so every request is a new inbox row.
func uniqueBody(tpl []byte, n int64) []byte {
	return bytes.Replace(tpl, []byte(`"id":"wamid.`), []byte(`"id":"wamid.bench`+strconv.FormatInt(n, 10)+`.`), 1)
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type result struct {
	ok, failed int64
	elapsed    time.Duration
	lat        []time.Duration
	firstErr   error
}

func (r result) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(int(float64(len(r.lat))*p), len(r.lat)-1)]
}

func run(conc int, d time.Duration, op func() error) result {
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var ok, failed int64
			var first error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				err := op()
				if err != nil {
					failed++
					if first == nil {
						first = err
					}
					continue
				}
				ok++
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.ok += ok
			res.failed += failed
			res.lat = append(res.lat, lat...)
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

func report(name string, r result) {
	fmt.Printf("%-36s %9.0f req/s  p50 %-9s p99 %-9s max %-9s ok %d failed %d\n", name, r.rps(),
		round(r.pct(0.50)), round(r.pct(0.99)), round(r.pct(1)), r.ok, r.failed)
	if r.firstErr != nil {
		fmt.Printf("  first error: %s\n", strings.TrimSpace(r.firstErr.Error()))
	}
}

func round(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
