package calls_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/images/service/internal/calls"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestEveryCallIsAClientSpanWhoseContextTheCalleeReceives(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	var mu sync.Mutex
	seen := map[string]trace.SpanContext{}
	at := func(name string, status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx := traces.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			mu.Lock()
			seen[name] = trace.SpanContextFromContext(ctx)
			mu.Unlock()
			w.WriteHeader(status)
		}
	}
	good, bad := newCallee(t, at("good", 200)), newCallee(t, at("bad", 500))
	c := newCaller(t, calls.Options{
		Callees: []calls.Callee{{Name: "good", URL: good.URL}, {Name: "bad", URL: bad.URL}},
		Tracer:  tp.Tracer("test"),
	})
	ctx, parent := tp.Tracer("test").Start(context.Background(), "server")
	if err := c.Call(ctx); err == nil {
		t.Fatal("call of a callee answering 500 succeeded")
	}
	parent.End()

	byPeer := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == traces.AttrPeerService {
				byPeer[kv.Value.AsString()] = s
			}
		}
	}
	for name, wantCode := range map[string]codes.Code{"good": codes.Unset, "bad": codes.Error} {
		s, ok := byPeer[name]
		if !ok {
			t.Fatalf("no client span with peer.service %s", name)
		}
		if s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s: kind %v parent %v, want a client span under the server span", name, s.SpanKind(), s.Parent().SpanID())
		}
		if s.Status().Code != wantCode {
			t.Errorf("%s: status %v, want %v", name, s.Status(), wantCode)
		}
		if got := seen[name]; got.SpanID() != s.SpanContext().SpanID() || got.TraceID() != s.SpanContext().TraceID() {
			t.Errorf("%s received traceparent %v/%v, want its client span's %v/%v", name, got.TraceID(), got.SpanID(), s.SpanContext().TraceID(), s.SpanContext().SpanID())
		}
	}
}
