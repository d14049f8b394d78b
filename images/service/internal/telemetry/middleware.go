package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/images/service/internal/httprec"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Options say what Middleware records. A nil Tracer and a nil Log leave
// nothing to do: Middleware then returns its handler as it is.
type Options struct {
	// Tracer makes the server spans; nil makes none.
	Tracer trace.Tracer
	// Log receives one line per request (and the handler's error lines,
	// which carry the request's context); nil writes none.
	Log *slog.Logger
	// Faults, if set, names the faults on at the moment (sorted; nil when
	// none): a server span notes those on at its start, and a fault that
	// switches on or off while it is open becomes a fault.start or
	// fault.end event.
	Faults func() []string
}

// Middleware wraps next with the server span and the request's log line.
// It must be outside whatever may answer for the service (the fault
// agent's http-abort), so that the span and the line see that answer.
func Middleware(o Options, next http.Handler) http.Handler {
	if o.Tracer == nil && o.Log == nil {
		return next
	}
	if o.Faults == nil {
		o.Faults = func() []string { return nil }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		var span trace.Span
		var faults []string
		if o.Tracer != nil {
			ctx = traces.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
			ctx, span = o.Tracer.Start(ctx, r.Method+" "+r.URL.Path,
				trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))
			if span.IsRecording() {
				faults = o.Faults()
			}
			r = r.WithContext(ctx)
		}
		rec := httprec.Wrap(w)
		next.ServeHTTP(rec, r)
		end := time.Now()
		status := rec.Status()
		if span != nil {
			if span.IsRecording() {
				// One call, so that the span's attributes are one allocation.
				attrs := []attribute.KeyValue{
					traces.AttrHTTPMethod.String(r.Method), traces.AttrURLPath.String(r.URL.Path), traces.AttrHTTPStatus.Int(status),
				}
				if len(faults) > 0 {
					attrs = append(attrs, traces.AttrFaults.StringSlice(faults))
				}
				span.SetAttributes(attrs...)
				if status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(status))
				}
				faultEvents(span, faults, o.Faults(), end)
			}
			span.End(trace.WithTimestamp(end))
		}
		if o.Log != nil {
			logRequest(ctx, o.Log.Handler(), r, status, start, end)
		}
	})
}

// faultEvents adds an event for every fault that switched on or off
// between before and after (both sorted).
func faultEvents(span trace.Span, before, after []string, at time.Time) {
	if slices.Equal(before, after) {
		return
	}
	for _, f := range after {
		if _, found := slices.BinarySearch(before, f); !found {
			span.AddEvent(traces.EventFaultStart, trace.WithTimestamp(at), trace.WithAttributes(traces.EventAttrFault.String(f)))
		}
	}
	for _, f := range before {
		if _, found := slices.BinarySearch(after, f); !found {
			span.AddEvent(traces.EventFaultEnd, trace.WithTimestamp(at), trace.WithAttributes(traces.EventAttrFault.String(f)))
		}
	}
}

// logRequest writes the request's line: info for an answer, warn for a
// 4xx, error for a 5xx. It hands the record to h itself rather than
// through a Logger, which would read the clock again and walk the stack for
// the caller's pc on every line, the dropped ones too.
func logRequest(ctx context.Context, h slog.Handler, r *http.Request, status int, start, end time.Time) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	if !h.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(end, level, "request", 0)
	rec.AddAttrs(slog.String(logs.KeyMethod, r.Method), slog.String(logs.KeyPath, r.URL.Path),
		slog.Int(logs.KeyStatus, status), slog.Float64(logs.KeyDurationMS, float64(end.Sub(start).Microseconds())/1e3))
	_ = h.Handle(ctx, rec)
}
