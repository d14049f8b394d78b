package dataset_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/trace"
)

// tree is one traced load request to api at offset at: load → api → db,
// with api's two storage operations on db's side (db is redis, Read 1,
// Write 1), so six spans; short leaves out the last one.
func tree(id byte, at time.Duration, short bool) []traces.Span {
	tid := trace.TraceID{id}
	sid := func(n byte) trace.SpanID { return trace.SpanID{id, n} }
	start := t0.Add(at)
	span := func(n, parent byte, svc, kind, name, peer string, d time.Duration) traces.Span {
		s := traces.Span{TraceID: tid, SpanID: sid(n), Service: svc, Instance: svc + "-0", Kind: kind, Name: name,
			PeerService: peer, Start: start, End: start.Add(d), StatusCode: "unset", HTTPStatus: 200}
		if parent != 0 {
			s.ParentSpanID = sid(parent)
		}
		return s
	}
	out := []traces.Span{
		span(1, 0, traces.LoadService, "client", "POST api", "api", 30*time.Millisecond),
		span(2, 1, "api", "server", "POST /", "", 29*time.Millisecond),
		span(3, 2, "api", "client", "GET db", "db", 20*time.Millisecond),
		span(4, 3, "db", "server", "GET /", "", 19*time.Millisecond),
		span(5, 4, "db", "client", "redis read", "", time.Millisecond),
		span(6, 4, "db", "client", "redis insert", "", time.Millisecond),
	}
	out[4].DBSystem, out[5].DBSystem = "redis", "redis"
	if short {
		out = out[:5]
	}
	return out
}

func TestTracesAndLogsAreWrittenLabelledAndCounted(t *testing.T) {
	r := run()
	r.Manifest.System = &spec.System{Name: "s", Services: []spec.Service{
		{Name: "api", Type: spec.TypeBase, Calls: []string{"db"}},
		{Name: "db", Type: spec.TypeRedis, Workload: spec.Workload{Read: 1, Write: 1}},
	}}
	r.NoPlots, r.Social9 = true, false
	var spans []traces.Span
	spans = append(spans, tree(1, 5*time.Second, false)...)
	spans = append(spans, tree(2, 25*time.Second, false)...) // during the fault on db
	spans = append(spans, tree(3, 35*time.Second, true)...)
	r.Traces = &dataset.Traces{Spans: spans, Stats: traces.Stats{Received: 20, Stored: 17, Dropped: 3, MaxSpans: 17}, SampleRatio: 1}
	r.Logs = &dataset.Logs{Lines: []logs.Line{
		{Time: t0.Add(5 * time.Second), Level: "INFO", Message: "request", Service: "api", Instance: "api-0", TraceID: "01", SpanID: "02", Method: "POST", Path: "/", Status: 200, DurationMS: 29},
		{Time: t0.Add(25 * time.Second), Level: "ERROR", Message: "request failed", Service: "db", Instance: "db-0", Status: 500, Step: "storage", Error: "storage redis: read record 3: i/o timeout"},
	}, Dropped: -1}

	dir, err := dataset.Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := dataset.TracesSummary{Spans: 17, Traces: 3, Complete: 2, Rooted: 3, CompletePercent: 200.0 / 3, Received: 20, Dropped: 3, MaxSpans: 17, SampleRatio: 1}
	if m.Traces == nil || *m.Traces != want {
		t.Errorf("manifest traces %+v, want %+v", m.Traces, want)
	}
	if m.Logs == nil || m.Logs.Lines != 2 || m.Logs.ErrorLines != 1 || m.Logs.Dropped != nil {
		t.Errorf("manifest logs %+v, want 2 lines, 1 error, drops unknown", m.Logs)
	}
	for _, f := range []string{"traces.csv", "logs.csv", "callgraph.dot"} {
		found := false
		for _, g := range m.Files {
			found = found || g == f
		}
		if !found {
			t.Errorf("manifest files %v lack %s", m.Files, f)
		}
	}

	rows, err := dataset.SpanRows(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(spans) {
		t.Fatalf("%d span rows for %d spans", len(rows), len(spans))
	}
	call := rows[6+2] // the second trace's api → db client span
	if call["service"] != "api" || call["peer_service"] != "db" || call["kind"] != "client" || call["duration_us"] != "20000" ||
		call["fault_active"] != "slow" || call["on_target"] != "1" || call["parent_span_id"] != spans[6+1].SpanID.String() ||
		call["start_unix_us"] != "1795608025000000" || call["http_status"] != "200" {
		t.Errorf("client span into the target during the fault: %v", call)
	}
	if root := rows[6]; root["parent_span_id"] != "" || root["on_target"] != "0" || root["fault_active"] != "slow" {
		t.Errorf("the load's span during the fault: %v, want labelled active but off target", root)
	}
	if rows[4]["db_system"] != "redis" || rows[0]["fault_active"] != "" {
		t.Errorf("storage span %v, span before the fault %v", rows[4], rows[0])
	}

	lrows, err := dataset.LogRows(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lrows) != 2 || lrows[0]["duration_ms"] != "29" || lrows[0]["on_target"] != "0" ||
		lrows[1]["on_target"] != "1" || lrows[1]["fault_active"] != "slow" || lrows[1]["error"] == "" || lrows[1]["duration_ms"] != "" {
		t.Errorf("log rows %v", lrows)
	}

	dot, err := os.ReadFile(filepath.Join(dir, "callgraph.dot"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{`"load" -> "api" [label="3"]`, `"api" -> "db" [label="3"]`} {
		if !strings.Contains(string(dot), e) {
			t.Errorf("callgraph.dot lacks %s:\n%s", e, dot)
		}
	}
	if strings.Contains(string(dot), `"db" -> ""`) {
		t.Errorf("storage operations drawn as calls:\n%s", dot)
	}
}

func TestCallTreeSize(t *testing.T) {
	sys := &spec.System{Name: "s", Services: []spec.Service{
		{Name: "front", Calls: []string{"a", "b"}},
		{Name: "a", Calls: []string{"b"}},
		{Name: "b", Type: spec.TypeRedis, Workload: spec.Workload{Read: 2, Write: 1}},
	}}
	// load 1 + front 1 + (client 1 + a 1 + (client 1 + b 4)) + (client 1 + b 4)
	if got := dataset.CallTreeSize(sys, "front"); got != 14 {
		t.Errorf("CallTreeSize(front) = %d, want 14", got)
	}
	if got := dataset.CallTreeSize(sys, "nope"); got != 0 {
		t.Errorf("CallTreeSize(nope) = %d, want 0", got)
	}
}
