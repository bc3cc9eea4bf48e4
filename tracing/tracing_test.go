package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase/tracing"
	"github.com/zapbase/zapbase/tracing/tracingtest"
)

func exportOne(t *testing.T, cfg tracing.Config) (parent, child trace.SpanContext) {
	t.Helper()
	ctx := context.Background()
	tr, err := tracing.Setup(ctx, cfg)
	require.NoError(t, err)
	require.True(t, tr.Enabled())
	tracer := tr.TracerProvider().Tracer("test")
	pctx, p := tracer.Start(ctx, "parent")
	_, c := tracer.Start(pctx, "child")
	c.End()
	p.End()
	require.NoError(t, tr.Shutdown(ctx))
	return p.SpanContext(), c.SpanContext()
}

func TestExportsOverHTTP(t *testing.T) {
	col := tracingtest.NewHTTP(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	parent, child := exportOne(t, tracing.Config{Enabled: true, ServiceVersion: "1.2.3", InstanceID: "replica-a"})

	spans := col.Spans()
	require.Len(t, spans, 2)
	c := tracingtest.Find(spans, "child")[0]
	require.Equal(t, child.TraceID().String(), c.TraceID)
	require.Equal(t, parent.SpanID().String(), c.ParentSpanID)
	require.Equal(t, "zapbase", c.Service)
	require.Equal(t, "replica-a", c.Instance)
}

func TestExportsOverGRPC(t *testing.T) {
	col := tracingtest.NewGRPC(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+col.Addr)
	t.Setenv("OTEL_SERVICE_NAME", "zapbase-prod")
	parent, _ := exportOne(t, tracing.Config{Enabled: true, Protocol: tracing.ProtocolGRPC, InstanceID: "replica-b"})

	spans := col.Spans()
	require.Len(t, spans, 2)
	p := tracingtest.Find(spans, "parent")[0]
	require.Equal(t, parent.TraceID().String(), p.TraceID)
	require.Empty(t, p.ParentSpanID)
	require.Equal(t, "zapbase-prod", p.Service, "OTEL_SERVICE_NAME wins over the default")
}

func TestUnknownProtocolIsRefused(t *testing.T) {
	_, err := tracing.Setup(context.Background(), tracing.Config{Enabled: true, Protocol: "http/json"})
	require.ErrorContains(t, err, "http/json")
}

func TestDisabledIsNoop(t *testing.T) {
	tr, err := tracing.Setup(context.Background(), tracing.Config{})
	require.NoError(t, err)
	require.False(t, tr.Enabled())
	ctx, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "x")
	defer span.End()
	require.False(t, span.IsRecording())
	require.Empty(t, tracing.Traceparent(ctx), "nothing is written on rows when tracing is off")
	require.Nil(t, tracing.TraceparentOrNil(ctx))
	require.NoError(t, tr.Shutdown(context.Background()))
}

func TestTraceparentRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := tracing.ContextWithTraceparent(context.Background(), tp)
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsValid())
	require.True(t, sc.IsRemote())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
	require.Equal(t, tp, tracing.Traceparent(ctx))
	require.Equal(t, sc, tracing.SpanContext(tp))

	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f35-00f067aa0ba902b7-01"} {
		ctx := tracing.ContextWithTraceparent(context.Background(), bad)
		require.False(t, trace.SpanContextFromContext(ctx).IsValid(), bad)
		require.Empty(t, tracing.Traceparent(ctx), bad)
	}
}

func TestLinkToOnlyAcrossTraces(t *testing.T) {
	a := tracing.SpanContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	b := tracing.SpanContext("00-11111111111111111111111111111111-00f067aa0ba902b7-01")
	ctx := trace.ContextWithSpanContext(context.Background(), a)
	require.Nil(t, tracing.LinkTo(ctx, a), "same trace: parent already relates them")
	require.Nil(t, tracing.LinkTo(ctx, trace.SpanContext{}))
	links := tracing.LinkTo(ctx, b)
	require.Len(t, links, 1)
	require.Equal(t, b, links[0].SpanContext)
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "x")
	ctx := tracing.ContextWithTraceparent(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	log.InfoContext(ctx, "with span")
	log.Info("without span")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 2)
	var with, without map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &with))
	require.NoError(t, json.Unmarshal(lines[1], &without))
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", with["trace_id"])
	require.Equal(t, "00f067aa0ba902b7", with["span_id"])
	require.Equal(t, "x", with["component"])
	require.NotContains(t, without, "trace_id")
}
