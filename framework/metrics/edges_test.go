package metrics

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

func TestEdgeColumnNaming(t *testing.T) {
	col := EdgeColumn("compose-post", "login")
	if col != "compose-post->login" {
		t.Fatalf("EdgeColumn = %q", col)
	}
	if a, b, ok := SplitEdgeColumn(col); !ok || a != "compose-post" || b != "login" {
		t.Fatalf("SplitEdgeColumn(%q) = %q, %q, %v", col, a, b, ok)
	}
	for _, notEdge := range []string{"compose-post", "a->", "->b", ""} {
		if _, _, ok := SplitEdgeColumn(notEdge); ok {
			t.Errorf("SplitEdgeColumn(%q) took a service for an edge", notEdge)
		}
	}
	edges := EdgeFamilyNames()
	if want := []string{"edge_latency_avg", "edge_latency_p95", "edge_request_rate", "edge_error_rate"}; !slices.Equal(edges, want) {
		t.Fatalf("EdgeFamilyNames = %v, want %v", edges, want)
	}
	for _, name := range FamilyNames() {
		f, err := LookupFamily(name)
		if err != nil {
			t.Fatal(err)
		}
		if f.Edge() != slices.Contains(edges, name) {
			t.Errorf("%s: Edge() = %v", name, f.Edge())
		}
		if f.Windows != DefaultWindows {
			t.Errorf("%s: windows %+v, want the defaults", name, f.Windows)
		}
	}
}

