package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/images/service/internal/httprec"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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
	names := &spanNames{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		var span trace.Span
		var faults []string
		if o.Tracer != nil {
			// The SDK reads the clock for the span's start and end itself:
			// a timestamp passed as an option costs an allocation.
			ctx = traces.Propagator.Extract(ctx, traces.HeaderCarrier(r.Header))
			ctx, span = o.Tracer.Start(ctx, names.of(r.Method, r.URL.Path), serverKind...)
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
			span.End()
		}
		if o.Log != nil {
			logRequest(ctx, o.Log.Handler(), r, status, start, end)
		}
	})
}

// serverKind is the server span's one start option, made once: an option
// made per request is an allocation per request.
var serverKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// spanNames keeps the "METHOD /path" names of the server spans, so that a
// request to a path seen before does not build its name again. A service
// serves a handful of paths; past maxSpanNames (a scan, say) names are
// built per request and not kept.
type spanNames struct {
	mu    sync.RWMutex
	names map[methodPath]string
}

type methodPath struct{ method, path string }

const maxSpanNames = 256

func (n *spanNames) of(method, path string) string {
	k := methodPath{method, path}
	n.mu.RLock()
	name, ok := n.names[k]
	n.mu.RUnlock()
	if ok {
		return name
	}
	name = method + " " + path
	n.mu.Lock()
	if n.names == nil {
		n.names = map[methodPath]string{}
	}
	if len(n.names) < maxSpanNames {
		n.names[k] = name
	}
	n.mu.Unlock()
	return name
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
