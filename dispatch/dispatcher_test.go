package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
	"github.com/zapbase/zapbase/startstop/startstoptest"
)

func TestWakeSendsAndReceiptsWalkToRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	sb := newSandbox(t, sandbox.Config{Sink: dispatch.NewEvents(e.pool), SentDelay: -1,
		DeliveredDelay: time.Millisecond, ReadDelay: 2 * time.Millisecond})
	cfg := testConfig("a")
	cfg.ReconcileInterval = time.Hour // only Wake may send in this test
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb)})

	id := e.insert(e.tenant, msg{to: "5511988887777", text: "olá"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := d.WaitFinal(ctx, id)
	require.NoError(t, err)
	require.Contains(t, []zapbase.Status{zapbase.StatusSent, zapbase.StatusDelivered, zapbase.StatusRead}, st)

	r := e.waitStatus(id, zapbase.StatusRead)
	require.Equal(t, zapbase.ProviderSandbox, r.Provider, "auto resolved to the session's provider")
	require.Equal(t, sess, r.SessionID)
	require.Equal(t, "5511900000001", r.From)
	require.Equal(t, 1, r.Attempts)
	require.Empty(t, r.ClaimedBy)
	require.Equal(t, 1, sb.SendCount(r.MessageID))

	// A second wake for a row that is no longer pending claims nothing.
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	require.Equal(t, 1, sb.Stats().Total)
}

func TestConcurrentDispatchersNeverDoubleClaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	const n = 400
	ms := make([]msg, n)
	for i := range ms {
		ms[i] = msg{to: fmt.Sprintf("55119%08d", i%37), text: fmt.Sprintf("m%d", i)}
	}
	ids := e.insert(e.tenant, ms...)

	var sbs []*sandbox.Provider
	var ds []*dispatch.Dispatcher
	for i := range 3 {
		sb := newSandbox(t, sandbox.Config{})
		sbs = append(sbs, sb)
		cfg := testConfig(fmt.Sprintf("replica-%d", i))
		cfg.ReconcileBatch = 25
		ds = append(ds, e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb)}))
	}
	// Every replica is woken for every row at once, while the reconcilers scan.
	var wg sync.WaitGroup
	for _, d := range ds {
		for start := 0; start < n; start += 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, d.Wake(context.Background(), ids[start:start+50]))
			}()
		}
	}
	wg.Wait()
	for _, id := range ids {
		e.waitStatus(id, zapbase.StatusSent)
	}
	counts := map[string]int{}
	total := 0
	for _, sb := range sbs {
		for id, c := range sb.SendCounts() {
			counts[id] += c
			total += c
		}
	}
	require.Equal(t, n, total, "every row sent exactly once across replicas")
	require.Len(t, counts, n)
	var attempts int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT max(attempts) FROM public.messages`).Scan(&attempts))
	require.Equal(t, 1, attempts, "no row was claimed twice")
}

// blockingProvider counts sends through a sandbox and then blocks until
// released: the owner "dies" mid-send from the database's point of view.
type blockingProvider struct {
	*sandbox.Provider
	started chan string
	release chan struct{}
}

func (p *blockingProvider) Send(ctx context.Context, m providers.OutboundMessage) (providers.SendResult, error) {
	res, err := p.Provider.Send(ctx, m)
	p.started <- m.ProviderMessageID
	<-p.release
	return res, err
}

func TestCrashedClaimIsRecoveredAndResendReusesID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	dead := &blockingProvider{Provider: newSandbox(t, sandbox.Config{}), started: make(chan string, 1), release: make(chan struct{})}
	var releaseOnce sync.Once
	releaseDead := func() { releaseOnce.Do(func() { close(dead.release) }) }
	cfgA := testConfig("doomed")
	cfgA.ReconcileInterval = time.Hour
	a := e.start(cfgA, dispatch.Deps{Registry: dispatch.NewRegistry(dead)})
	// Registered after the dispatcher's own cleanup, so it runs first
	// (cleanups run last-in first-out): a failed assertion must not leave
	// Stop waiting on the blocked send.
	t.Cleanup(releaseDead)

	id := e.insert(e.tenant, msg{to: "5511988887777", text: "sobrevive a crash"})[0]
	require.NoError(t, a.Wake(context.Background(), []string{id}))
	mid := <-dead.started
	require.NotEmpty(t, mid)
	r := e.row(id)
	require.Equal(t, zapbase.StatusSending, r.Status)
	require.Equal(t, mid, r.MessageID, "the provider id is stored before the send")
	require.Equal(t, "doomed", r.ClaimedBy)

	// The owner is gone; its claim runs out.
	_, err := e.pool.Exec(context.Background(), `UPDATE public.messages SET claim_expires_at = now() - interval '1 second' WHERE id = $1`, id)
	require.NoError(t, err)

	survivor := newSandbox(t, sandbox.Config{})
	e.start(testConfig("survivor"), dispatch.Deps{Registry: dispatch.NewRegistry(survivor)})
	r = e.waitStatus(id, zapbase.StatusSent)
	require.Equal(t, mid, r.MessageID)
	require.Equal(t, 1, survivor.SendCount(mid), "resent with the same provider id")
	require.Equal(t, 2, r.Attempts)

	// The dead owner's late outcome must not touch the row.
	releaseDead()
	a.Stop()
	r2 := e.row(id)
	require.Equal(t, zapbase.StatusSent, r2.Status)
	require.Equal(t, 2, r2.Attempts)
}

func TestRecoveredClaimWithoutCallerIDsIsAmbiguous(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000002", zapbase.ProviderMeta, "connected")
	id := e.insert(e.tenant, msg{to: "5511988887777", text: "meta", provider: zapbase.ProviderMeta, session: sess})[0]
	// A previous owner claimed it and died.
	_, err := e.pool.Exec(context.Background(), `UPDATE public.messages SET status = 'sending', claimed_by = 'dead', attempts = 1,
  claim_expires_at = now() - interval '1 second' WHERE id = $1`, id)
	require.NoError(t, err)
	meta := &noIDProvider{}
	e.start(testConfig("b"), dispatch.Deps{Registry: dispatch.NewRegistry(meta)})
	r := e.waitStatus(id, zapbase.StatusFailed)
	require.Equal(t, string(zapbase.CodeAmbiguousSend), r.ErrorCode)
	require.NotEmpty(t, r.ErrorReason)
	require.Zero(t, meta.sends.Load(), "never resent blindly")
}

// noIDProvider is a channel without caller ids (like Meta).
type noIDProvider struct{ sends atomic.Int64 }

func (p *noIDProvider) Type() zapbase.ProviderType { return zapbase.ProviderMeta }
func (p *noIDProvider) Capabilities() providers.Capabilities {
	return providers.Capabilities{MessageTypes: []zapbase.MessageType{zapbase.MessageText}}
}
func (p *noIDProvider) Send(ctx context.Context, m providers.OutboundMessage) (providers.SendResult, error) {
	n := p.sends.Add(1)
	return providers.SendResult{ProviderMessageID: fmt.Sprintf("wamid.%d", n)}, nil
}

func TestFailurePaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	sb := newSandbox(t, sandbox.Config{})
	cfg := testConfig("f")
	cfg.MaxAttempts = 3
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb)})
	wake := func(to string) string {
		t.Helper()
		id := e.insert(e.tenant, msg{to: to, text: "x"})[0]
		require.NoError(t, d.Wake(context.Background(), []string{id}))
		return id
	}

	t.Run("retryable then success", func(t *testing.T) {
		sb.FailNext(1, sandbox.ErrorOf("retryable"))
		id := wake("5511000000001")
		r := e.waitStatus(id, zapbase.StatusSent)
		require.Equal(t, 2, r.Attempts, "one failed attempt, one success")
		require.Empty(t, r.ErrorCode, "a successful send clears the last error")
	})

	t.Run("retries exhausted", func(t *testing.T) {
		sb.FailRecipient("5511000000002", sandbox.ErrorOf("retryable"))
		id := wake("5511000000002")
		r := e.waitStatus(id, zapbase.StatusFailed)
		require.Equal(t, string(zapbase.CodeRetriesExhausted), r.ErrorCode)
		require.Equal(t, 3, r.Attempts)
		require.Contains(t, r.ErrorReason, "3 tentativas")
	})

	t.Run("permanent", func(t *testing.T) {
		sb.FailRecipient("5511000000003", sandbox.ErrorOf("permanent"))
		id := wake("5511000000003")
		r := e.waitStatus(id, zapbase.StatusFailed)
		require.Equal(t, "sandbox_rejected", r.ErrorCode)
		require.Equal(t, "Mensagem recusada pelo sandbox (falha simulada).", r.ErrorReason)
		require.Equal(t, 1, r.Attempts)
	})

	t.Run("unsupported type fails before sending", func(t *testing.T) {
		id := e.insert(e.tenant, msg{to: "5511000000004", typ: zapbase.MessageSystem})[0]
		require.NoError(t, d.Wake(context.Background(), []string{id}))
		r := e.waitStatus(id, zapbase.StatusFailed)
		require.Equal(t, string(zapbase.CodeUnsupported), r.ErrorCode)
	})

	t.Run("ambiguous", func(t *testing.T) {
		sb.FailRecipient("5511000000005", sandbox.ErrorOf("ambiguous"))
		id := wake("5511000000005")
		r := e.waitStatus(id, zapbase.StatusFailed)
		require.Equal(t, string(zapbase.CodeAmbiguousSend), r.ErrorCode)
		require.NotEmpty(t, r.ErrorReason)
	})

	t.Run("rate limited per recipient does not burn attempts", func(t *testing.T) {
		sb.FailRecipient("5511000000006", &providers.RateLimitedError{After: time.Hour, Scope: providers.ScopeRecipient, Err: errors.New("131056")})
		id := wake("5511000000006")
		r := e.waitRow(id, "deferred", func(r row) bool { return r.Status == zapbase.StatusPending && r.ErrorCode != "" })
		require.Equal(t, 0, r.Attempts)
		require.Equal(t, string(zapbase.CodeRateLimited), r.ErrorCode)
		require.True(t, r.NextAttempt.After(time.Now().Add(50*time.Minute)))
		// Other recipients of the same number are not held back.
		other := wake("5511000000007")
		e.waitStatus(other, zapbase.StatusSent)
	})

	t.Run("session unavailable waits without burning attempts", func(t *testing.T) {
		sb.FailRecipient("5511000000008", sandbox.ErrorOf("session_unavailable"))
		id := wake("5511000000008")
		r := e.waitRow(id, "waiting", func(r row) bool {
			return r.Status == zapbase.StatusPending && r.ErrorCode == string(zapbase.CodeSessionUnavailable)
		})
		require.Equal(t, 0, r.Attempts)
		sb.ClearFailures()
		e.waitStatus(id, zapbase.StatusSent)
	})

	t.Run("auth lost marks the session and keeps the message", func(t *testing.T) {
		sb.FailRecipient("5511000000009", sandbox.ErrorOf("auth_lost"))
		id := wake("5511000000009")
		r := e.waitRow(id, "held", func(r row) bool {
			return r.Status == zapbase.StatusPending && r.ErrorCode == string(zapbase.CodeAuthLost)
		})
		require.Equal(t, 0, r.Attempts)
		var state string
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT state FROM public.whatsapp_sessions WHERE id = $1`, sess).Scan(&state))
		require.Equal(t, providers.StateAuthLost, state)
	})
}

