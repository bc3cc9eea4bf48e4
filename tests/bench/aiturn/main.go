// Command aiturn measures the agent runtime's own overhead per turn with a
// zero-latency model: from an inbound row handed to the runtime to its reply
// row committed (routing, guardrails, memory, the exactly-once
// transaction). It boots a throwaway PostgreSQL (devdb) and prints p50/p99.
//
//	cd tests/bench && go run ./aiturn -turns 500
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	_ "github.com/zapbase/zapbase/ai/tools/realestate" // the built-in templates
	_ "github.com/zapbase/zapbase/ai/tools/support"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb"
)

func main() {
	turns := flag.Int("turns", 1000, "turns to measure (after 50 warm-up turns)")
	contacts := flag.Int("contacts", 50, "distinct contacts (conversations)")
	flag.Parse()
	if err := run(*turns, *contacts); err != nil {
		log.Fatal(err)
	}
}

func run(turns, contacts int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "zapbase-bench-ai-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := devdb.Start(ctx, devdb.Options{DataDir: dir + "/pgdata", Fast: true})
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	defer srv.Stop()
	url := srv.URL("postgres")
	if err := devdb.ApplyCompat(ctx, url); err != nil {
		return err
	}
	if err := migrations.Up(url); err != nil {
		return err
	}
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{MaxConns: 16})
	if err != nil {
		return err
	}
	defer pool.Close()
	box, _ := secret.NewBox(make([]byte, 32))

	var tenantID, sessionID string
	if err := pool.QueryRow(ctx, `INSERT INTO tenants (client_id, name) VALUES ('bench', 'Bench') RETURNING id`).Scan(&tenantID); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type, state) VALUES ($1, '5511900000000', 'sandbox', 'connected') RETURNING id`, tenantID).Scan(&sessionID); err != nil {
		return err
	}
	svc := ai.NewService(store.New(pool), box)
	if _, err := svc.CreateAgent(ctx, tenantID, ai.CreateAgentParams{Template: ai.TypeCustomerSupport}); err != nil {
		return err
	}

	model := &aitest.ScriptedModel{Func: func(int, ai.Request) (ai.Response, error) {
		return ai.Response{Text: "ok", Usage: ai.Usage{InputTokens: 1, OutputTokens: 1}}, nil
	}}
	done := make(chan ai.TurnResult, turns)
	rt := ai.NewRuntime(ai.RuntimeParams{
		Store: store.New(pool), Box: box,
		Backends:     map[string]ai.ModelFactoryFunc{"zero": func(ai.ModelSpec) (ai.Model, error) { return model, nil }},
		GlobalModels: []ai.ModelSpec{{Backend: "zero"}},
		// No debounce and no loop cap: every inbound row is one turn.
		Config:     ai.RuntimeConfig{DebounceWindow: -1, MaxConsecutiveReplies: 1 << 30, ScanInterval: time.Hour},
		OnTurnFunc: func(r ai.TurnResult) { done <- r },
	})
	if err := rt.Start(ctx); err != nil {
		return err
	}
	defer rt.Stop()
	events := dispatch.NewEvents(pool)

	lat := make([]time.Duration, 0, turns)
	const warmup = 50
	for i := range turns + warmup {
		var ids []string
		events.OnInboundFunc = func(_ context.Context, rowIDs []string) { ids = rowIDs }
		err := events.Inbound(ctx, providers.InboundMessage{TenantID: tenantID, SessionID: sessionID, Provider: zapbase.ProviderSandbox,
			ProviderMessageID: fmt.Sprintf("bench-%d", i), From: fmt.Sprintf("55119%08d", i%contacts), To: "5511900000000",
			Type: zapbase.MessageText, Content: providers.Content{Text: "Qual o horário de atendimento?"}})
		if err != nil {
			return err
		}
		start := time.Now()
		if err := rt.HandleInbound(ctx, ids); err != nil {
			return err
		}
		for {
			r := <-done
			if r.Err != nil {
				return r.Err
			}
			if r.Outcome == ai.OutcomeReplied {
				break
			}
		}
		if i >= warmup {
			lat = append(lat, time.Since(start))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("aiturn: %d turns, %d conversations, zero-latency model: runtime overhead per turn p50=%s p99=%s max=%s (target p99 < 20ms)\n",
		len(lat), contacts, p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	return nil
}
