package dispatch

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/tracing"
)

const tracerName = "github.com/zapbase/zapbase/dispatch"

// Span names of the dispatcher.
const (
	spanReconcile    = "zapbase.reconcile"
	spanDispatch     = "zapbase.dispatch"
	spanProviderSend = "zapbase.provider.send"
)

// startDispatch starts the span of one claimed row's handling: a child of
// the row's origin (messages.traceparent, stored when the row was written
// or first claimed, so it survives restarts and handovers), linked to the
// claim's span (the change-stream event or scan) when that is another
// trace.
func (d *Dispatcher) startDispatch(claim trace.SpanContext, traceparent string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx := tracing.ContextWithTraceparent(context.Background(), traceparent)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...)}
	if links := tracing.LinkTo(ctx, claim); links != nil {
		opts = append(opts, trace.WithLinks(links...))
	}
	return d.tracer.Start(ctx, spanDispatch, opts...)
}

func rowAttrs(r claimedRow) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("zapbase.tenant_id", r.TenantID),
		attribute.String("zapbase.message.row_id", r.ID),
		attribute.String("zapbase.message.type", string(r.Type)),
		attribute.Int("zapbase.attempt", r.Attempts),
		attribute.Bool("zapbase.recovered", r.Recovered),
	}
}

func jobAttrs(j *job) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("zapbase.tenant_id", j.tenantID),
		attribute.String("zapbase.message.row_id", j.id),
		attribute.String("zapbase.message.type", string(j.msgType)),
		attribute.String("zapbase.provider", string(j.ptype)),
		attribute.String("zapbase.session_id", j.sessionID),
		attribute.Int("zapbase.attempt", j.attempts),
	}
}

// traceOutcome records what became of the row on its span.
func traceOutcome(span trace.Span, o *outcome) {
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("zapbase.outcome", string(o.status))}
	if o.errorCode != nil {
		attrs = append(attrs, attribute.String("zapbase.error_code", *o.errorCode))
	}
	if o.status == zapbase.StatusPending && o.nextAttemptAt != nil {
		attrs = append(attrs, attribute.String("zapbase.next_attempt_at", o.nextAttemptAt.UTC().Format(time.RFC3339Nano)))
	}
	span.SetAttributes(attrs...)
	if o.status == zapbase.StatusFailed {
		desc := ""
		if o.errorCode != nil {
			desc = *o.errorCode
		}
		span.SetStatus(codes.Error, desc)
	}
}
