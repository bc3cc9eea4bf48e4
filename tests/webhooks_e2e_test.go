package tests

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
	"github.com/zapbase/zapbase/webhooks"
)

// TestOutgoingWebhookEndToEnd runs the real binary: a tenant subscribes a
// receiver (n8n-like, on loopback, allowed by the operator's allow-list),
// sends a message through the sandbox, and the receiver gets every status
// change signed and in order — although it failed the first delivery with
// 500. The delivery log shows the retry; a replay arrives with the same
// event id.
func TestOutgoingWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	in := &instance{t: t, db: devdbtest.NewDatabase(t)}
	p := StartServe(t, in.db, map[string]string{
		"ZAPBASE_LISTENER":                 "false",
		"ZAPBASE_MEDIA_DIR":                t.TempDir(),
		"ZAPBASE_SANDBOX_RECEIPT_DELAY":    "60ms",
		"ZAPBASE_WEBHOOK_ALLOW_PRIVATE":    "127.0.0.1",
		"ZAPBASE_WEBHOOK_RETRY_BASE_DELAY": "100ms",
		"ZAPBASE_WEBHOOK_RETRY_MAX_DELAY":  "200ms",
	})
	in.base = p.BaseURL()
	adm := map[string]string{"Authorization": "Bearer " + testAdminToken}

	require.Equal(t, 201, in.call("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "acme", "name": "ACME"}).status)
	r := in.call("POST", "/api/v1/admin/tenants/acme/api-keys", adm, map[string]any{"name": "n8n"})
	require.Equal(t, 201, r.status, string(r.body))
	key := map[string]string{"X-API-Key": r.obj(t)["key"].(string)}
	r = in.call("POST", "/api/v1/sessions/initialize", key, map[string]any{"phoneNumber": "5511900000000", "provider": "sandbox"})
	require.Equal(t, 200, r.status, string(r.body))

	type got struct {
		status, eventID string
		code            int
	}
	var mu sync.Mutex
	var gotten []got
	var secret string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhooks.Verify(secret, r.Header.Get("X-Zapbase-Timestamp"), r.Header.Get("X-Zapbase-Signature"), body, time.Now()); err != nil {
			w.WriteHeader(401)
			return
		}
		var ev struct {
			Event   string `json:"event"`
			ID      string `json:"id"`
			Message struct {
				Status string `json:"status"`
			} `json:"message"`
		}
		_ = json.Unmarshal(body, &ev)
		code := 200
		if len(gotten) == 0 {
			code = 500 // the workflow is not up yet
		}
		gotten = append(gotten, got{ev.Message.Status, ev.ID, code})
		w.WriteHeader(code)
	}))
	defer rc.Close()

	in.call("POST", "/api/v1/webhooks/subscriptions", key, map[string]any{"url": "http://10.1.2.3/hook", "events": []string{"message.status"}}).
		problem(t, 422, "webhook_target_blocked")
	mu.Lock()
	r = in.call("POST", "/api/v1/webhooks/subscriptions", key, map[string]any{"url": rc.URL + "/webhook/zapbase", "events": []string{"message.status"}})
	require.Equal(t, 201, r.status, string(r.body))
	secret = r.obj(t)["secret"].(string)
	subID := r.obj(t)["subscription"].(map[string]any)["id"].(string)
	mu.Unlock()

	r = in.call("POST", "/api/v1/messages/text", key, map[string]any{"to": "5511988887777", "content": "Olá do zapbase!"})
	require.Equal(t, 200, r.status, string(r.body))

	accepted := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, g := range gotten {
			if g.code == 200 {
				out = append(out, g.status)
			}
		}
		return out
	}
	// The feed may or may not report the internal "sending" step (the
	// change feed logs what clients care about); what it reports arrives in
	// order, the failed first delivery retried before anything after it.
	clientVisible := func() []string {
		var out []string
		for _, st := range accepted() {
			if st != "sending" {
				out = append(out, st)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(clientVisible()) >= 3 }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{"sent", "delivered", "read"}, clientVisible(), "status changes arrive in order (all: %v)", accepted())
	n := len(accepted())
	mu.Lock()
	require.Equal(t, 500, gotten[0].code)
	require.Equal(t, gotten[0].eventID, gotten[1].eventID, "the retry is the same event")
	mu.Unlock()

	// The delivery log shows the retry; a replay is the same event again.
	r = in.call("GET", "/api/v1/webhooks/subscriptions/"+subID+"/deliveries", key, nil)
	require.Equal(t, 200, r.status, string(r.body))
	list := r.obj(t)["deliveries"].([]any)
	require.Len(t, list, n)
	first := list[len(list)-1].(map[string]any)
	require.Equal(t, "delivered", first["state"])
	require.EqualValues(t, 2, first["attempts"])
	require.EqualValues(t, 200, first["lastStatus"])
	r = in.call("POST", "/api/v1/webhooks/deliveries/"+first["id"].(string)+"/replay", key, nil)
	require.Equal(t, 202, r.status, string(r.body))
	require.Eventually(t, func() bool { return len(accepted()) == n+1 }, 30*time.Second, 20*time.Millisecond)
	mu.Lock()
	require.Equal(t, first["eventId"], gotten[len(gotten)-1].eventID)
	mu.Unlock()
}

