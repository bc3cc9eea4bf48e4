package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
)

// reqInfo is the per-request identity shared by the middlewares and the
// access log (request id, tenant, outcome). Only identity travels in
// context, never clients or loggers.
type reqInfo struct {
	id string
	// route is the ServeMux pattern that matched ("POST /api/v1/...").
	route    string
	tenantID string
	actor    string
	code     string
	err      error
}

type reqInfoKey struct{}

func reqInfoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

// RequestID returns the request id of ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	if ri := reqInfoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// middleware is the common chain: request id, recovery, timeout, access
// log, gzip.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		ri := &reqInfo{id: id}
		// A caller's W3C traceparent makes this request part of its trace.
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := s.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path),
				attribute.String("zapbase.request_id", id)))
		defer span.End()
		timeout := RequestTimeout
		if r.URL.Path == Prefix+"/events" {
			timeout = MaxEventStream + time.Minute // the stream bounds itself
		}
		ctx, cancel := context.WithTimeout(context.WithValue(ctx, reqInfoKey{}, ri), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		var out http.ResponseWriter = rec
		var gz *gzipWriter
		if acceptsGzip(r) {
			gz = &gzipWriter{ResponseWriter: rec}
			out = gz
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ri.err = fmt.Errorf("panic: %v", v)
				if rec.status == 0 {
					writeProblem(out, r, Internal(ri.err))
				}
			}
			if gz != nil {
				gz.Close()
			}
			traceRequest(span, rec, ri)
			s.accessLog(r, rec, ri, time.Since(start))
		}()
		next.ServeHTTP(out, r)
	})
}

// traceRequest names the request's span after its route and records the
// outcome (5xx is an error of ours; 4xx is the caller's).
func traceRequest(span trace.Span, rec *statusRecorder, ri *reqInfo) {
	if !span.IsRecording() {
		return
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if ri.route != "" {
		span.SetName(ri.route)
		if _, path, ok := strings.Cut(ri.route, " "); ok {
			span.SetAttributes(semconv.HTTPRoute(path))
		}
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if ri.tenantID != "" {
		span.SetAttributes(attribute.String("zapbase.tenant_id", ri.tenantID))
	}
	if ri.code != "" {
		span.SetAttributes(attribute.String("zapbase.error_code", ri.code))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
		if ri.err != nil {
			span.RecordError(ri.err)
		}
	}
}

func (s *Server) accessLog(r *http.Request, rec *statusRecorder, ri *reqInfo, d time.Duration) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := []any{
		"method", r.Method, "path", r.URL.Path, "status", status,
		"duration_ms", float64(d.Microseconds()) / 1000, "bytes", rec.bytes,
		"request_id", ri.id,
	}
	if ri.tenantID != "" {
		attrs = append(attrs, "tenant_id", ri.tenantID)
	}
	if ri.actor != "" {
		attrs = append(attrs, "actor", ri.actor)
	}
	if ri.code != "" {
		attrs = append(attrs, "code", ri.code)
	}
	level := httpLogLevel(status)
	if ri.err != nil {
		attrs = append(attrs, "error", ri.err.Error())
	}
	s.log.Log(r.Context(), level, "http request", attrs...)
}

func httpLogLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := r.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

// gzipMinSize: smaller responses are sent as they are.
const gzipMinSize = 1400

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && !strings.Contains(strings.ReplaceAll(q, " ", ""), "q=0") {
			return true
		}
	}
	return false
}

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}

// gzipWriter buffers the first bytes of a response and compresses it only
// when it turns out large (and is not already encoded).
type gzipWriter struct {
	http.ResponseWriter
	status  int
	buf     bytes.Buffer
	zw      *gzip.Writer
	decided bool
	plain   bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.status == 0 {
		g.status = code
	}
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if g.decided {
		if g.plain {
			return g.ResponseWriter.Write(b)
		}
		return g.zw.Write(b)
	}
	g.buf.Write(b)
	if g.buf.Len() >= gzipMinSize {
		g.decide(true)
	}
	return len(b), nil
}

func (g *gzipWriter) decide(large bool) {
	g.decided = true
	h := g.ResponseWriter.Header()
	if !large || h.Get("Content-Encoding") != "" || g.status == http.StatusNoContent || g.status < 200 {
		g.plain = true
		g.ResponseWriter.WriteHeader(g.status)
		_, _ = g.ResponseWriter.Write(g.buf.Bytes())
		return
	}
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	h.Del("Content-Length")
	g.ResponseWriter.WriteHeader(g.status)
	g.zw = gzipPool.Get().(*gzip.Writer)
	g.zw.Reset(g.ResponseWriter)
	_, _ = g.zw.Write(g.buf.Bytes())
}

func (g *gzipWriter) Flush() {
	if !g.decided {
		g.decide(g.buf.Len() >= gzipMinSize)
	}
	if g.zw != nil {
		_ = g.zw.Flush()
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Close finishes the response.
func (g *gzipWriter) Close() {
	if !g.decided {
		if g.status == 0 && g.buf.Len() == 0 {
			return
		}
		if g.status == 0 {
			g.status = http.StatusOK
		}
		g.decide(g.buf.Len() >= gzipMinSize)
	}
	if g.zw != nil {
		_ = g.zw.Close()
		gzipPool.Put(g.zw)
		g.zw = nil
	}
}

func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// problemMux answers unknown paths (404) and wrong methods (405) with
// problem+json instead of ServeMux's plain text.
func problemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			if ri := reqInfoFrom(r.Context()); ri != nil {
				ri.route = pattern
			}
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, r, NewProblem(http.StatusMethodNotAllowed, zapbase.CodeMethodNotAllowed,
				fmt.Sprintf("Método %s não permitido neste recurso (permitidos: %s).", r.Method, rec.header.Get("Allow"))))
		case http.StatusNotFound, 0:
			writeProblem(w, r, NewProblem(http.StatusNotFound, zapbase.CodeNotFound, "Recurso não encontrado: "+r.URL.Path))
		default: // redirects (trailing slash cleanup)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
		}
	})
}

type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
