package whatsmeow

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
)

// An inbound WhatsApp Web message starts a trace, and its row carries it so
// that the agent's turn and its reply's send continue it.
func TestInboundMessageStartsATrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	f, _, c, sink, sessionID := connectedSession(t)
	c.emit(msgEvent("3EB0TRACED", &waE2E.Message{Conversation: proto.String("oi")}))
	sink.waitInbound(t)

	var stored string
	require.NoError(t, f.pool.QueryRow(context.Background(), `
SELECT coalesce(traceparent, '') FROM public.messages WHERE tenant_id = $1 AND message_id = '3EB0TRACED'`, f.tenant).Scan(&stored))
	parts := strings.Split(stored, "-")
	require.Len(t, parts, 4, "traceparent %q", stored)

	var span sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "zapbase.whatsmeow.inbound" && s.SpanContext().SpanID().String() == parts[2] {
			span = s
		}
	}
	require.NotNil(t, span, "the row's origin is the inbound span")
	require.Equal(t, parts[1], span.SpanContext().TraceID().String())
	require.Equal(t, trace.SpanKindConsumer, span.SpanKind())
	require.False(t, span.Parent().IsValid(), "a new trace starts at the message")
	attrs := map[string]string{}
	for _, kv := range span.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	require.Equal(t, f.tenant, attrs["zapbase.tenant_id"])
	require.Equal(t, sessionID, attrs["zapbase.session_id"])
	require.Equal(t, "text", attrs["zapbase.message.type"])
	for _, v := range attrs {
		require.NotContains(t, v, contactPN, "no phone number in span attributes")
	}
}
