package webhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/webhooks"
)

const waitFor = 15 * time.Second

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

// Events of every kind reach a real receiver signed over "<ts>.<body>",
// with the documented payload; only a prefix of the answer is stored.
func TestWebhookDeliversSignedPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	rc := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
	})
	sub, plain, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL + "/hook",
		Events: []string{webhooks.EventMessageReceived, webhooks.EventMessageStatus, webhooks.EventSessionState, webhooks.EventSessionQR, webhooks.EventAIReply}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(plain, webhooks.SecretPrefix))
	var stored []byte
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT secret_ciphertext FROM wa.webhook_subscriptions WHERE id = $1`, sub.ID).Scan(&stored))
	require.NotContains(t, string(stored), plain, "the secret is stored sealed")

	msgID := f.inbound(f.tenantID, f.session, "5511988887777", "Oi, quero um orçamento")
	var outID string
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, session_id, to_number, content)
		VALUES ($1, $2, '5511988887777', '{"text":"Olá!"}') RETURNING id`, f.tenantID, f.session).Scan(&outID))
	_, err = f.pool.Exec(ctx, `UPDATE public.messages SET status = 'failed', error_code = 'provider_rejected', error_reason = 'Número inválido' WHERE id = $1`, outID)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE public.whatsapp_sessions SET state = 'pairing', qr_code = '2@qr' WHERE id = $1`, f.session)
	require.NoError(t, err)

	fo := f.fanout()
	// message.received, message.status (failed), session.state, session.qr.
	require.Equal(t, 4, f.fanoutAll(fo))
	f.run(f.deliverer(nil))
	require.Eventually(t, func() bool { return len(rc.requests()) == 4 }, waitFor, 10*time.Millisecond)

	byEvent := map[string]map[string]any{}
	for _, r := range rc.requests() {
		require.NoError(t, webhooks.Verify(plain, r.header.Get(webhooks.HeaderTimestamp), r.header.Get(webhooks.HeaderSignature), r.body, time.Now()))
		require.Error(t, webhooks.Verify("whsec_other", r.header.Get(webhooks.HeaderTimestamp), r.header.Get(webhooks.HeaderSignature), r.body, time.Now()))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		require.Equal(t, "1", r.header.Get(webhooks.HeaderAttempt))
		p := decode(t, r.body)
		require.Equal(t, r.header.Get(webhooks.HeaderEvent), p["event"])
		require.Equal(t, r.header.Get(webhooks.HeaderEventID), p["id"])
		require.Equal(t, "acme", p["clientId"])
		require.Equal(t, f.tenantID, p["tenantId"])
		require.NotEmpty(t, p["occurredAt"])
		byEvent[p["event"].(string)] = p
	}
	rec := byEvent["message.received"]["message"].(map[string]any)
	require.Equal(t, msgID, rec["id"])
	require.Equal(t, "5511988887777", rec["from"])
	require.Equal(t, "5511900000000", rec["to"])
	require.Equal(t, "inbound", rec["direction"])
	require.Equal(t, "text", rec["type"])
	require.Equal(t, "Oi, quero um orçamento", rec["content"].(map[string]any)["text"])
	require.True(t, strings.HasPrefix(rec["providerMessageId"].(string), "wamid."))
	require.Equal(t, "5511900000000", byEvent["message.received"]["session"].(map[string]any)["phoneNumber"])
	require.Equal(t, "5511988887777", byEvent["message.received"]["chat"])

	st := byEvent["message.status"]["message"].(map[string]any)
	require.Equal(t, outID, st["id"])
	require.Equal(t, "failed", st["status"])
	require.Equal(t, "pending", st["previousStatus"])
	require.Equal(t, "provider_rejected", st["errorCode"])
	require.Equal(t, "Número inválido", st["errorReason"])

	ss := byEvent["session.state"]["session"].(map[string]any)
	require.Equal(t, "pairing", ss["state"])
	require.Equal(t, "connected", ss["previousState"])
	require.Equal(t, "2@qr", byEvent["session.qr"]["session"].(map[string]any)["qrCode"])

	require.Eventually(t, func() bool {
		for _, id := range f.deliveryIDs(sub.ID) {
			if f.delivery(id).State != webhooks.StateDelivered {
				return false
			}
		}
		return true
	}, waitFor, 10*time.Millisecond)
	d := f.delivery(f.deliveryIDs(sub.ID)[0])
	require.Len(t, d.LastResponse, webhooks.ResponsePrefixBytes, "only a prefix of the answer is stored")
	require.Equal(t, 200, *d.LastStatus)
}

// A receiver failing with 500 gets the same delivery again (backoff) and
// never sees a later event of the same conversation before the earlier one
// was accepted; other conversations do not wait.
func TestWebhookRetriesInOrderPerConversation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var mu sync.Mutex
	failFirst := map[string]int{} // message text → failures left
	failFirst["x1"] = 2
	rc := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		w.WriteHeader(200)
	})
	rc.respond = func(n int, _ *http.Request, w http.ResponseWriter) {
		rc.mu.Lock()
		p := decode(t, rc.got[n-1].body)
		rc.mu.Unlock()
		text := p["message"].(map[string]any)["content"].(map[string]any)["text"].(string)
		mu.Lock()
		defer mu.Unlock()
		if failFirst[text] > 0 {
			failFirst[text]--
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"message":"Workflow could not be started"}`))
			return
		}
		w.WriteHeader(200)
	}
	sub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	f.inbound(f.tenantID, f.session, "5511911111111", "x1")
	f.inbound(f.tenantID, f.session, "5511911111111", "x2")
	f.inbound(f.tenantID, f.session, "5511922222222", "y1")
	require.Equal(t, 3, f.fanoutAll(f.fanout()))
	ids := f.deliveryIDs(sub.ID)
	f.run(f.deliverer(nil))
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if f.delivery(id).State != webhooks.StateDelivered {
				return false
			}
		}
		return true
	}, waitFor, 10*time.Millisecond)

	var order []string
	for _, r := range rc.requests() {
		order = append(order, decode(t, r.body)["message"].(map[string]any)["content"].(map[string]any)["text"].(string))
	}
	var chatX []string
	for _, s := range order {
		if s != "y1" {
			chatX = append(chatX, s)
		}
	}
	require.Equal(t, []string{"x1", "x1", "x1", "x2"}, chatX, "x2 waited for x1 (all of %v)", order)
	d := f.delivery(ids[0])
	require.Equal(t, 3, d.Attempts)
	require.Equal(t, 1, f.delivery(ids[1]).Attempts)
	require.Equal(t, 1, f.delivery(ids[2]).Attempts)
}