func TestPerChatOrderWithParallelChats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	log := &sendLog{}
	// Chat A's first send waits until chat B has started sending: if chats
	// were not sent in parallel this would never happen.
	bStarted := make(chan struct{})
	var once sync.Once
	sb := newSandbox(t, sandbox.Config{OnSendFunc: func(m providers.OutboundMessage) {
		log.add(m)
		switch m.To {
		case "5511000000002":
			once.Do(func() { close(bStarted) })
		case "5511000000001":
			select {
			case <-bStarted:
			case <-time.After(15 * time.Second):
				t.Error("chats were not sent in parallel")
			}
		}
	}})
	d := e.start(testConfig("o"), dispatch.Deps{Registry: dispatch.NewRegistry(sb)})
	const perChat = 30
	var ms []msg
	for i := range perChat {
		for c := 1; c <= 4; c++ {
			ms = append(ms, msg{to: fmt.Sprintf("551100000000%d", c), text: fmt.Sprintf("%d", i)})
		}
	}
	ids := e.insert(e.tenant, ms...)
	require.NoError(t, d.Wake(context.Background(), ids))
	for _, id := range ids {
		e.waitStatus(id, zapbase.StatusSent)
	}
	next := map[string]int{}
	for _, m := range log.all() {
		require.Equal(t, fmt.Sprintf("%d", next[m.To]), m.Content.Text, "order broken in chat %s", m.To)
		next[m.To]++
	}
	for c := 1; c <= 4; c++ {
		require.Equal(t, perChat, next[fmt.Sprintf("551100000000%d", c)])
	}
}

