package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
	"github.com/zapbase/zapbase/tracing/tracingtest"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// spanParts splits a stored W3C traceparent into trace and span ids.
func spanParts(t *testing.T, tp string) (traceID, spanID string) {
	t.Helper()
	parts := strings.Split(tp, "-")
	require.Len(t, parts, 4, "traceparent %q", tp)
	require.Equal(t, "00", parts[0])
	return parts[1], parts[2]
}

func spanByID(spans []tracingtest.Span, id string) *tracingtest.Span {
	for i := range spans {
		if spans[i].SpanID == id {
			return &spans[i]
		}
	}
	return nil
}

// dispatchWhere is the last zapbase.dispatch span of the trace whose
// attribute key is value, nil when there is none.
func dispatchWhere(spans []tracingtest.Span, traceID, key, value string) *tracingtest.Span {
	var found *tracingtest.Span
	for _, d := range tracingtest.Find(tracingtest.InTrace(spans, traceID), "zapbase.dispatch") {
		if d.Attrs[key] == value {
			found = &d
		}
	}
	return found
}

// sentAndCalled answers whether the trace holds a dispatch that ended sent
// and a provider call.
func sentAndCalled(spans []tracingtest.Span, traceID string) bool {
	return dispatchWhere(spans, traceID, "zapbase.outcome", "sent") != nil &&
		len(tracingtest.Find(tracingtest.InTrace(spans, traceID), "zapbase.provider.send")) > 0
}

func rowTraceparent(t *testing.T, ctx context.Context, pool *pgxpool.Pool, id string) string {
	t.Helper()
	var tp *string
	require.NoError(t, pool.QueryRow(ctx, `SELECT traceparent FROM public.messages WHERE id = $1`, id).Scan(&tp))
	require.NotNil(t, tp, "messages.traceparent of %s", id)
	return *tp
}