// A receiver that never answers times out; after the retry window the
// delivery is dead-lettered, visible with the reason.
func TestWebhookTimeoutThenDeadLetter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, r *http.Request, _ http.ResponseWriter) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	sub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	f.inbound(f.tenantID, f.session, "5511911111111", "oi")
	require.Equal(t, 1, f.fanoutAll(f.fanout()))
	id := f.deliveryIDs(sub.ID)[0]
	obs := &observer{}
	f.run(f.deliverer(func(c *webhooks.DelivererConfig) {
		c.Client = webhooks.NewClient(webhooks.ClientConfig{Policy: f.policy, Timeout: 100 * time.Millisecond})
		c.RetryFor = 250 * time.Millisecond
		c.Observer = obs
	}))
	require.Eventually(t, func() bool { return f.delivery(id).State == webhooks.StateDead }, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool { return obs.count(webhooks.AttemptDead) == 1 }, waitFor, 10*time.Millisecond)
	d := f.delivery(id)
	require.Nil(t, d.LastStatus)
	require.Contains(t, d.LastError, "Tempo esgotado")
	require.GreaterOrEqual(t, d.Attempts, 1)
	require.Len(t, rc.requests(), d.Attempts)
	require.Equal(t, d.Attempts-1, obs.count(webhooks.AttemptRetry))

	page, err := f.store.ListDeliveries(ctx, f.tenantID, sub.ID, webhooks.ListDeliveriesParams{State: webhooks.StateDead})
	require.NoError(t, err)
	require.Len(t, page.Deliveries, 1)
	require.NotNil(t, page.Deliveries[0].DeadAt)
}