func TestRetriedMessageHoldsItsChat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	log := &sendLog{}
	sb := newSandbox(t, sandbox.Config{OnSendFunc: log.add})
	sb.FailNext(1, sandbox.ErrorOf("retryable"))
	cfg := testConfig("h")
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb)})
	ids := e.insert(e.tenant, msg{to: "5511000000001", text: "0"}, msg{to: "5511000000001", text: "1"}, msg{to: "5511000000001", text: "2"})
	require.NoError(t, d.Wake(context.Background(), ids))
	for _, id := range ids {
		e.waitStatus(id, zapbase.StatusSent)
	}
	var got []string
	for _, m := range log.all() {
		got = append(got, m.Content.Text)
	}
	// The first attempt of "0" failed; the chat waited for its retry.
	require.Equal(t, []string{"0", "0", "1", "2"}, got)
	require.Equal(t, 0, e.row(ids[1]).Attempts-1, "held messages did not burn attempts")
}

func TestAutoProviderFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := e.newTenant("fallback", zapbase.ProviderMeta, `{}`)
	metaSess := e.newSession(tenant, "5511900000010", zapbase.ProviderMeta, "disconnected")
	sbSess := e.newSession(tenant, "5511900000011", zapbase.ProviderSandbox, "connected")
	metaLog, sbLog := &sendLog{}, &sendLog{}
	meta := typed{Provider: newSandbox(t, sandbox.Config{OnSendFunc: metaLog.add}), typ: zapbase.ProviderMeta}
	sb := newSandbox(t, sandbox.Config{OnSendFunc: sbLog.add})
	d := e.start(testConfig("auto"), dispatch.Deps{Registry: dispatch.NewRegistry(meta, sb)})

	// Preferred (meta) has no usable session: the other one sends.
	id := e.insert(tenant, msg{to: "5511988887777", text: "a"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	r := e.waitStatus(id, zapbase.StatusSent)
	require.Equal(t, zapbase.ProviderSandbox, r.Provider)
	require.Equal(t, sbSess, r.SessionID)

	// Preferred usable again: it wins.
	e.setSessionState(metaSess, "connected")
	id = e.insert(tenant, msg{to: "5511988887777", text: "b"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	r = e.waitStatus(id, zapbase.StatusSent)
	require.Equal(t, zapbase.ProviderMeta, r.Provider)
	require.Equal(t, metaSess, r.SessionID)
	require.Len(t, metaLog.all(), 1)
	require.Len(t, sbLog.all(), 1)

	// settings.preferredProvider overrides default_provider.
	_, err := e.pool.Exec(context.Background(), `UPDATE public.tenants SET settings = '{"preferredProvider":"sandbox"}' WHERE id = $1`, tenant)
	require.NoError(t, err)
	id = e.insert(tenant, msg{to: "5511988887777", text: "c"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	require.Equal(t, zapbase.ProviderSandbox, e.waitStatus(id, zapbase.StatusSent).Provider)

	// Explicit provider without any session of that kind: fails at once.
	id = e.insert(tenant, msg{to: "5511988887777", text: "d", provider: zapbase.ProviderBaileys})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	r = e.waitStatus(id, zapbase.StatusFailed)
	require.Equal(t, string(zapbase.CodeSessionUnavailable), r.ErrorCode)
	require.Equal(t, 0, r.Attempts-1)

	// Explicit session that is not connected: waits, attempts untouched.
	e.setSessionState(metaSess, "disconnected")
	id = e.insert(tenant, msg{to: "5511988887777", text: "e", session: metaSess})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	r = e.waitRow(id, "waiting for session", func(r row) bool {
		return r.Status == zapbase.StatusPending && r.ErrorCode == string(zapbase.CodeSessionUnavailable)
	})
	require.Equal(t, 0, r.Attempts)
	e.setSessionState(metaSess, "connected")
	r = e.waitStatus(id, zapbase.StatusSent)
	require.Equal(t, zapbase.ProviderMeta, r.Provider)
}

func TestSessionWaitMaxFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "disconnected")
	cfg := testConfig("w")
	cfg.SessionWaitMax = time.Nanosecond
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(newSandbox(t, sandbox.Config{}))})
	id := e.insert(e.tenant, msg{to: "5511988887777", text: "x"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	r := e.waitStatus(id, zapbase.StatusFailed)
	require.Equal(t, string(zapbase.CodeSessionUnavailable), r.ErrorCode)
	require.Contains(t, r.ErrorReason, "disconnected")
}

func TestLeaseFilterKeepsBaileysRowsForTheHolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000001", zapbase.ProviderBaileys, "connected")
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `INSERT INTO wa.session_leases (session_id, holder, expires_at) VALUES ($1, 'other', now() + interval '1 hour')`, sess)
	require.NoError(t, err)
	wa := typed{Provider: newSandbox(t, sandbox.Config{}), typ: zapbase.ProviderBaileys}
	var handed atomic.Int64
	cfg := testConfig("me")
	cfg.LeaseHolder = "me"
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(wa), HandoffFunc: func(ctx context.Context, sid string, ids []string) {
		if sid == sess {
			handed.Add(int64(len(ids)))
		}
	}})

	// Row naming the session: never claimed by a non-holder.
	pinned := e.insert(e.tenant, msg{to: "5511988887777", text: "x", provider: zapbase.ProviderBaileys, session: sess})[0]
	require.NoError(t, d.Wake(ctx, []string{pinned}))
	// Row without a session: claimed, resolved to the leased session and
	// handed over (provider and session stored, attempt given back).
	loose := e.insert(e.tenant, msg{to: "5511988887777", text: "y"})[0]
	require.NoError(t, d.Wake(ctx, []string{loose}))
	r := e.waitRow(loose, "handed over", func(r row) bool { return r.SessionID == sess && r.Status == zapbase.StatusPending })
	require.Equal(t, zapbase.ProviderBaileys, r.Provider)
	require.Equal(t, 0, r.Attempts)
	require.Equal(t, int64(1), handed.Load())
	require.NoError(t, d.Resync(ctx))
	require.Equal(t, zapbase.StatusPending, e.row(pinned).Status)
	require.Equal(t, 0, e.row(pinned).Attempts)
	require.Zero(t, wa.Stats().Total)

	// The lease moves to us: both rows go out.
	_, err = e.pool.Exec(ctx, `UPDATE wa.session_leases SET holder = 'me' WHERE session_id = $1`, sess)
	require.NoError(t, err)
	e.waitStatus(pinned, zapbase.StatusSent)
	e.waitStatus(loose, zapbase.StatusSent)
}

