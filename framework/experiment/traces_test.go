package experiment_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/testexp"
)

// TestADelayShowsInTheCallersClientSpans runs a real ingress delay on the
// embedded runtime and reads the dataset's traces: every load request is a
// complete trace; a's client spans into b lengthen by the injected delay,
// b's own server spans do not (the delay sits in front of its server); the
// call graph the spans show is the part of the definition the load
// reaches; and the request log has a line per request of every service.
func TestADelayShowsInTheCallersClientSpans(t *testing.T) {
	if testing.Short() {
		t.Skip("a real experiment of about 45 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const faults = `name: delay-b
namespace: fork
faults:
  - {name: b-delay, target: b, start: 20s, duration: 15s, behaviors: {net-delay: {time: 100ms, jitter: 0ms, on: ingress}}}
`
	e, _ := testexp.New(ctx, t, fork, faults, 5)
	e.Families = []string{"latency_p95"}
	e.Load = experiment.Load{Services: []string{"a"}, Rate: "20", Arrivals: "poisson"}
	e.Phases = experiment.Phases{WarmUp: 5 * time.Second, Recovery: 5 * time.Second}
	e.Windows = metrics.Windows{Rate: 5 * time.Second, Quantile: 5 * time.Second, Resource: 5 * time.Second}
	// And the run in RCAEval's layout beside it (checked in rcaeval below).
	e.RCAEval = true
	var progress strings.Builder
	e.Progress = &progress
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatalf("experiment: %v\n%s", err, progress.String())
	}
	t.Logf("dataset: %s", res.Dir)
	rcaeval(t, res.Dir)
	m, err := dataset.ReadManifest(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Traces == nil || m.Logs == nil {
		t.Fatalf("manifest without traces (%v) or logs (%v)", m.Traces, m.Logs)
	}
	dropped := "unknown"
	if m.Logs.Dropped != nil {
		dropped = strconv.FormatFloat(*m.Logs.Dropped, 'g', -1, 64)
	}
	written := "unknown"
	if m.Logs.Written != nil {
		written = strconv.FormatFloat(*m.Logs.Written, 'f', 0, 64)
	}
	t.Logf("traces: %+v; logs: lines %d (written %s), errors %d, dropped %s", *m.Traces, m.Logs.Lines, written, m.Logs.ErrorLines, dropped)
	// load → a (server, client b, client c) → b, c (server): 6 spans.
	if want := uint64(m.Traces.Rooted); res.Load.OK+res.Load.Errors > want+want/100 || m.Traces.CompletePercent < 99 {
		t.Errorf("%d requests answered, %d traces rooted at the load, %.1f%% complete; want one complete trace per request",
			res.Load.OK+res.Load.Errors, m.Traces.Rooted, m.Traces.CompletePercent)
	}
	// Every line the instances wrote in the run was read (the embedded
	// runtime reads their whole output), give or take the lines of the
	// second at each end of the window that their counters were read in.
	if m.Logs.Written == nil {
		t.Errorf("manifest logs without written lines: %+v", *m.Logs)
	} else if w := *m.Logs.Written; math.Abs(float64(m.Logs.Lines)-w) > 0.02*w+50 {
		t.Errorf("%d log lines read, %.0f written in the run", m.Logs.Lines, w)
	}
	if m.Traces.Dropped != 0 {
		t.Errorf("%d spans dropped at the receiver", m.Traces.Dropped)
	}

	rows, err := dataset.SpanRows(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w := res.Fault("b-delay")
	// Durations in ms of a's client spans into b and b's server spans,
	// before the fault and during it.
	type key struct{ what, when string }
	ms := map[key][]float64{}
	for _, r := range rows {
		us, _ := strconv.ParseFloat(r["duration_us"], 64)
		startUS, _ := strconv.ParseInt(r["start_unix_us"], 10, 64)
		start := time.UnixMicro(startUS)
		when := ""
		switch {
		case start.Before(w.Start) && !start.Before(res.Timeline.Baseline.Start):
			when = "baseline"
		case r["fault_active"] == "b-delay":
			when = "fault"
		default:
			continue
		}
		switch {
		case r["service"] == "a" && r["kind"] == "client" && r["peer_service"] == "b":
			ms[key{"a->b client", when}] = append(ms[key{"a->b client", when}], us/1e3)
			if when == "fault" && r["on_target"] != "1" {
				t.Errorf("a's client span into b during the fault not on target: %v", r)
			}
		case r["service"] == "b" && r["kind"] == "server":
			ms[key{"b server", when}] = append(ms[key{"b server", when}], us/1e3)
		}
	}
	q := func(k key, p float64) float64 {
		v := ms[k]
		if len(v) == 0 {
			t.Fatalf("no %s span during the %s", k.what, k.when)
		}
		sort.Float64s(v)
		return v[int(p*float64(len(v)-1))]
	}
	for _, what := range []string{"a->b client", "b server"} {
		t.Logf("%s spans: baseline p50 %.1f ms p95 %.1f ms (%d), during the 100 ms delay p50 %.1f ms p95 %.1f ms (%d)", what,
			q(key{what, "baseline"}, .5), q(key{what, "baseline"}, .95), len(ms[key{what, "baseline"}]),
			q(key{what, "fault"}, .5), q(key{what, "fault"}, .95), len(ms[key{what, "fault"}]))
	}
	if d := q(key{"a->b client", "fault"}, .5) - q(key{"a->b client", "baseline"}, .5); d < 90 {
		t.Errorf("a's client spans into b rose %.1f ms at the median during a 100 ms delay on b's ingress", d)
	}
	if d := q(key{"b server", "fault"}, .5) - q(key{"b server", "baseline"}, .5); d > 30 {
		t.Errorf("b's server spans rose %.1f ms at the median: an ingress delay sits in front of them", d)
	}

	dot, err := os.ReadFile(filepath.Join(res.Dir, "callgraph.dot"))
	if err != nil {
		t.Fatal(err)
	}
	var edges []string
	for _, line := range strings.Split(string(dot), "\n") {
		if from, rest, ok := strings.Cut(strings.TrimSpace(line), " -> "); ok {
			to, _, _ := strings.Cut(rest, " ")
			edges = append(edges, strings.Trim(from, `"`)+"->"+strings.Trim(to, `"`))
		}
	}
	// d calls c in the definition, but no load reaches d.
	if want := []string{"a->b", "a->c", "load->a"}; !slices.Equal(edges, want) {
		t.Errorf("call graph from the spans %v, want %v:\n%s", edges, want, dot)
	}

	lrows, err := dataset.LogRows(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	perService := map[string]int{}
	faultOn := false
	for _, r := range lrows {
		if r["message"] == "request" && r["trace_id"] != "" {
			perService[r["service"]]++
		}
		faultOn = faultOn || r["message"] == "fault on" && r["service"] == "b"
	}
	if !faultOn {
		t.Error("no \"fault on\" line of b's agent in logs.csv")
	}
	for _, svc := range []string{"a", "b", "c"} {
		if n := perService[svc]; n < m.Traces.Rooted*95/100 {
			t.Errorf("%s: %d request log lines with a trace for %d traced requests", svc, n, m.Traces.Rooted)
		}
	}
}

func TestTraceSampleRatioIsCheckedBeforeAnythingRuns(t *testing.T) {
	sys := &spec.System{Name: "one", Services: []spec.Service{{Name: "a", Type: spec.TypeBase}}}
	for _, r := range []float64{-0.1, 1.5} {
		e := &experiment.Experiment{System: sys, TraceSampleRatio: r, Runtime: refuseStart{t}}
		if _, err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "trace sample ratio") {
			t.Errorf("ratio %g: err %v, want the ratio refused", r, err)
		}
	}
}

// refuseStart is a runtime that fails the test when anything starts it.
type refuseStart struct{ t *testing.T }

func (refuseStart) Name() string { return "refuse" }
func (r refuseStart) Start(context.Context, *spec.System) (*runtime.Deployment, error) {
	r.t.Error("the runtime was started")
	return nil, errors.New("refused")
}
func (refuseStart) Stop(context.Context) error { return nil }

// rcaeval checks the RCAEval case Experiment.RCAEval wrote for the run's one
// fault (an ingress delay on b): <target>_<fault>/1/ with data.csv (a time
// column, then <service>_<metric> columns), inject_time.txt inside the
// applied window, and the traces RCAEval's RE2 reads.
func rcaeval(t *testing.T, dir string) {
	t.Helper()
	c := filepath.Join(dir, experiment.RCAEvalDir, "b_delay", "1")
	b, err := os.ReadFile(filepath.Join(c, "data.csv"))
	if err != nil {
		t.Fatalf("RCAEval export: %v", err)
	}
	header := strings.Split(strings.SplitN(string(b), "\n", 2)[0], ",")
	if header[0] != "time" || !slices.Contains(header, "b_latency") {
		t.Errorf("RCAEval data.csv columns %v: want time first and b_latency among them", header)
	}
	it, err := os.ReadFile(filepath.Join(c, "inject_time.txt"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := dataset.Labels(dir)
	if err != nil || len(labels) != 1 {
		t.Fatalf("labels: %v (%d)", err, len(labels))
	}
	start, _ := time.Parse(time.RFC3339Nano, labels[0]["applied_start"])
	end, _ := time.Parse(time.RFC3339Nano, labels[0]["applied_end"])
	if sec, err := strconv.ParseInt(strings.TrimSpace(string(it)), 10, 64); err != nil || sec < start.Unix() || sec > end.Unix() {
		t.Errorf("inject_time.txt %q: want a Unix second in the applied window %v–%v", it, start, end)
	}
	if _, err := os.Stat(filepath.Join(c, "traces.csv")); err != nil {
		t.Errorf("RCAEval case without traces: %v", err)
	}
}
