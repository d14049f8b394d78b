package local

import (
	"context"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/traces"
)

// TestEveryRequestIsACompleteTraceAndALogLine: the runtime collects the
// spans of the load generator and of every instance, one trace per load
// request with the call tree's spans, and the instances' request logs.
func TestEveryRequestIsACompleteTraceAndALogLine(t *testing.T) {
	r := newRuntime(t, Options{})
	dep, err := r.Start(context.Background(), small(false))
	if err != nil {
		t.Fatal(err)
	}
	if dep.Traces == nil || dep.OTLPEndpoint == "" || dep.Logs == nil {
		t.Fatalf("deployment without traces (%v, %q) or logs (%v)", dep.Traces, dep.OTLPEndpoint, dep.Logs)
	}
	tp, err := traces.NewProvider(traces.ExportOptions{Endpoint: dep.OTLPEndpoint, Service: traces.LoadService})
	if err != nil {
		t.Fatal(err)
	}
	front, _ := dep.Service("front")
	from := time.Now()
	run, err := load.Start(context.Background(), load.Spec{
		Targets: []load.Target{{Service: "front", URL: front.URL}}, Method: "GET",
		Users: 2, Delay: 50 * time.Millisecond, Duration: time.Second, Tracer: tp.Tracer("test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := run.Wait()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep.OK == 0 || rep.Errors > 0 {
		t.Fatalf("load: %d ok, %d errors", rep.OK, rep.Errors)
	}
	// The instances' batches leave within traces.DefaultBatchTimeout.
	to := time.Now().Add(time.Minute)
	// load → front (server, client mid) → mid (server, client store) → store (server).
	const perTrace = 6
	var spans []traces.Span
	deadline := time.Now().Add(3 * traces.DefaultBatchTimeout)
	for {
		spans, _, err = dep.Traces.Spans(context.Background(), from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) >= perTrace*int(rep.OK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	byTrace := map[[16]byte][]traces.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	complete := 0
	for _, ss := range byTrace {
		if len(ss) == perTrace {
			complete++
		}
	}
	t.Logf("%d requests, %d spans, %d traces, %d complete", rep.OK, len(spans), len(byTrace), complete)
	if uint64(len(byTrace)) != rep.OK || uint64(complete) != rep.OK {
		t.Errorf("%d traces, %d of %d spans each, for %d requests: want one complete trace per request", len(byTrace), complete, perTrace, rep.OK)
	}
	lines, st, err := dep.Logs.Lines(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	perService := map[string]int{}
	for _, l := range lines {
		if l.Message == "request" {
			perService[l.Service]++
		}
		if l.TraceID == "" || l.SpanID == "" {
			t.Errorf("log line without trace: %+v", l)
			break
		}
	}
	t.Logf("log lines: %v (other lines %d)", perService, st.Other)
	for _, svc := range []string{"front", "mid", "store"} {
		if perService[svc] != int(rep.OK) {
			t.Errorf("%s: %d request lines for %d requests", svc, perService[svc], rep.OK)
		}
	}
}
