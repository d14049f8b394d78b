package traces_test

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vecrosim/vecro/framework/traces"
)

// The carrier must read and write exactly what propagation.HeaderCarrier
// does, so that a service using it talks to any W3C peer.
func TestHeaderCarrierMatchesTheLibrarys(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	ts, err := trace.ParseTraceState("vecro=1,other=x")
	if err != nil {
		t.Fatal(err)
	}
	ctx := trace.ContextWithSpanContext(context.Background(), sc.WithTraceState(ts))

	ours, theirs := http.Header{}, http.Header{}
	traces.Propagator.Inject(ctx, traces.HeaderCarrier(ours))
	traces.Propagator.Inject(ctx, propagation.HeaderCarrier(theirs))
	for _, k := range []string{"Traceparent", "Tracestate"} {
		if len(ours[k]) != 1 || ours.Get(k) != theirs.Get(k) {
			t.Errorf("%s: injected %q, the library's carrier %q", k, ours[k], theirs[k])
		}
	}
	got := trace.SpanContextFromContext(traces.Propagator.Extract(context.Background(), traces.HeaderCarrier(theirs)))
	if !got.Equal(sc.WithTraceState(ts).WithRemote(true)) {
		t.Errorf("extracted %v, want %v", got, sc)
	}
	if c := traces.HeaderCarrier(http.Header{"X-Other": {"v"}}); c.Get("x-other") != "v" {
		t.Errorf("another key: %q", c.Get("x-other"))
	}
	if n := testing.AllocsPerRun(100, func() { traces.HeaderCarrier(theirs).Get("traceparent") }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}
}