type recordingInbound struct {
	mu  sync.Mutex
	ids []string
}

func (h *recordingInbound) HandleInbound(ctx context.Context, ids []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids = append(h.ids, ids...)
	return nil
}

func TestHandleInsertsRoutesInboundRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	in := &recordingInbound{}
	ev := dispatch.NewEvents(e.pool)
	sb := newSandbox(t, sandbox.Config{Sink: ev, NoReceipts: true})
	cfg := testConfig("i")
	cfg.ReconcileInterval = time.Hour
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb), Inbound: in})
	ctx := context.Background()
	var inboundIDs []string
	ev.OnInboundFunc = func(ctx context.Context, ids []string) { inboundIDs = append(inboundIDs, ids...) }
	_, err := sb.SimulateInbound(ctx, sandbox.InboundParams{TenantID: e.tenant, SessionID: sess, From: "5511988887777", To: "5511900000001", Content: providers.Content{Text: "oi"}})
	require.NoError(t, err)
	require.Len(t, inboundIDs, 1)
	out := e.insert(e.tenant, msg{to: "5511988887777", text: "resposta"})[0]

	require.NoError(t, d.HandleInserts(ctx, []string{inboundIDs[0], out}))
	e.waitStatus(out, zapbase.StatusSent)
	in.mu.Lock()
	defer in.mu.Unlock()
	require.Equal(t, inboundIDs, in.ids)
}

func TestStopDrainsAndIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	sb := newSandbox(t, sandbox.Config{SendLatency: 20 * time.Millisecond})
	cfg := testConfig("s")
	cfg.ReconcileInterval = time.Hour
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb)})
	var ms []msg
	for i := range 50 {
		ms = append(ms, msg{to: "5511000000001", text: fmt.Sprintf("%d", i)}) // one chat: sent one by one
	}
	ids := e.insert(e.tenant, ms...)
	require.NoError(t, d.Wake(context.Background(), ids))
	d.Stop()
	d.Stop()
	require.ErrorIs(t, d.Wake(context.Background(), ids), dispatch.ErrStopped)
	var sent, pending, other int
	for _, id := range ids {
		r := e.row(id)
		switch r.Status {
		case zapbase.StatusSent:
			sent++
			require.Equal(t, 1, r.Attempts)
		case zapbase.StatusPending:
			pending++
			require.Equal(t, 0, r.Attempts, "unsent messages are given back untouched")
			require.Empty(t, r.ClaimedBy)
		default:
			other++
		}
	}
	require.Zero(t, other, "no row is left sending after Stop")
	require.Equal(t, 50, sent+pending)
	require.Equal(t, sent, sb.Stats().Total)
}

func TestSentAtIsProviderAcceptTimeAndObserved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	var accepted time.Time
	sb := newSandbox(t, sandbox.Config{})
	obs := &recorder{}
	cfg := testConfig("t")
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb), Observer: obs})
	ids := e.insert(e.tenant, msg{to: "5511988887777", text: "a"}, msg{to: "5511988887778", text: "b"})
	require.NoError(t, d.Wake(context.Background(), ids[:1]))
	// ids[1] is left to the reconciler.
	for _, id := range ids {
		e.waitStatus(id, zapbase.StatusSent)
	}
	var createdAt time.Time
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT created_at, sent_at FROM public.messages WHERE id = $1`, ids[0]).Scan(&createdAt, &accepted))
	require.False(t, accepted.Before(createdAt))
	require.Equal(t, 2, obs.get("sent/sandbox"))
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Len(t, obs.latencies, 2)
	for _, l := range obs.latencies {
		require.Positive(t, l)
	}
	require.GreaterOrEqual(t, obs.counts["found/pending"], 1)
}

// A claim that has started is read to the end even when the caller gives
// up (shutdown cancels the change stream's context; an HTTP client may go
// away): an abandoned claim could commit unseen and leave its rows in
// sending until the lease expires.
func TestClaimSurvivesCallerCancellation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	cfg := testConfig("c")
	cfg.ReconcileInterval = time.Hour // only the Wake below can claim
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(newSandbox(t, sandbox.Config{Sink: dispatch.NewEvents(e.pool)}))})
	ids := e.insert(e.tenant, msg{to: "5511988887777", text: "a"}, msg{to: "5511988887777", text: "b"}, msg{to: "5511977776666", text: "c"})

	// Hold the claim statement on a table lock, cancel its caller, then let
	// it through.
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `LOCK TABLE public.messages IN SHARE MODE`)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Wake(wctx, ids) }()
	require.Eventually(t, func() bool {
		var waiting bool
		_ = e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database())`).Scan(&waiting)
		return waiting
	}, 10*time.Second, 10*time.Millisecond, "the claim waits on the lock")
	cancel()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done, "the claim completed despite the cancellation")
	for _, id := range ids {
		e.waitStatus(id, zapbase.StatusSent)
	}
}

