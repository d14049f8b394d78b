package load_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestEveryRequestIsTheRootSpanOfItsOwnTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	var mu sync.Mutex
	var received []trace.SpanContext
	var bodies []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		ctx := traces.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		mu.Lock()
		received = append(received, trace.SpanContextFromContext(ctx))
		n := len(received)
		mu.Unlock()
		if n%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	run, err := load.Start(context.Background(), load.Spec{
		Targets: []load.Target{{Service: "web", URL: srv.URL + "/x"}}, Body: "payload",
		Users: 1, Duration: 300 * time.Millisecond, Delay: 20 * time.Millisecond, Tracer: tp.Tracer("test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	report := run.Wait()
	srv.mu.Lock()
	bodies = append(bodies, srv.bodies...)
	srv.mu.Unlock()

	spans := rec.Ended()
	if report.Sent < 5 || uint64(len(spans)) != report.Sent || len(received) != len(spans) {
		t.Fatalf("%d requests sent, %d received, %d spans: want one root span per request", report.Sent, len(received), len(spans))
	}
	traceIDs := map[trace.TraceID]bool{}
	for i, s := range spans {
		if s.Parent().IsValid() || s.SpanKind() != trace.SpanKindClient || s.Name() != "POST web" {
			t.Errorf("span %d: %q kind %v parent %v, want a root client span named POST web", i, s.Name(), s.SpanKind(), s.Parent())
		}
		if got := received[i]; got.SpanID() != s.SpanContext().SpanID() || got.TraceID() != s.SpanContext().TraceID() {
			t.Errorf("request %d carried %v/%v, want its span's %v/%v", i, got.TraceID(), got.SpanID(), s.SpanContext().TraceID(), s.SpanContext().SpanID())
		}
		if want := []codes.Code{codes.Unset, codes.Error}[i%2]; s.Status().Code != want {
			t.Errorf("span %d: status %v, want %v", i, s.Status().Code, want)
		}
		traceIDs[s.SpanContext().TraceID()] = true
	}
	if len(traceIDs) != len(spans) {
		t.Errorf("%d trace ids for %d requests, want one trace per request", len(traceIDs), len(spans))
	}
	// The header lines go before the body, which arrives intact.
	for i, b := range bodies {
		if b != "payload" {
			t.Fatalf("request %d body %q, want %q", i, b, "payload")
		}
	}
}