// TestEdgeTemplatesFollowServiceLatency pins the edge latencies to the
// service latencies' computation: the same PromQL with the downstream
// histogram and a callee grouping. A change to latency_p95 (say, another
// fallback) that the rewrite in edgeOf misses shows up here as a grouping
// without callee, which would collapse a caller's edges into one series.
func TestEdgeTemplatesFollowServiceLatency(t *testing.T) {
	undo := strings.NewReplacer(downstreamMetric, "vecro_http_request_duration_seconds", edgeBy, "by ("+ServiceLabel)
	for edge, svc := range map[string]string{"edge_latency_p95": "latency_p95", "edge_latency_avg": "latency_avg"} {
		for _, fl := range []Flavor{FlavorLocal, FlavorKube} {
			ef, _ := LookupFamily(edge)
			sf, _ := LookupFamily(svc)
			w := Windows{Rate: 7 * time.Second, Quantile: 13 * time.Second, Resource: time.Minute}
			ee, err := ef.WithWindows(w).Expr(fl, Scope{System: "social"})
			if err != nil {
				t.Fatal(err)
			}
			se, _ := sf.WithWindows(w).Expr(fl, Scope{System: "social"})
			if got := undo.Replace(ee); got != se {
				t.Errorf("%s/%s is not %s per edge:\n%s\nvs\n%s", edge, fl, svc, ee, se)
			}
		}
	}
	for _, name := range EdgeFamilyNames() {
		f, _ := LookupFamily(name)
		e, err := f.Expr(FlavorKube, Scope{System: "social"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e, "vecro_http_") || !strings.Contains(e, downstreamMetric) {
			t.Errorf("%s does not read only the downstream histogram: %s", name, e)
		}
		if n, m := strings.Count(e, " by ("), strings.Count(e, edgeBy); n == 0 || n != m {
			t.Errorf("%s: %d of %d groupings keep the callee: %s", name, m, n, e)
		}
		if !strings.Contains(e, `vecro_system="social"`) {
			t.Errorf("%s is not restricted to the system: %s", name, e)
		}
	}
	if e, _ := LookupFamily("edge_error_rate"); !strings.Contains(mustExpr(t, e), `code=~"5..|error"`) {
		t.Errorf("edge_error_rate does not count 5xx and unanswered calls: %s", mustExpr(t, e))
	}
}

func mustExpr(t *testing.T, f Family) string {
	t.Helper()
	e, err := f.Expr(FlavorLocal, Scope{System: "social"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEdgeFamiliesOnKnownData evaluates the edge families with the real
// engine over downstream histograms of known rates: replicas of a caller
// add up, 5xx and unanswered calls are errors and a 404 is not, and another
// system's calls do not leak in.
func TestEdgeFamiliesOnKnownData(t *testing.T) {
	e := newEmbedded(t, EmbeddedOptions{})
	t0 := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	buckets := []string{"0.001", "0.005", "0.01", "0.025", "0.05", "+Inf"}
	var ss []synthetic
	// call adds the series of calls from instance to callee with one status
	// code, rate per second, each call lasting d (0.02 or 0.002: one bucket).
	call := func(sys, instance, callee, code string, rate, d float64) {
		l := func(kv ...string) labels.Labels {
			return labels.FromStrings(append([]string{"vecro_system", sys, "vecro_service", "a", "vecro_instance", instance,
				"callee", callee, "code", code}, kv...)...)
		}
		ss = append(ss,
			synthetic{l("__name__", downstreamMetric+"_count"), 0, rate},
			synthetic{l("__name__", downstreamMetric+"_sum"), 0, rate * d})
		for _, le := range buckets {
			in := 0.0
			if (d == 0.02 && le != "0.001" && le != "0.005" && le != "0.01") || (d == 0.002 && le != "0.001") {
				in = rate
			}
			ss = append(ss, synthetic{l("__name__", downstreamMetric+"_bucket", "le", le), 0, in})
		}
	}
	for _, sys := range []string{"sys", "other"} {
		k := 1.0
		if sys == "other" {
			k = 100
		}
		call(sys, "a-0", "b", "200", 10*k, 0.02)
		call(sys, "a-1", "b", "200", 5*k, 0.02)
		call(sys, "a-0", "b", "503", 1*k, 0.02)
		call(sys, "a-1", "b", "error", 0.5*k, 0.02)
		call(sys, "a-1", "b", "404", 2*k, 0.02)
		call(sys, "a-0", "c", "200", 4*k, 0.002)
	}
	loadSynthetic(t, e, t0, 150, ss)

	want := map[string]map[string]float64{
		"edge_latency_avg":  {"a->b": 0.02, "a->c": 0.002},
		"edge_latency_p95":  {"a->b": 0.01 + 0.015*0.95, "a->c": 0.001 + 0.004*0.95},
		"edge_request_rate": {"a->b": 18.5, "a->c": 4},
		"edge_error_rate":   {"a->b": 1.5 / 18.5, "a->c": 0},
	}
	r := Range{Start: t0.Add(70 * time.Second), End: t0.Add(140 * time.Second), Step: 5 * time.Second}
	for _, name := range EdgeFamilyNames() {
		fam, _ := LookupFamily(name)
		for _, fl := range []Flavor{FlavorLocal, FlavorKube} {
			tab, err := CollectTable(context.Background(), e, fam, fl, Scope{System: "sys"}, r)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, fl, err)
			}
			if !slices.Equal(tab.Columns, []string{"a->b", "a->c"}) {
				t.Fatalf("%s/%s: columns %v, want [a->b a->c]", name, fl, tab.Columns)
			}
			for i, row := range tab.Rows {
				for j, v := range row {
					w := want[name][tab.Columns[j]]
					if math.IsNaN(v) || math.Abs(v-w) > 1e-9*math.Max(1, math.Abs(w)) {
						t.Errorf("%s/%s %s at %s = %v, want %v", name, fl, tab.Columns[j], tab.Times[i].Format(time.RFC3339), v, w)
					}
				}
			}
		}
	}
}

func TestTableWithColumns(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tab := Table{Family: "edge_request_rate", Columns: []string{"a->c", "b->d"}, Times: []time.Time{t0, t0.Add(time.Second)},
		Rows: [][]float64{{1, 2}, {3, 4}}}
	got := tab.WithColumns("a->b", "b->d", "a->b", "z->y")
	if want := []string{"a->b", "a->c", "b->d", "z->y"}; !slices.Equal(got.Columns, want) {
		t.Fatalf("columns %v, want %v", got.Columns, want)
	}
	for i, want := range [][]float64{{math.NaN(), 1, 2, math.NaN()}, {math.NaN(), 3, 4, math.NaN()}} {
		for j, w := range want {
			if g := got.Rows[i][j]; (math.IsNaN(w) != math.IsNaN(g)) || (!math.IsNaN(w) && g != w) {
				t.Errorf("row %d %s = %v, want %v", i, got.Columns[j], g, w)
			}
		}
	}
	if !slices.Equal(tab.Columns, []string{"a->c", "b->d"}) || len(tab.Rows[0]) != 2 {
		t.Errorf("WithColumns changed its receiver: %v %v", tab.Columns, tab.Rows)
	}
	if _, err := tableOf(Family{Name: "edge_request_rate"}, []time.Time{t0}, []Series{{Labels: map[string]string{"vecro_service": "a"}}}); err == nil {
		t.Error("edge series without callee accepted")
	}
}