// A provider with stable ids gets the row's own id: every claim of the row
// (even one redone after a database crash lost an asynchronous claim) sends
// the same id.
func TestClaimStoresTheRowsStableProviderID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	sb := newSandbox(t, sandbox.Config{})
	cfg := testConfig("stable")
	cfg.ReconcileInterval = time.Hour
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(sb)})
	id := e.insert(e.tenant, msg{to: "5511988887777", text: "olá"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	r := e.waitStatus(id, zapbase.StatusSent)
	require.Equal(t, sb.MessageIDFor(id), r.MessageID)
	require.NotEqual(t, sb.MessageIDFor(id), sb.MessageIDFor(e.insert(e.tenant, msg{to: "5511988887777", text: "x"})[0]))
}

// The dispatcher follows the shared lifecycle: concurrent Start and Stop
// from many goroutines, restarts included, under -race.
func TestDispatcherStartStopStress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d, err := dispatch.New(testConfig("stress"), dispatch.Deps{Pool: e.pool, Registry: dispatch.NewRegistry(newSandbox(t, sandbox.Config{}))})
	require.NoError(t, err)
	startstoptest.Stress(context.Background(), t, d)
	// Still usable after the storm: a row sent by a fresh run.
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(d.Stop)
	id := e.insert(e.tenant, msg{to: "5511988887777", text: "depois do estresse"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	e.waitStatus(id, zapbase.StatusSent)
}

// resolving answers, like WhatsApp Web after resolving Brazil's ninth
// digit, that the message went to another id than the row's number.
type resolving struct{ *sandbox.Provider }

func (p resolving) Send(ctx context.Context, m providers.OutboundMessage) (providers.SendResult, error) {
	res, err := p.Provider.Send(ctx, m)
	res.RecipientID = "5511988887777@s.whatsapp.net"
	return res, err
}

// The id the channel actually sent to is kept on the row (metadata.sentTo).
func TestSentToIsStoredOnTheRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	cfg := testConfig("sent-to")
	cfg.ReconcileInterval = time.Hour
	d := e.start(cfg, dispatch.Deps{Registry: dispatch.NewRegistry(resolving{newSandbox(t, sandbox.Config{})})})
	id := e.insert(e.tenant, msg{to: "551188887777", text: "oi"})[0]
	require.NoError(t, d.Wake(context.Background(), []string{id}))
	e.waitStatus(id, zapbase.StatusSent)
	var sentTo string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT metadata->>'sentTo' FROM public.messages WHERE id = $1`, id).Scan(&sentTo))
	require.Equal(t, "5511988887777@s.whatsapp.net", sentTo)
}