// 410 Gone dead-letters the delivery and switches the subscription off;
// after the user turns it back on, a replay is delivered.
func TestWebhookGoneDisablesSubscriptionAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var gone sync.Mutex
	answer := http.StatusGone
	rc := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		gone.Lock()
		defer gone.Unlock()
		w.WriteHeader(answer)
	})
	sub, plain, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	f.inbound(f.tenantID, f.session, "5511911111111", "oi")
	fo := f.fanout()
	require.Equal(t, 1, f.fanoutAll(fo))
	id := f.deliveryIDs(sub.ID)[0]
	obs := &observer{}
	f.run(f.deliverer(func(c *webhooks.DelivererConfig) { c.Observer = obs }))
	require.Eventually(t, func() bool { return f.delivery(id).State == webhooks.StateDead }, waitFor, 10*time.Millisecond)
	require.Equal(t, 410, *f.delivery(id).LastStatus)
	require.Equal(t, 1, obs.count(webhooks.AttemptGone))
	s, err := f.store.Get(ctx, f.tenantID, sub.ID)
	require.NoError(t, err)
	require.False(t, s.IsActive)
	require.Equal(t, webhooks.DisabledGone, s.DisabledReason)
	require.NotNil(t, s.DisabledAt)

	// While off, new events are not fanned out to it, not even once it is
	// back on.
	f.inbound(f.tenantID, f.session, "5511911111111", "outra")
	r, err := fo.Step(ctx)
	require.NoError(t, err)
	require.False(t, r.Locked, "no active subscription: the feed is not read")

	gone.Lock()
	answer = http.StatusOK
	gone.Unlock()
	on := true
	s, _, err = f.store.Update(ctx, f.tenantID, sub.ID, webhooks.UpdateParams{IsActive: &on})
	require.NoError(t, err)
	require.True(t, s.IsActive)
	require.Empty(t, s.DisabledReason)
	require.Equal(t, 0, f.fanoutAll(fo))
	rd, err := f.store.Replay(ctx, f.tenantID, id)
	require.NoError(t, err)
	require.Equal(t, id, rd.ReplayOf)
	require.Equal(t, webhooks.StatePending, rd.State)
	require.Eventually(t, func() bool { return f.delivery(rd.ID).State == webhooks.StateDelivered }, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool { return obs.count(webhooks.AttemptDelivered) == 1 }, waitFor, 10*time.Millisecond)
	reqs := rc.requests()
	require.Equal(t, reqs[0].header.Get(webhooks.HeaderEventID), reqs[len(reqs)-1].header.Get(webhooks.HeaderEventID), "a replay keeps the event id")
	require.NotEqual(t, reqs[0].header.Get(webhooks.HeaderDeliveryID), reqs[len(reqs)-1].header.Get(webhooks.HeaderDeliveryID))
	last := reqs[len(reqs)-1]
	require.NoError(t, webhooks.Verify(plain, last.header.Get(webhooks.HeaderTimestamp), last.header.Get(webhooks.HeaderSignature), last.body, time.Now()),
		"an update without rotateSecret keeps the secret")
	require.Equal(t, reqs[0].body, last.body, "a replay sends the same bytes")

	// Replaying something still open, or another tenant's delivery, fails.
	other, _ := f.newTenant("other")
	_, err = f.store.Replay(ctx, other, rd.ID)
	require.ErrorContains(t, err, "não encontrada")
}