// TestTracingEndToEnd exports spans to a fake OTLP collector and follows
// three traces: an API send that waits for its session across a SIGKILL and
// is sent by the next process under the caller's trace; a row inserted by
// plain SQL (the trace starts at the change-stream event); and an inbound
// message whose AI reply goes out in the webhook's trace. A process with
// tracing off writes no trace context.
func TestTracingEndToEnd(t *testing.T) {
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 4*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	at := seedAITenant(t, ctx, pool)
	col := tracingtest.NewHTTP(t)

	gem := aitest.NewGemini()
	t.Cleanup(gem.Close)
	gem.Script = func(map[string]any) aitest.Reply {
		return aitest.GeminiText("Olá! Em que posso ajudar?", 100, 10)
	}
	env := func(instance string) map[string]string {
		return map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":   col.URL,
			"OTEL_BSP_SCHEDULE_DELAY":       "100",
			"ZAPBASE_INSTANCE_ID":           instance,
			"GEMINI_API_KEY":                "fake-gemini-key",
			"GEMINI_BASE_URL":               gem.URL,
			"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
			"ZAPBASE_AI_DEBOUNCE":           "0",
		}
	}

	// A. The session is down: the API send waits (pending) in P1.
	_, err = pool.Exec(ctx, `UPDATE public.whatsapp_sessions SET state = 'disconnected' WHERE tenant_id = $1`, at.id)
	require.NoError(t, err)
	p1 := StartServe(t, dbURL, env("trace-1"))
	at.attach(p1)
	callerTrace, callerSpan := randHex(16), randHex(8)
	h := at.auth()
	h["traceparent"] = "00-" + callerTrace + "-" + callerSpan + "-01"
	status, body := at.call("POST", "/api/v1/messages/text?wait=false", h,
		map[string]any{"to": "5511955554444", "content": "Pedido confirmado", "provider": "sandbox"})
	require.Equal(t, 202, status, string(body))
	var sent struct{ MessageID string }
	require.NoError(t, json.Unmarshal(body, &sent))

	spans := col.Wait(t, 30*time.Second, "the API span and the pending dispatch", func(s []tracingtest.Span) bool {
		return dispatchWhere(s, callerTrace, "zapbase.outcome", "pending") != nil
	})
	inTrace := tracingtest.InTrace(spans, callerTrace)
	servers := tracingtest.Find(inTrace, "POST /api/v1/messages/text")
	require.Len(t, servers, 1, "one server span for the request")
	server := servers[0]
	require.Equal(t, callerSpan, server.ParentSpanID, "the request span is a child of the caller's span")
	require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, server.Kind)
	require.Equal(t, "202", server.Attrs["http.response.status_code"])
	require.Equal(t, "/api/v1/messages/text", server.Attrs["http.route"])
	require.Equal(t, at.id, server.Attrs["zapbase.tenant_id"])
	require.Equal(t, "zapbase", server.Service)
	require.Equal(t, "trace-1", server.Instance)

	tp := rowTraceparent(t, ctx, pool, sent.MessageID)
	tid, sid := spanParts(t, tp)
	require.Equal(t, callerTrace, tid, "the row carries the request's trace")
	require.Equal(t, server.SpanID, sid, "the row's origin is the request span")

	pending := dispatchWhere(spans, callerTrace, "zapbase.outcome", "pending")
	require.NotNil(t, pending)
	require.Equal(t, server.SpanID, pending.ParentSpanID)
	require.Equal(t, "session_unavailable", pending.Attrs["zapbase.error_code"])
	require.NotEmpty(t, pending.Attrs["zapbase.next_attempt_at"])
	require.Equal(t, sent.MessageID, pending.Attrs["zapbase.message.row_id"])
	require.Equal(t, "trace-1", pending.Instance)
	require.Empty(t, tracingtest.Find(inTrace, "zapbase.provider.send"), "nothing was sent yet")

	// The access log line of the request carries the trace id.
	require.Eventually(t, func() bool {
		found := false
		scanLines(p1.Logs(), func(line string) {
			if strings.Contains(line, `"msg":"http request"`) && strings.Contains(line, `"path":"/api/v1/messages/text"`) &&
				strings.Contains(line, `"trace_id":"`+callerTrace+`"`) {
				found = true
			}
		})
		return found
	}, 10*time.Second, 50*time.Millisecond, "access log with trace_id")

	// P1 dies; the session comes back; P2 sends the row in the same trace.
	p1.Kill()
	_, err = pool.Exec(ctx, `UPDATE public.whatsapp_sessions SET state = 'connected', connected_at = now() WHERE tenant_id = $1`, at.id)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE public.messages SET next_attempt_at = now() WHERE id = $1`, sent.MessageID)
	require.NoError(t, err)
	p2 := StartServe(t, dbURL, env("trace-2"))
	at.attach(p2)

	spans = col.Wait(t, 30*time.Second, "the send after the restart", func(s []tracingtest.Span) bool {
		return sentAndCalled(s, callerTrace)
	})
	inTrace = tracingtest.InTrace(spans, callerTrace)
	final := dispatchWhere(spans, callerTrace, "zapbase.outcome", "sent")
	require.NotNil(t, final)
	require.Equal(t, "trace-2", final.Instance, "the send happened in the second process")
	require.Equal(t, server.SpanID, final.ParentSpanID, "and still hangs off the original request")
	require.Equal(t, tracepb.Span_SPAN_KIND_PRODUCER, final.Kind)
	require.Equal(t, "sandbox", final.Attrs["zapbase.provider"])
	require.NotEmpty(t, final.Links, "linked to the scan that claimed it")
	sends := tracingtest.Find(inTrace, "zapbase.provider.send")
	require.Len(t, sends, 1)
	require.Equal(t, final.SpanID, sends[0].ParentSpanID)
	require.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, sends[0].Kind)
	require.Equal(t, tp, rowTraceparent(t, ctx, pool, sent.MessageID), "the claim keeps the origin")
	var st string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM public.messages WHERE id = $1`, sent.MessageID).Scan(&st))
	require.Contains(t, []string{"sent", "delivered", "read"}, st)

	// B. A row written by plain SQL: its trace starts at the change-stream
	// event (or the scan) that claimed it.
	id, err := insertOutbound(ctx, pool, at.id, "5511944443333", "via SQL")
	require.NoError(t, err)
	var sqlTP string
	require.Eventually(t, func() bool {
		var tp *string
		_ = pool.QueryRow(ctx, `SELECT traceparent FROM public.messages WHERE id = $1`, id).Scan(&tp)
		if tp != nil {
			sqlTP = *tp
		}
		return tp != nil
	}, 20*time.Second, 50*time.Millisecond, "the claim stores its trace on the row")
	sqlTrace, sqlOrigin := spanParts(t, sqlTP)
	spans = col.Wait(t, 30*time.Second, "the SQL row's dispatch", func(s []tracingtest.Span) bool {
		in := tracingtest.InTrace(s, sqlTrace)
		return spanByID(in, sqlOrigin) != nil && len(tracingtest.Find(in, "zapbase.provider.send")) > 0
	})
	in := tracingtest.InTrace(spans, sqlTrace)
	origin := spanByID(in, sqlOrigin)
	require.Contains(t, []string{"zapbase.listener.batch", "zapbase.reconcile"}, origin.Name)
	if origin.Name == "zapbase.listener.batch" {
		require.Equal(t, tracepb.Span_SPAN_KIND_CONSUMER, origin.Kind)
		require.NotEmpty(t, origin.Attrs["zapbase.lsn"])
	}
	dispatches := tracingtest.Find(in, "zapbase.dispatch")
	require.Len(t, dispatches, 1)
	require.Equal(t, sqlOrigin, dispatches[0].ParentSpanID)
	require.Equal(t, id, dispatches[0].Attrs["zapbase.message.row_id"])
	require.Equal(t, "sent", dispatches[0].Attrs["zapbase.outcome"])

	// C. An inbound message through the signed webhook, answered by the
	// agent: webhook → AI turn (model call as a client span) → dispatch → send,
	// one trace.
	inTraceID, inSpan := randHex(16), randHex(8)
	const contact = "5511933332222"
	whBody, _ := json.Marshal(map[string]any{"session": aiSessionPhone, "messageId": "gw-" + randHex(8),
		"from": contact, "pushName": "Cliente", "type": "text", "content": map[string]any{"text": "Oi, tudo bem?"}})
	wh := at.webhookHeaders(whBody)
	wh["traceparent"] = "00-" + inTraceID + "-" + inSpan + "-01" // as an instrumented gateway sends it
	status, body = at.call("POST", "/api/v1/webhooks/incoming-message", wh, whBody)
	require.Equal(t, 200, status, string(body))
	reps := at.waitSentReplies(ctx, contact, 1, 45*time.Second)
	require.Len(t, reps, 1)
	replyTP := rowTraceparent(t, ctx, pool, reps[0].ID)
	replyTrace, _ := spanParts(t, replyTP)
	require.Equal(t, inTraceID, replyTrace, "the reply row carries the inbound message's trace")

	spans = col.Wait(t, 30*time.Second, "the AI chain", func(s []tracingtest.Span) bool {
		return sentAndCalled(s, inTraceID)
	})
	in = tracingtest.InTrace(spans, inTraceID)
	hook := tracingtest.Find(in, "POST /api/v1/webhooks/incoming-message")
	require.Len(t, hook, 1)
	require.Equal(t, inSpan, hook[0].ParentSpanID)
	turns := tracingtest.Find(in, "zapbase.ai.turn")
	require.Len(t, turns, 1)
	require.Equal(t, hook[0].SpanID, turns[0].ParentSpanID, "the turn follows the inbound row's origin")
	models := tracingtest.Find(in, "HTTP POST")
	require.NotEmpty(t, models, "the model call is a client span")
	require.Equal(t, turns[0].SpanID, models[0].ParentSpanID)
	require.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, models[0].Kind)
	for _, m := range models {
		require.NotContains(t, m.Attrs["url.full"]+m.Attrs["url.path"], "fake-gemini-key", "no secret in span attributes")
	}
	// Third parties (model APIs, Meta) get no trace context of ours.
	require.NotEmpty(t, gem.Traceparents())
	for _, tp := range gem.Traceparents() {
		require.Empty(t, tp, "no traceparent sent to the model API")
	}
	replyDispatch := dispatchWhere(spans, inTraceID, "zapbase.message.row_id", reps[0].ID)
	require.NotNil(t, replyDispatch)
	require.Equal(t, "sent", replyDispatch.Attrs["zapbase.outcome"])
	require.NotNil(t, spanByID(in, replyDispatch.ParentSpanID), "the reply's dispatch hangs off the turn")
	p2.Stop(30 * time.Second)

	// Tracing off: nothing is exported and no trace context is stored.
	before := col.Requests()
	off := env("trace-off")
	delete(off, "OTEL_EXPORTER_OTLP_ENDPOINT")
	p3 := StartServe(t, dbURL, off)
	at.attach(p3)
	h = at.auth()
	h["traceparent"] = "00-" + randHex(16) + "-" + randHex(8) + "-01"
	status, body = at.call("POST", "/api/v1/messages/text", h,
		map[string]any{"to": "5511922221111", "content": "Sem rastreamento", "provider": "sandbox"})
	require.Equal(t, 200, status, string(body))
	require.NoError(t, json.Unmarshal(body, &sent))
	var offTP *string
	require.NoError(t, pool.QueryRow(ctx, `SELECT traceparent FROM public.messages WHERE id = $1`, sent.MessageID).Scan(&offTP))
	require.Nil(t, offTP, "no trace context stored when tracing is off")
	require.Equal(t, before, col.Requests(), "nothing exported when tracing is off")
	require.NotContains(t, p3.Logs(), `"trace_id"`)
}
