package tracing

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Transport wraps base (nil: http.DefaultTransport) so every outbound
// request is a client span of the caller's trace. Only the method, host,
// path and status are recorded — never the query string or headers, which
// may carry signatures and keys. propagate adds the W3C traceparent header
// to the request: for the tenant's own endpoints (tools, webhooks), not
// for third parties (Meta, LLM APIs).
func Transport(base http.RoundTripper, propagate bool) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, propagate: propagate}
}

type transport struct {
	base      http.RoundTripper
	propagate bool
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// Outside any trace (background work): no orphan root spans.
		return t.base.RoundTrip(r)
	}
	ctx, span := otel.GetTracerProvider().Tracer("github.com/zapbase/zapbase/tracing").Start(ctx, "HTTP "+r.Method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.ServerAddress(r.URL.Hostname()),
			attribute.String("url.path", r.URL.Path)))
	defer span.End()
	r = r.Clone(ctx)
	if t.propagate {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "transport error")
		return nil, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}
