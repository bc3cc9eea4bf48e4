package api_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/webhooks"
)

func newWebhooksEnv(t *testing.T) *env {
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	return newEnv(t, envOpts{register: []func(*api.Router){func(r *api.Router) {
		api.WebhookSubscriptionRoutes(webhooks.NewStore(store.New(r.Pool()), box, webhooks.Policy{}))(r)
	}}})
}

func TestOutgoingWebhookSubscriptionsEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWebhooksEnv(t)
	tid, owner := e.tenant("hooks-owner", "owner")
	h := auth(hsToken(claims(owner, nil)), "hooks-owner")

	r := e.do("POST", "/api/v1/webhooks/subscriptions", h, map[string]any{
		"url": "https://n8n.exemplo.com.br/webhook/zapbase", "events": []string{"message.received", "message.status"},
		"description": "Fluxo do n8n"})
	require.Equal(t, 201, r.status, string(r.body))
	created := r.json(t)
	whsec := created["secret"].(string)
	require.True(t, strings.HasPrefix(whsec, "whsec_"))
	sub := created["subscription"].(map[string]any)
	subID := sub["id"].(string)
	require.Equal(t, true, sub["isActive"])
	require.Equal(t, []any{"message.received", "message.status"}, sub["events"])

	// The secret is never shown again.
	r = e.do("GET", "/api/v1/webhooks/subscriptions", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NotContains(t, string(r.body), whsec)
	require.Len(t, r.json(t)["subscriptions"], 1)
	r = e.do("GET", "/api/v1/webhooks/subscriptions/"+subID, h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.NotContains(t, string(r.body), "whsec_")

	// Rotation shows a new secret once; pausing records why.
	r = e.do("PUT", "/api/v1/webhooks/subscriptions/"+subID, h, map[string]any{"rotateSecret": true, "isActive": false})
	require.Equal(t, 200, r.status, string(r.body))
	rotated := r.json(t)
	require.NotEqual(t, whsec, rotated["secret"])
	require.Equal(t, false, rotated["subscription"].(map[string]any)["isActive"])
	require.Equal(t, "disabled", rotated["subscription"].(map[string]any)["disabledReason"])
	r = e.do("PUT", "/api/v1/webhooks/subscriptions/"+subID, h, map[string]any{"isActive": true, "events": []string{"message.received"}})
	require.Equal(t, 200, r.status, string(r.body))
	require.Nil(t, r.json(t)["secret"])
	require.Equal(t, []any{"message.received"}, r.json(t)["subscription"].(map[string]any)["events"])

	// SSRF: private, loopback and link-local targets are refused in pt-BR.
	for _, u := range []string{"http://127.0.0.1:5678/webhook", "http://169.254.169.254/latest", "http://[::1]/x", "http://localhost/x", "http://10.0.0.8/x"} {
		r = e.do("POST", "/api/v1/webhooks/subscriptions", h, map[string]any{"url": u, "events": []string{"message.received"}})
		p := r.problem(t, 422, "webhook_target_blocked")
		require.Contains(t, p["message"], "url:", u)
	}
	r = e.do("POST", "/api/v1/webhooks/subscriptions", h, map[string]any{"url": "https://ok.example.com/x", "events": []string{"message.sent"}})
	require.Equal(t, 422, r.status, string(r.body))
	r = e.do("POST", "/api/v1/webhooks/subscriptions", h, map[string]any{"url": "ftp://ok.example.com/x", "events": []string{"message.received"}})
	r.problem(t, 422, "invalid_input")

	// The delivery log and replay.
	_, err := e.pool.Exec(ctx, `INSERT INTO public.messages (tenant_id, direction, from_number, status, content)
		VALUES ($1, 'inbound', '5511988887777', 'received', '{"text":"oi"}')`, tid)
	require.NoError(t, err)
	fo, err := webhooks.NewFanout(webhooks.FanoutConfig{Store: store.New(e.pool)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		res, err := fo.Step(ctx)
		require.NoError(t, err)
		return res.Deliveries == 1
	}, 10*time.Second, 5*time.Millisecond)
	r = e.do("GET", "/api/v1/webhooks/subscriptions/"+subID+"/deliveries", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	list := r.json(t)["deliveries"].([]any)
	require.Len(t, list, 1)
	d := list[0].(map[string]any)
	require.Equal(t, "pending", d["state"])
	require.Equal(t, "message.received", d["event"])
	require.Equal(t, "hooks-owner", d["payload"].(map[string]any)["clientId"])
	dID := d["id"].(string)
	e.do("POST", "/api/v1/webhooks/deliveries/"+dID+"/replay", h, nil).problem(t, 409, "conflict")
	_, err = e.pool.Exec(ctx, `UPDATE wa.webhook_deliveries SET state = 'dead', dead_at = now(), last_error = 'x' WHERE id = $1`, dID)
	require.NoError(t, err)
	r = e.do("POST", "/api/v1/webhooks/deliveries/"+dID+"/replay", h, nil)
	require.Equal(t, 202, r.status, string(r.body))
	require.Equal(t, dID, r.json(t)["replayOf"])
	r = e.do("GET", "/api/v1/webhooks/subscriptions/"+subID+"/deliveries?state=dead&limit=1", h, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Len(t, r.json(t)["deliveries"], 1)
	r = e.do("GET", "/api/v1/webhooks/subscriptions/"+subID+"/deliveries?limit=1", h, nil)
	require.NotEmpty(t, r.json(t)["nextCursor"])
	r = e.do("GET", "/api/v1/webhooks/subscriptions/"+subID+"/deliveries?limit=1&cursor="+r.json(t)["nextCursor"].(string), h, nil)
	require.Equal(t, dID, r.json(t)["deliveries"].([]any)[0].(map[string]any)["id"])

	// Another tenant sees none of it.
	_, other := e.tenant("hooks-other", "owner")
	ho := auth(hsToken(claims(other, nil)), "hooks-other")
	e.do("GET", "/api/v1/webhooks/subscriptions/"+subID, ho, nil).problem(t, 404, "not_found")
	e.do("GET", "/api/v1/webhooks/subscriptions/"+subID+"/deliveries", ho, nil).problem(t, 404, "not_found")
	e.do("POST", "/api/v1/webhooks/deliveries/"+dID+"/replay", ho, nil).problem(t, 404, "not_found")
	e.do("DELETE", "/api/v1/webhooks/subscriptions/"+subID, ho, nil).problem(t, 404, "not_found")
	r = e.do("GET", "/api/v1/webhooks/subscriptions", ho, nil)
	require.Empty(t, r.json(t)["subscriptions"])

	r = e.do("DELETE", "/api/v1/webhooks/subscriptions/"+subID, h, nil)
	require.Equal(t, 204, r.status, string(r.body))
	e.do("GET", "/api/v1/webhooks/subscriptions/"+subID, h, nil).problem(t, 404, "not_found")

	var audited int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM wa.audit_log WHERE tenant_id = $1 AND action LIKE 'webhook_%'`, tid).Scan(&audited))
	require.GreaterOrEqual(t, audited, 5)
}

// Members may not manage webhooks (URLs and secrets are admin matters).
func TestOutgoingWebhookSubscriptionsNeedManager(t *testing.T) {
	t.Parallel()
	e := newWebhooksEnv(t)
	_, member := e.tenant("hooks-member", "member")
	h := auth(hsToken(claims(member, nil)), "hooks-member")
	e.do("POST", "/api/v1/webhooks/subscriptions", h, map[string]any{"url": "https://ok.example.com/x", "events": []string{"message.received"}}).
		problem(t, 403, "forbidden")
	e.do("GET", "/api/v1/webhooks/subscriptions", h, nil).problem(t, 403, "forbidden")
	e.do("GET", "/api/v1/webhooks/subscriptions", nil, nil).problem(t, 401, "unauthorized")
}

// Every outgoing webhook operation is in the OpenAPI document with a pt-BR
// summary, under its tag, with the request example a user can run.
func TestOutgoingWebhookOpenAPI(t *testing.T) {
	t.Parallel()
	e := newWebhooksEnv(t)
	r := e.do("GET", "/openapi.json", nil, nil)
	require.Equal(t, 200, r.status)
	doc := r.json(t)
	paths := doc["paths"].(map[string]any)
	ops := map[string][]string{
		"/api/v1/webhooks/subscriptions":                             {"post", "get"},
		"/api/v1/webhooks/subscriptions/{subscriptionId}":            {"get", "put", "delete"},
		"/api/v1/webhooks/subscriptions/{subscriptionId}/deliveries": {"get"},
		"/api/v1/webhooks/deliveries/{deliveryId}/replay":            {"post"},
	}
	for path, methods := range ops {
		require.Contains(t, paths, path)
		for _, m := range methods {
			op := paths[path].(map[string]any)[m].(map[string]any)
			require.NotEmpty(t, op["summary"], path+" "+m)
			require.Equal(t, []any{"Webhooks de saída"}, op["tags"], path+" "+m)
			require.NotEmpty(t, op["security"], path+" "+m)
		}
	}
	create := paths["/api/v1/webhooks/subscriptions"].(map[string]any)["post"].(map[string]any)
	require.Contains(t, create["description"], "X-Zapbase-Signature")
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	req := schemas["WebhookSubscriptionRequest"].(map[string]any)["properties"].(map[string]any)
	require.NotEmpty(t, req["url"].(map[string]any)["examples"])
	require.Contains(t, req["events"].(map[string]any)["items"].(map[string]any)["enum"], "message.received")
	require.Contains(t, schemas["WebhookSubscriptionWithSecret"].(map[string]any)["properties"], "secret")
}
