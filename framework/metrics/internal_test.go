package metrics

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

func TestScrapeOffset(t *testing.T) {
	sec := time.Second
	at := func(ms int64) time.Time { return time.UnixMilli(1_700_000_000_000 + ms) }
	for _, tc := range []struct {
		name     string
		now      time.Time
		interval time.Duration
		hash     uint64
		want     time.Duration
	}{
		{"phase 0 on the grid waits a full interval", at(0), sec, 0, sec},
		{"phase 0 mid-interval waits for the next grid point", at(300), sec, 0, 700 * time.Millisecond},
		{"phase ahead of now in this interval", at(300), sec, uint64(500 * time.Millisecond), 200 * time.Millisecond},
		{"phase already passed waits for the next interval", at(800), sec, uint64(500 * time.Millisecond), 700 * time.Millisecond},
		{"hash wraps modulo the interval", at(0), sec, uint64(sec) + uint64(250*time.Millisecond), 250 * time.Millisecond},
		{"other interval", at(1500), 2 * sec, uint64(100 * time.Millisecond), 600 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scrapeOffset(tc.now, tc.interval, tc.hash)
			if got != tc.want {
				t.Fatalf("scrapeOffset = %v, want %v", got, tc.want)
			}
			if got <= 0 || got > tc.interval {
				t.Fatalf("offset %v outside (0, %v]", got, tc.interval)
			}
			// The phase is pinned to absolute time: first scrape at the
			// hash's position within the interval.
			phase := tc.now.Add(got).UnixNano() % int64(tc.interval)
			if want := int64(tc.hash % uint64(tc.interval)); phase != want {
				t.Fatalf("first scrape at phase %v, want %v", time.Duration(phase), time.Duration(want))
			}
		})
	}
}

func TestAlignScrapeTime(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	ms := time.Millisecond
	for _, tc := range []struct {
		name             string
		now, aligned     time.Time
		interval         time.Duration
		wantTS, wantSlot time.Time
	}{
		{"on time", base.Add(1000 * ms), base, time.Second, base.Add(1000 * ms), base.Add(1000 * ms)},
		{"late within 2ms snaps to the slot", base.Add(1002 * ms), base, time.Second, base.Add(1000 * ms), base.Add(1000 * ms)},
		{"later keeps its own time", base.Add(1003 * ms), base, time.Second, base.Add(1003 * ms), base.Add(1000 * ms)},
		{"a skipped tick moves the slot on twice", base.Add(2001 * ms), base, time.Second, base.Add(2000 * ms), base.Add(2000 * ms)},
		{"tolerance is at most 1% of a short interval", base.Add(101500 * time.Microsecond), base, 100 * ms, base.Add(101500 * time.Microsecond), base.Add(100 * ms)},
		{"within 1% of a short interval", base.Add(100900 * time.Microsecond), base, 100 * ms, base.Add(100 * ms), base.Add(100 * ms)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, slot := alignScrapeTime(tc.now, tc.aligned, tc.interval)
			if !ts.Equal(tc.wantTS) || !slot.Equal(tc.wantSlot) {
				t.Fatalf("alignScrapeTime = %v, %v; want %v, %v", ts, slot, tc.wantTS, tc.wantSlot)
			}
		})
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second:        "10s",
		time.Minute:             "1m",
		90 * time.Second:        "90s",
		1500 * time.Millisecond: "1500ms",
		2 * time.Hour:           "120m",
	} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFamilyExprsParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, f := range Families() {
		for _, fl := range []Flavor{FlavorLocal, FlavorKube} {
			for _, sys := range []string{"social", "my.sys", `we"ird\sys`} {
				expr, err := f.Expr(fl, Scope{System: sys})
				if err != nil {
					t.Fatalf("%s/%s: %v", f.Name, fl, err)
				}
				e, err := p.ParseExpr(expr)
				if err != nil {
					t.Fatalf("%s/%s for %q does not parse: %v\n%s", f.Name, fl, sys, err, expr)
				}
				if e.Type() != parser.ValueTypeVector {
					t.Fatalf("%s/%s: type %s, want a vector", f.Name, fl, e.Type())
				}
			}
		}
	}
	if _, err := Families()[0].Expr("docker", Scope{System: "s"}); err == nil {
		t.Fatal("unknown flavour accepted")
	}
	if _, err := Families()[0].Expr(FlavorLocal, Scope{System: ""}); err == nil {
		t.Fatal("empty system accepted")
	}
	if _, err := Families()[0].WithWindows(Windows{Rate: 1500 * time.Microsecond}).Expr(FlavorLocal, Scope{System: "s"}); err == nil {
		t.Fatal("sub-millisecond window accepted")
	}
	if _, err := LookupFamily("latency_p50"); err == nil {
		t.Fatal("unknown family found")
	}
}

