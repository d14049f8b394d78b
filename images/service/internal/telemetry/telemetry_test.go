package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/images/service/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracer returns a tracer whose ended spans the recorder holds.
func newTracer(t testing.TB) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), rec
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// logLines decodes the JSON lines of a log.
func logLines(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestTheServerSpanContinuesTheCallersTraceAndTheLogLineNamesIt(t *testing.T) {
	tracer, rec := newTracer(t)
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(&buf, telemetry.LogOptions{Rate: -1})).With("service", "web", "instance", "web-0")
	h := telemetry.Middleware(telemetry.Options{Tracer: tracer, Log: log}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusBadGateway)
		}
	}))

	caller := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	})
	for _, path := range []string{"/", "/fail"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		traces.Propagator.Inject(trace.ContextWithSpanContext(context.Background(), caller), propagation.HeaderCarrier(req.Header))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	lines := logLines(t, buf.Bytes())
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []struct {
		status int
		code   codes.Code
		level  string
	}{{200, codes.Unset, "INFO"}, {502, codes.Error, "ERROR"}} {
		s := spans[i]
		if s.SpanKind() != trace.SpanKindServer || s.Parent().SpanID() != caller.SpanID() || s.SpanContext().TraceID() != caller.TraceID() {
			t.Errorf("span %d: kind %v parent %v trace %v, want a server span under the caller's", i, s.SpanKind(), s.Parent().SpanID(), s.SpanContext().TraceID())
		}
		if v, _ := attr(s, traces.AttrHTTPStatus); v.AsInt64() != int64(want.status) {
			t.Errorf("span %d: status attribute %v, want %d", i, v.AsInt64(), want.status)
		}
		if s.Status().Code != want.code {
			t.Errorf("span %d: status %v, want %v", i, s.Status().Code, want.code)
		}
		l := lines[i]
		if l["trace_id"] != caller.TraceID().String() || l["span_id"] != s.SpanContext().SpanID().String() {
			t.Errorf("log line %d: trace %v span %v, want the server span's %v %v", i, l["trace_id"], l["span_id"], caller.TraceID(), s.SpanContext().SpanID())
		}
		if l["level"] != want.level || l["status"] != float64(want.status) || l["service"] != "web" || l["instance"] != "web-0" || l["method"] != "GET" {
			t.Errorf("log line %d: %v", i, l)
		}
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("log line %d has no duration_ms: %v", i, l)
		}
	}
}

func TestFaultsThatSwitchDuringASpanBecomeEvents(t *testing.T) {
	tracer, rec := newTracer(t)
	var on atomic.Pointer[[]string]
	faults := func() []string {
		if p := on.Load(); p != nil {
			return *p
		}
		return nil
	}
	before := []string{"a-delay"}
	on.Store(&before)
	h := telemetry.Middleware(telemetry.Options{Tracer: tracer, Faults: faults}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		after := []string{"b-abort"}
		on.Store(&after)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	s := rec.Ended()[0]
	if v, _ := attr(s, traces.AttrFaults); strings.Join(v.AsStringSlice(), ",") != "a-delay" {
		t.Errorf("faults attribute %v, want the one on at the start", v.AsStringSlice())
	}
	var got []string
	for _, e := range s.Events() {
		for _, kv := range e.Attributes {
			if kv.Key == traces.EventAttrFault {
				got = append(got, e.Name+" "+kv.Value.AsString())
			}
		}
	}
	if want := "fault.start b-abort,fault.end a-delay"; strings.Join(got, ",") != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestWithNothingToRecordTheHandlerIsUnwrapped(t *testing.T) {
	h := http.NewServeMux()
	if got := telemetry.Middleware(telemetry.Options{}, h); got != http.Handler(h) {
		t.Errorf("Middleware with no tracer and no log wrapped the handler")
	}
}

func TestTheRateCapDropsAndCountsLines(t *testing.T) {
	var buf bytes.Buffer
	var dropped atomic.Int64
	log := slog.New(telemetry.NewLogHandler(&buf, telemetry.LogOptions{Rate: 5, Dropped: func() { dropped.Add(1) }}))
	for range 50 {
		log.Info("request")
	}
	// A burst of one second's worth passes; the rest of an instant's lines
	// are dropped (a slow machine may refill one or two tokens).
	n := len(logLines(t, buf.Bytes()))
	if n < 5 || n > 8 || int64(n)+dropped.Load() != 50 {
		t.Errorf("%d lines written and %d dropped of 50, want ~5 written and the rest counted", n, dropped.Load())
	}
}

// TestTheLogReadsBackAsLogLines: what the service writes is what the
// harness's reader (framework/logs) reads.
func TestTheLogReadsBackAsLogLines(t *testing.T) {
	tracer, rec := newTracer(t)
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(&buf, telemetry.LogOptions{})).With(logs.KeyService, "web", logs.KeyInstance, "web-0")
	h := telemetry.Middleware(telemetry.Options{Tracer: tracer, Log: log}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/brew", nil))
	var got []logs.Line
	if err := logs.Parse(&buf, func(l logs.Line) { got = append(got, l) }, nil); err != nil {
		t.Fatal(err)
	}
	sc := rec.Ended()[0].SpanContext()
	if len(got) != 1 {
		t.Fatalf("%d lines read back, want 1", len(got))
	}
	l := got[0]
	if l.Service != "web" || l.Instance != "web-0" || l.Level != "WARN" || l.Method != "POST" || l.Path != "/brew" ||
		l.Status != http.StatusTeapot || l.TraceID != sc.TraceID().String() || l.SpanID != sc.SpanID().String() || l.Time.IsZero() {
		t.Errorf("read back %+v", l)
	}
}
