package local

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/toolcache"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/internal/testutil"
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
	from, rep := tracedLoad(t, dep)
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

// tracedLoad sends the small system a second of load from two users, each
// request traced from a root span of the load generator's, and returns
// when it started and the load's report.
func tracedLoad(t *testing.T, dep *runtime.Deployment) (time.Time, *load.Report) {
	t.Helper()
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
	return from, rep
}

// TestJaegerGetsEverySpan: with Options.Jaeger the runtime runs a real
// Jaeger v2 beside the system, the receiver forwards it every span, and
// traces.Jaeger reads the very spans the receiver holds back from Jaeger's
// query API: same ids, parents, services, instances, names, kinds, times
// and statuses. Stop ends Jaeger with the system.
func TestJaegerGetsEverySpan(t *testing.T) {
	bin, err := toolcache.Find("jaeger", toolcache.JaegerVersion)
	if err != nil {
		testutil.SkipOrFail(t, "%v", err)
	}
	r := newRuntime(t, Options{Jaeger: bin})
	dep, err := r.Start(context.Background(), small(false))
	if err != nil {
		t.Fatal(err)
	}
	if dep.JaegerURL == "" {
		t.Fatal("no JaegerURL in the deployment")
	}
	from, rep := tracedLoad(t, dep)
	const perTrace = 6
	want := perTrace * int(rep.OK)
	to := time.Now().Add(time.Minute)
	js := &traces.Jaeger{URL: dep.JaegerURL}
	var got, held []traces.Span
	deadline := time.Now().Add(3*traces.DefaultBatchTimeout + 5*time.Second)
	for {
		if held, _, err = dep.Traces.Spans(context.Background(), from, to); err != nil {
			t.Fatal(err)
		}
		if got, _, err = js.Spans(context.Background(), from, to); err != nil {
			t.Fatal(err)
		}
		if (len(held) >= want && len(got) >= len(held)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d requests: the receiver holds %d spans, Jaeger gave back %d", rep.OK, len(held), len(got))
	if rep.OK == 0 || len(held) != want {
		t.Fatalf("receiver holds %d spans for %d requests: want %d", len(held), rep.OK, want)
	}
	key := func(s traces.Span) string { return s.TraceID.String() + s.SpanID.String() }
	byKey := map[string]traces.Span{}
	for _, s := range got {
		byKey[key(s)] = s
	}
	if len(byKey) != len(got) {
		t.Errorf("Jaeger gave %d spans, %d distinct", len(got), len(byKey))
	}
	for _, h := range held {
		g, ok := byKey[key(h)]
		if !ok {
			t.Errorf("span %s %s of %s not in Jaeger", h.Kind, h.Name, h.Service)
			continue
		}
		if g.ParentSpanID != h.ParentSpanID || g.Service != h.Service || g.Instance != h.Instance || g.Name != h.Name ||
			g.Kind != h.Kind || !g.Start.Equal(h.Start) || !g.End.Equal(h.End) || g.StatusCode != h.StatusCode ||
			g.HTTPStatus != h.HTTPStatus || g.PeerService != h.PeerService || !slices.Equal(g.Faults, h.Faults) {
			t.Errorf("span differs:\n receiver %+v\n   jaeger %+v", h, g)
		}
	}
	if len(got) != len(held) {
		t.Errorf("Jaeger gave back %d spans, the receiver holds %d", len(got), len(held))
	}
	// A search shallower than the window's traces splits the window, and
	// searching every service finds no trace the load generator's missed.
	for _, js := range []*traces.Jaeger{{URL: dep.JaegerURL, SearchDepth: 3}, {URL: dep.JaegerURL, AllServices: true}} {
		again, _, err := js.Spans(context.Background(), from, to)
		if err != nil || len(again) != len(got) {
			t.Errorf("search depth %d, all services %v: %d spans (%v), want %d", js.SearchDepth, js.AllServices, len(again), err, len(got))
		}
	}
	rcv := dep.Traces.(*traces.Receiver)
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs := rcv.ForwardStats(); fs.Dropped != 0 || fs.Failed != 0 || fs.Sent == 0 {
		t.Errorf("forwarding: %+v", fs)
	}
	if _, _, err := js.Spans(context.Background(), from, to); err == nil {
		t.Error("Jaeger still answers after Stop")
	}
}