// newEmbedded returns a source that is closed when the test ends.
func newEmbedded(t testing.TB, opts EmbeddedOptions) *Embedded {
	t.Helper()
	e, err := NewEmbedded(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// synthetic appends series whose values are linear in time: value(t) =
// base + slope × seconds since t0, every second for n seconds.
type synthetic struct {
	lset  labels.Labels
	base  float64
	slope float64
}

func loadSynthetic(t *testing.T, e *Embedded, t0 time.Time, n int, ss []synthetic) {
	t.Helper()
	app := e.db.AppenderV2(context.Background())
	for i := 0; i <= n; i++ {
		ts := t0.Add(time.Duration(i) * time.Second).UnixMilli()
		for _, s := range ss {
			if _, err := app.Append(0, s.lset, 0, ts, s.base+s.slope*float64(i), nil, nil, storage.AOptions{}); err != nil {
				t.Fatalf("append %s: %v", s.lset, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestFamiliesOnKnownData evaluates every family with the real engine over
// series of known rates and checks the values a dataset would get.
func TestFamiliesOnKnownData(t *testing.T) {
	e := newEmbedded(t, EmbeddedOptions{})
	t0 := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	svc := func(sys, name string, kv ...string) labels.Labels {
		return labels.FromStrings(append([]string{"vecro_system", sys, "vecro_service", name, "vecro_instance", name + "-0"}, kv...)...)
	}
	proc := func(sys, name, metric string) labels.Labels {
		return labels.FromStrings("__name__", metric, "system", sys, "service", name, "instance", name+"-0", "job", "vecro")
	}
	// Service a: 10 req/s 200 and 1 req/s 500, every request 20ms (bucket
	// 0.025); b: 5 req/s 200 at 2ms (bucket 0.005). Bucket counts are
	// cumulative, as in the exposition.
	buckets := []string{"0.001", "0.005", "0.01", "0.025", "0.05", "+Inf"}
	var ss []synthetic
	for _, sys := range []string{"sys", "other"} {
		k := 1.0
		if sys == "other" {
			k = 100 // must not leak into sys
		}
		ss = append(ss,
			synthetic{svc(sys, "a", "__name__", "vecro_http_requests_total", "code", "200", "method", "GET"), 50, 10 * k},
			synthetic{svc(sys, "a", "__name__", "vecro_http_requests_total", "code", "500", "method", "GET"), 3, 1 * k},
			synthetic{svc(sys, "b", "__name__", "vecro_http_requests_total", "code", "200", "method", "GET"), 7, 5 * k},
			synthetic{svc(sys, "a", "__name__", "vecro_http_request_duration_seconds_sum"), 1, 11 * 0.02 * k},
			synthetic{svc(sys, "a", "__name__", "vecro_http_request_duration_seconds_count"), 53, 11 * k},
			synthetic{svc(sys, "b", "__name__", "vecro_http_request_duration_seconds_sum"), 0, 5 * 0.002 * k},
			synthetic{svc(sys, "b", "__name__", "vecro_http_request_duration_seconds_count"), 7, 5 * k},
			synthetic{svc(sys, "a", "__name__", "vecro_http_response_bytes_total"), 0, 2048 * k},
			synthetic{svc(sys, "b", "__name__", "vecro_http_response_bytes_total"), 0, 512 * k},
			synthetic{svc(sys, "a", "__name__", "vecro_net_receive_bytes_total"), 0, 300 * k},
			synthetic{svc(sys, "a", "__name__", "vecro_net_transmit_bytes_total"), 0, 3000 * k},
			synthetic{svc(sys, "b", "__name__", "vecro_net_receive_bytes_total"), 0, 100 * k},
			synthetic{svc(sys, "b", "__name__", "vecro_net_transmit_bytes_total"), 0, 600 * k},
			synthetic{proc(sys, "a", "process_cpu_seconds_total"), 2, 0.25 * k},
			synthetic{proc(sys, "b", "process_cpu_seconds_total"), 2, 0.5 * k},
			synthetic{proc(sys, "a", "process_resident_memory_bytes"), 80e6 * k, 0},
			synthetic{proc(sys, "b", "process_resident_memory_bytes"), 20e6 * k, 0},
		)
		for _, le := range buckets {
			var aRate, bRate float64
			if le != "0.001" {
				bRate = 5 * k
			}
			if le == "0.025" || le == "0.05" || le == "+Inf" {
				aRate = 11 * k
			}
			ss = append(ss,
				synthetic{svc(sys, "a", "__name__", "vecro_http_request_duration_seconds_bucket", "le", le), 0, aRate},
				synthetic{svc(sys, "b", "__name__", "vecro_http_request_duration_seconds_bucket", "le", le), 0, bRate})
		}
	}
	// Kubernetes: cAdvisor series for pods of Deployments sys-a and sys-b;
	// the pod-level (container="") and sandbox ("POD") series must not be
	// counted twice.
	cad := func(metric, pod, container string, extra ...string) labels.Labels {
		return labels.FromStrings(append([]string{"__name__", metric, "namespace", "sys", "pod", pod, "container", container}, extra...)...)
	}
	podA, podB, podX := "sys-a-5d4f8b7c9-x2k9p", "sys-b-66b9c7d5f4-q8w7e", "sysx-a-5d4f8b7c9-x2k9p"
	ss = append(ss,
		synthetic{cad("container_cpu_usage_seconds_total", podA, "agent"), 10, 0.2},
		synthetic{cad("container_cpu_usage_seconds_total", podA, "mongo"), 10, 0.3},
		synthetic{cad("container_cpu_usage_seconds_total", podA, ""), 20, 0.5},
		synthetic{cad("container_cpu_usage_seconds_total", podA, "POD"), 0, 0.01},
		synthetic{cad("container_cpu_usage_seconds_total", podB, "agent"), 10, 0.1},
		synthetic{cad("container_cpu_usage_seconds_total", podX, "agent"), 10, 9},
		synthetic{cad("container_memory_working_set_bytes", podA, "agent"), 30e6, 0},
		synthetic{cad("container_memory_working_set_bytes", podA, "mongo"), 70e6, 0},
		synthetic{cad("container_memory_working_set_bytes", podA, ""), 100e6, 0},
		synthetic{cad("container_memory_working_set_bytes", podB, "agent"), 25e6, 0},
		synthetic{cad("container_network_receive_bytes_total", podA, "", "interface", "eth0"), 0, 400},
		synthetic{cad("container_network_transmit_bytes_total", podA, "", "interface", "eth0"), 0, 4000},
		synthetic{cad("container_network_receive_bytes_total", podA, "", "interface", "lo"), 0, 99999},
		synthetic{cad("container_network_receive_bytes_total", podB, "", "interface", "eth0"), 0, 200},
		synthetic{cad("container_network_transmit_bytes_total", podB, "", "interface", "eth0"), 0, 800},
	)
	loadSynthetic(t, e, t0, 150, ss)

	// p95 of a: all in (0.01, 0.025], linear interpolation gives
	// 0.01 + 0.015 × 0.95; b: all in (0.001, 0.005].
	want := map[string]map[Flavor]map[string]float64{
		"latency_avg":  {FlavorLocal: {"a": 0.02, "b": 0.002}},
		"latency_p95":  {FlavorLocal: {"a": 0.01 + 0.015*0.95, "b": 0.001 + 0.004*0.95}},
		"latency_p99":  {FlavorLocal: {"a": 0.01 + 0.015*0.99, "b": 0.001 + 0.004*0.99}},
		"throughput":   {FlavorLocal: {"a": 2048, "b": 512}},
		"request_rate": {FlavorLocal: {"a": 11, "b": 5}},
		"error_rate":   {FlavorLocal: {"a": 1.0 / 11, "b": 0}},
		"cpu_usage":    {FlavorLocal: {"a": 0.25, "b": 0.5}, FlavorKube: {"a": 0.5, "b": 0.1}},
		"memory_usage": {FlavorLocal: {"a": 80e6, "b": 20e6}, FlavorKube: {"a": 100e6, "b": 25e6}},
		"net_rx":       {FlavorLocal: {"a": 300, "b": 100}, FlavorKube: {"a": 400, "b": 200}},
		"net_tx":       {FlavorLocal: {"a": 3000, "b": 600}, FlavorKube: {"a": 4000, "b": 800}},
	}
	// The request families read the service's own metrics on both runtimes.
	for _, f := range []string{"latency_avg", "latency_p95", "latency_p99", "throughput", "request_rate", "error_rate"} {
		want[f][FlavorKube] = want[f][FlavorLocal]
	}
	r := Range{Start: t0.Add(70 * time.Second), End: t0.Add(140 * time.Second), Step: 5 * time.Second}
	for _, fam := range Families() {
		if fam.Edge() {
			continue // TestEdgeFamiliesOnKnownData
		}
		for _, fl := range []Flavor{FlavorLocal, FlavorKube} {
			tab, err := CollectTable(context.Background(), e, fam, fl, Scope{System: "sys"}, r)
			if err != nil {
				t.Fatalf("%s/%s: %v", fam.Name, fl, err)
			}
			if len(tab.Columns) != 2 || tab.Columns[0] != "a" || tab.Columns[1] != "b" {
				t.Fatalf("%s/%s: columns %v, want [a b]", fam.Name, fl, tab.Columns)
			}
			if len(tab.Times) != 15 || len(tab.Rows) != 15 {
				t.Fatalf("%s/%s: %d times, %d rows; want 15", fam.Name, fl, len(tab.Times), len(tab.Rows))
			}
			for i, row := range tab.Rows {
				for j, v := range row {
					w := want[fam.Name][fl][tab.Columns[j]]
					if math.IsNaN(v) || math.Abs(v-w) > 1e-9*math.Max(1, math.Abs(w)) {
						t.Errorf("%s/%s %s at %s = %v, want %v", fam.Name, fl, tab.Columns[j], tab.Times[i].Format(time.RFC3339), v, w)
					}
				}
			}
		}
	}
}

func TestTableKeepsTimestampsAndGaps(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	fam, _ := LookupFamily("throughput")
	r := Range{Start: t0, End: t0.Add(4 * time.Second), Step: time.Second}
	times, err := Steps(r)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := tableOf(fam, times, []Series{
		{Labels: map[string]string{"vecro_service": "z"}, Points: []Point{{t0.Add(time.Second), 1}, {t0.Add(4 * time.Second), 4}}},
		{Labels: map[string]string{"vecro_service": "a"}, Points: []Point{{t0, 10}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Columns; len(got) != 2 || got[0] != "a" || got[1] != "z" {
		t.Fatalf("columns %v", got)
	}
	nan := math.NaN()
	want := [][]float64{{10, nan}, {nan, 1}, {nan, nan}, {nan, nan}, {nan, 4}}
	for i := range want {
		for j := range want[i] {
			g, w := tab.Rows[i][j], want[i][j]
			if (math.IsNaN(w) && !math.IsNaN(g)) || (!math.IsNaN(w) && g != w) {
				t.Fatalf("row %d col %d = %v, want %v", i, j, g, w)
			}
		}
	}
	if _, err := tableOf(fam, times, []Series{{Labels: map[string]string{"vecro_service": "a"}, Points: []Point{{t0.Add(500 * time.Millisecond), 1}}}}); err == nil {
		t.Fatal("point between steps accepted")
	}
	if _, err := tableOf(fam, times, []Series{{Labels: map[string]string{"service": "a"}}}); err == nil {
		t.Fatal("series without vecro_service accepted")
	}
	for _, bad := range []Range{
		{Start: t0, End: t0.Add(-time.Second), Step: time.Second},
		{Start: t0, End: t0, Step: 0},
		{Start: t0, End: t0.Add(12000 * time.Second), Step: time.Second},
	} {
		if _, err := Steps(bad); err == nil {
			t.Errorf("range %+v accepted", bad)
		}
	}
}

// Two runs of one system in two namespaces of a cluster whose Prometheus
// scrapes both (kube-prometheus): each run's dataset reads its own series
// only, the services' and cAdvisor's alike.
func TestNamespaceScopeKeepsRunsApart(t *testing.T) {
	e := newEmbedded(t, EmbeddedOptions{})
	t0 := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	var ss []synthetic
	for i, ns := range []string{"run-1", "run-2"} {
		k := float64(1 + 9*i) // run-2 is ten times busier
		ss = append(ss,
			synthetic{labels.FromStrings("__name__", "vecro_http_requests_total", "vecro_system", "sys", "vecro_service", "a", "vecro_instance", "a-0",
				"code", "200", "method", "GET", "namespace", ns, "pod", "sys-a-5d4f8b7c9-x2k9p"), 0, 2 * k},
			synthetic{labels.FromStrings("__name__", "container_cpu_usage_seconds_total", "namespace", ns, "pod", "sys-a-5d4f8b7c9-x2k9p", "container", "agent"), 0, 0.1 * k},
		)
	}
	loadSynthetic(t, e, t0, 150, ss)
	r := Range{Start: t0.Add(70 * time.Second), End: t0.Add(140 * time.Second), Step: 10 * time.Second}
	for fam, want := range map[string]map[string]float64{
		"request_rate": {"run-1": 2, "run-2": 20},
		"cpu_usage":    {"run-1": 0.1, "run-2": 1},
	} {
		f, _ := LookupFamily(fam)
		for ns, w := range want {
			tab, err := CollectTable(context.Background(), e, f, FlavorKube, Scope{System: "sys", Namespace: ns}, r)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range tab.Rows {
				if len(row) != 1 || math.Abs(row[0]-w) > 1e-9 {
					t.Fatalf("%s in %s: %v, want %v alone", fam, ns, row, w)
				}
			}
		}
		// Without a namespace the runs add up: what a parallel run's
		// dataset would have held.
		tab, err := CollectTable(context.Background(), e, f, FlavorKube, Scope{System: "sys"}, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := tab.Rows[0][0]; math.Abs(got-want["run-1"]-want["run-2"]) > 1e-9 {
			t.Errorf("%s without a namespace: %v, want both runs' sum", fam, got)
		}
	}
	// The local flavour has one Prometheus per run and no namespace label.
	f, _ := LookupFamily("request_rate")
	if expr, _ := f.Expr(FlavorLocal, Scope{System: "sys", Namespace: "run-1"}); strings.Contains(expr, "namespace") {
		t.Errorf("local query names a namespace: %s", expr)
	}
}