// Subscriptions get only their tenant's events, of their event types, of
// their session, and only what happened after they were created.
func TestWebhookFanoutFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	fo := f.fanout()
	rc := newReceiver(t, nil)
	f.inbound(f.tenantID, f.session, "5511911111111", "before")
	var session2 string
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
		VALUES ($1, '5511900000001', 'sandbox', 'connected') RETURNING id`, f.tenantID).Scan(&session2))

	all, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	only2, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}, SessionID: session2})
	require.NoError(t, err)
	status, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageStatus}})
	require.NoError(t, err)
	otherTenant, otherSession := f.newTenant("other")

	f.inbound(f.tenantID, f.session, "5511911111111", "s1")
	f.inbound(f.tenantID, session2, "5511911111111", "s2")
	f.inbound(otherTenant, otherSession, "5511911111111", "other")
	require.Equal(t, 3, f.fanoutAll(fo))
	require.Len(t, f.deliveryIDs(all.ID), 2)
	require.Len(t, f.deliveryIDs(only2.ID), 1)
	require.Empty(t, f.deliveryIDs(status.ID))

	// A session filter of another tenant is refused.
	_, _, err = f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}, SessionID: otherSession})
	require.ErrorContains(t, err, "sessionId")
	_, err = f.store.Get(ctx, otherTenant, all.ID)
	require.ErrorContains(t, err, "não encontrada")
}

// With no active subscription the fan-out reads nothing (one probe per
// poll) and, from time to time, moves its cursor to the end of the feed.
// Two replicas fanning out at once never duplicate a delivery.
func TestWebhookFanoutIdleAndConcurrentReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	fo := f.fanout()
	f.inbound(f.tenantID, f.session, "5511911111111", "idle")
	r, err := fo.Step(ctx)
	require.NoError(t, err)
	require.Equal(t, webhooks.StepResult{}, r)

	idle, err := webhooks.NewFanout(webhooks.FanoutConfig{Store: f.db, PollInterval: 10 * time.Millisecond, IdleAdvance: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, idle.Start(ctx))
	require.Eventually(t, func() bool {
		var behind bool
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM wa.change_log c, wa.webhook_cursor k
			WHERE k.name = 'fanout' AND (c.txid, c.id) > (k.txid, k.id))`).Scan(&behind))
		return !behind
	}, waitFor, 10*time.Millisecond)
	idle.Stop()
	idle.Stop() // idempotent

	rc := newReceiver(t, nil)
	sub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	const n = 60
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		replica, err := webhooks.NewFanout(webhooks.FanoutConfig{Store: f.db, BatchSize: 7})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := replica.Step(ctx)
				require.NoError(t, err)
			}
		}()
	}
	for i := range n {
		f.inbound(f.tenantID, f.session, "55119"+strings.Repeat("0", 7)+string(rune('0'+i%3)), "m")
	}
	require.Eventually(t, func() bool { return len(f.deliveryIDs(sub.ID)) >= n }, waitFor, 10*time.Millisecond)
	close(stop)
	wg.Wait()
	var total, distinct int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM wa.webhook_deliveries WHERE subscription_id = $1`, sub.ID).Scan(&total, &distinct))
	require.Equal(t, n, total)
	require.Equal(t, n, distinct)
	require.Empty(t, rc.requests(), "nothing is sent without a deliverer")
}

// A delivery left in sending by a crashed owner is taken over after its
// lease; two deliverers share the work, each delivery reaches the receiver
// once, and every conversation is received in order.
func TestWebhookCrashRecoveryAndTwoDeliverers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	rc := newReceiver(t, nil)
	sub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	const n = 30
	for i := range n {
		f.inbound(f.tenantID, f.session, "5511900000"+string(rune('0'+i%3)), string(rune('A'+i)))
	}
	require.Equal(t, n, f.fanoutAll(f.fanout()))
	ids := f.deliveryIDs(sub.ID)
	// The first delivery was claimed by a process that died mid-send.
	_, err = f.pool.Exec(ctx, `UPDATE wa.webhook_deliveries SET state = 'sending', claimed_by = 'crashed/1', attempts = 1,
		claim_expires_at = now() - interval '1 second', next_attempt_at = now() - interval '1 second' WHERE id = $1`, ids[0])
	require.NoError(t, err)
	for i := range 2 {
		f.run(f.deliverer(func(c *webhooks.DelivererConfig) { c.Owner = "replica/" + string(rune('a'+i)); c.Workers = 3 }))
	}
	require.Eventually(t, func() bool {
		var open int
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM wa.webhook_deliveries WHERE subscription_id = $1 AND state <> 'delivered'`, sub.ID).Scan(&open))
		return open == 0
	}, waitFor, 10*time.Millisecond)
	require.Equal(t, 2, f.delivery(ids[0]).Attempts)
	reqs := rc.requests()
	require.Len(t, reqs, n)
	perChat := map[string][]string{}
	seen := map[string]bool{}
	for _, r := range reqs {
		p := decode(t, r.body)
		require.False(t, seen[p["id"].(string)], "delivered twice")
		seen[p["id"].(string)] = true
		m := p["message"].(map[string]any)
		perChat[m["from"].(string)] = append(perChat[m["from"].(string)], m["content"].(map[string]any)["text"].(string))
	}
	for chat, texts := range perChat {
		for i := 1; i < len(texts); i++ {
			require.Less(t, texts[i-1], texts[i], "chat %s out of order: %v", chat, texts)
		}
	}
}

