// Package tracing sets up OpenTelemetry tracing and carries trace context
// on rows.
//
// Tracing is off unless an OTLP endpoint is configured
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): then
// every tracer is a no-op and nothing is written on rows. When on, spans are
// exported in batches over OTLP (http/protobuf by default, grpc on request);
// the exporters read the standard OTEL_EXPORTER_OTLP_* variables (headers,
// timeout, compression, certificates) and the SDK reads OTEL_TRACES_SAMPLER,
// OTEL_BSP_* and OTEL_RESOURCE_ATTRIBUTES.
//
// A message is sent long after — and maybe by another process than — the
// request that created it, so spans cannot rely on in-memory context. The
// origin's W3C traceparent is stored on the row (messages.traceparent,
// wa.webhook_inbox.traceparent) and the span of each later step starts from
// it: Traceparent writes it, ContextWithTraceparent reads it back.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Protocols of the OTLP exporter.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// Config enables and describes the exporter.
type Config struct {
	// Enabled turns tracing on (an OTLP endpoint is configured).
	Enabled bool
	// Protocol is ProtocolHTTP (default) or ProtocolGRPC.
	Protocol string
	// ServiceName defaults to "zapbase" (OTEL_SERVICE_NAME wins).
	ServiceName    string
	ServiceVersion string
	// InstanceID identifies this replica (service.instance.id).
	InstanceID string
}

// Tracing owns the tracer provider of the process.
type Tracing struct {
	tp       trace.TracerProvider
	sdk      *sdktrace.TracerProvider
	protocol string
}

// Setup builds the tracer provider and installs it (and the W3C
// propagators) as the process globals. With tracing disabled it installs
// nothing and every tracer is a no-op. Shutdown flushes what is buffered.
func Setup(ctx context.Context, cfg Config) (*Tracing, error) {
	if !cfg.Enabled {
		return &Tracing{tp: noop.NewTracerProvider()}, nil
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch cfg.Protocol {
	case "", ProtocolHTTP:
		cfg.Protocol = ProtocolHTTP
		exp, err = otlptracehttp.New(ctx)
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: unsupported OTLP protocol %q", cfg.Protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = "zapbase"
	}
	attrs := []resource.Option{resource.WithAttributes(semconv.ServiceName(name))}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(cfg.ServiceVersion)))
	}
	if cfg.InstanceID != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceInstanceID(cfg.InstanceID)))
	}
	// Environment last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
	res, err := resource.New(ctx, append(attrs, resource.WithFromEnv(), resource.WithTelemetrySDK())...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(sdk)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Tracing{tp: sdk, sdk: sdk, protocol: cfg.Protocol}, nil
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Protocol is the exporter's protocol ("" when disabled).
func (t *Tracing) Protocol() string { return t.protocol }

// TracerProvider is the provider to hand to components (a no-op one when
// disabled).
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.tp }

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return t.sdk.Shutdown(ctx)
}

var w3c = propagation.TraceContext{}

// Traceparent is the W3C traceparent of ctx's span, "" when ctx carries no
// valid span context (tracing off, or outside any span).
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c["traceparent"]
}

// TraceparentOrNil is Traceparent as a nullable column value.
func TraceparentOrNil(ctx context.Context) *string {
	if tp := Traceparent(ctx); tp != "" {
		return &tp
	}
	return nil
}

// ContextWithTraceparent returns ctx with the span context of traceparent
// as its remote parent; an empty or malformed value leaves ctx unchanged.
func ContextWithTraceparent(ctx context.Context, traceparent string) context.Context {
	traceparent = strings.TrimSpace(traceparent)
	if traceparent == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// SpanContext parses a traceparent (invalid span context when malformed).
func SpanContext(traceparent string) trace.SpanContext {
	return trace.SpanContextFromContext(ContextWithTraceparent(context.Background(), traceparent))
}

// LinkTo returns a link to sc when it is valid and belongs to another trace
// than ctx's span (a batch that claimed rows of many origins), nil otherwise.
func LinkTo(ctx context.Context, sc trace.SpanContext) []trace.Link {
	if !sc.IsValid() || sc.TraceID() == trace.SpanContextFromContext(ctx).TraceID() {
		return nil
	}
	return []trace.Link{{SpanContext: sc}}
}

// LogHandler adds trace_id and span_id to records logged with a context
// that carries a valid span, so logs and traces join.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