// TestOutgoingWebhookSurvivesSIGKILL kills the process while a delivery is
// in flight; another process takes the delivery over once its lease
// expires and delivers it: nothing is lost, the receiver sees the same
// event again (at least once) with the next attempt number.
func TestOutgoingWebhookSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	in := &instance{t: t, db: devdbtest.NewDatabase(t)}
	env := map[string]string{
		"ZAPBASE_LISTENER":              "false",
		"ZAPBASE_MEDIA_DIR":             t.TempDir(),
		"ZAPBASE_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1",
		// A 5 s attempt: the kill lands while it is in flight; lease 15 s.
		"ZAPBASE_WEBHOOK_TIMEOUT":         "5s",
		"ZAPBASE_WEBHOOK_CONNECT_TIMEOUT": "1s",
	}
	p1 := StartServe(t, in.db, env)
	in.base = p1.BaseURL()
	adm := map[string]string{"Authorization": "Bearer " + testAdminToken}
	require.Equal(t, 201, in.call("POST", "/api/v1/admin/tenants", adm, map[string]any{"clientId": "acme", "name": "ACME"}).status)
	r := in.call("POST", "/api/v1/admin/tenants/acme/api-keys", adm, map[string]any{"name": "n8n"})
	require.Equal(t, 201, r.status, string(r.body))
	key := map[string]string{"X-API-Key": r.obj(t)["key"].(string)}

	arrived := make(chan struct{}, 1)
	var mu sync.Mutex
	var attempts []string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		attempts = append(attempts, r.Header.Get("X-Zapbase-Event-Id")+"#"+r.Header.Get("X-Zapbase-Attempt"))
		first := len(attempts) == 1
		mu.Unlock()
		if first {
			arrived <- struct{}{}
			<-r.Context().Done() // held until the sender dies
			return
		}
		w.WriteHeader(204)
	}))
	defer rc.Close()
	r = in.call("POST", "/api/v1/webhooks/subscriptions", key, map[string]any{"url": rc.URL, "events": []string{"message.received"}})
	require.Equal(t, 201, r.status, string(r.body))
	var tenantID string
	require.NoError(t, in.sql(`SELECT id FROM tenants WHERE client_id = 'acme'`).Scan(&tenantID))
	var msgID string
	require.NoError(t, in.sql(`INSERT INTO messages (tenant_id, direction, from_number, status, content)
		VALUES ($1, 'inbound', '5511988887777', 'received', '{"text":"oi"}') RETURNING id`, tenantID).Scan(&msgID))

	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatalf("the delivery never arrived\n%s", tail(p1.Logs(), 4000))
	}
	p1.Kill()
	var state, owner string
	require.NoError(t, in.sql(`SELECT state, claimed_by FROM wa.webhook_deliveries`).Scan(&state, &owner))
	require.Equal(t, "sending", state, "killed mid-attempt: the row is still claimed by the dead process")

	p2 := StartServe(t, in.db, env)
	require.Eventually(t, func() bool {
		require.NoError(t, in.sql(`SELECT state FROM wa.webhook_deliveries`).Scan(&state))
		return state == "delivered"
	}, 90*time.Second, 100*time.Millisecond, "taken over after the lease\n%s", tail(p2.Logs(), 4000))
	var n int
	require.NoError(t, in.sql(`SELECT attempts FROM wa.webhook_deliveries`).Scan(&n))
	require.Equal(t, 2, n)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, attempts, 2)
	require.Equal(t, strings.TrimSuffix(attempts[0], "#1")+"#2", attempts[1], "the same event, next attempt")
}