// Stop lets an attempt in flight finish (its outcome is recorded); one
// that outlives DrainTimeout is cancelled and goes back to pending at once.
func TestWebhookStopDrainsAttemptsInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		arrived <- struct{}{}
		select {
		case <-release:
			w.WriteHeader(200)
		case <-r.Context().Done():
		}
	})
	sub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: rc.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	f.inbound(f.tenantID, f.session, "5511911111111", "a")
	require.Equal(t, 1, f.fanoutAll(f.fanout()))
	id := f.deliveryIDs(sub.ID)[0]

	d := f.deliverer(nil)
	require.NoError(t, d.Start(ctx))
	<-arrived
	stopped := make(chan struct{})
	go func() { d.Stop(); close(stopped) }()
	close(release)
	<-stopped
	require.Equal(t, webhooks.StateDelivered, f.delivery(id).State, "the attempt in flight finished")

	// A receiver that never answers outlives the drain: cancelled, pending.
	f.inbound(f.tenantID, f.session, "5511911111111", "b")
	require.Equal(t, 1, f.fanoutAll(f.fanout()))
	id = f.deliveryIDs(sub.ID)[1]
	rc.respond = func(_ int, r *http.Request, _ http.ResponseWriter) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}
	d = f.deliverer(func(c *webhooks.DelivererConfig) { c.DrainTimeout = 50 * time.Millisecond })
	require.NoError(t, d.Start(ctx))
	<-arrived
	d.Stop()
	d.Stop()
	row := f.delivery(id)
	require.Equal(t, webhooks.StatePending, row.State)
	require.Equal(t, 1, row.Attempts)
	var due bool
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT next_attempt_at <= now() FROM wa.webhook_deliveries WHERE id = $1`, id).Scan(&due))
	require.True(t, due, "a cancelled attempt is retried as soon as a deliverer runs")
}

// An outbound row may get its session only after its first events: the
// events before and after are still one conversation.
func TestWebhookOrderingKeyIgnoresLateSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	sub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: "http://127.0.0.1:1/x",
		Events: []string{webhooks.EventMessageStatus}})
	require.NoError(t, err)
	var id string
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, to_number, content)
		VALUES ($1, '5511988887777', '{"text":"oi"}') RETURNING id`, f.tenantID).Scan(&id))
	for _, st := range []string{"sending", "sent"} {
		_, err = f.pool.Exec(ctx, `UPDATE public.messages SET status = $2 WHERE id = $1`, id, st)
		require.NoError(t, err)
	}
	_, err = f.pool.Exec(ctx, `UPDATE public.messages SET status = 'delivered', session_id = $2 WHERE id = $1`, id, f.session)
	require.NoError(t, err)
	require.GreaterOrEqual(t, f.fanoutAll(f.fanout()), 2, "sent (no session yet) and delivered (with it)")
	var keys []string
	rows, err := f.pool.Query(ctx, `SELECT ordering_key FROM wa.webhook_deliveries WHERE subscription_id = $1 ORDER BY seq`, sub.ID)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	for _, k := range keys {
		require.Equal(t, "chat:5511988887777", k)
	}
}

// A receiver that hangs holds at most PerSubscription attempts: other
// subscriptions' deliveries keep flowing.
func TestWebhookSlowReceiverDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	slow := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	fast := newReceiver(t, nil)
	slowSub, _, err := f.store.Create(ctx, f.tenantID, webhooks.CreateParams{URL: slow.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	otherTenant, otherSession := f.newTenant("other")
	fastSub, _, err := f.store.Create(ctx, otherTenant, webhooks.CreateParams{URL: fast.URL, Events: []string{webhooks.EventMessageReceived}})
	require.NoError(t, err)
	for i := range 10 {
		f.inbound(f.tenantID, f.session, "551190000000"+string(rune('0'+i)), "slow")
	}
	require.Equal(t, 10, f.fanoutAll(f.fanout()))
	f.run(f.deliverer(func(c *webhooks.DelivererConfig) {
		c.Workers, c.PerSubscription = 4, 2
		// The hanging attempts hang until released, not until a timeout.
		c.Client = webhooks.NewClient(webhooks.ClientConfig{Policy: f.policy, Timeout: time.Minute})
	}))
	require.Eventually(t, func() bool { return len(slow.requests()) == 2 }, waitFor, 10*time.Millisecond)

	for i := range 3 {
		f.inbound(otherTenant, otherSession, "551191111111"+string(rune('0'+i)), "fast")
	}
	require.Equal(t, 3, f.fanoutAll(f.fanout()))
	require.Eventually(t, func() bool {
		for _, id := range f.deliveryIDs(fastSub.ID) {
			if f.delivery(id).State != webhooks.StateDelivered {
				return false
			}
		}
		return true
	}, waitFor, 10*time.Millisecond)
	close(release)
	require.Eventually(t, func() bool {
		for _, id := range f.deliveryIDs(slowSub.ID) {
			if f.delivery(id).State != webhooks.StateDelivered {
				return false
			}
		}
		return true
	}, waitFor, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 2, maxInFlight, "the slow subscription never had more than PerSubscription attempts at once")
}
