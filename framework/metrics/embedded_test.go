package metrics_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vecrosim/vecro/framework/metrics"
)

// The unit tests scrape fast so that they finish quickly; the datasets use
// the 1 s default.
const testInterval = 200 * time.Millisecond

func TestEmbeddedScrapesCountersAndHistograms(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	st := newServiceTarget(t, "shop", "frontend", "frontend-0")
	st.Requests.WithLabelValues("200", "GET").Add(42)
	st.Requests.WithLabelValues("500", "GET").Add(3)
	for _, v := range []float64{0.003, 0.02, 0.02, 0.7} {
		st.Duration.WithLabelValues("GET").Observe(v)
	}
	// A series whose own label clashes with a target label.
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "legacy_info", Help: "x", ConstLabels: prometheus.Labels{"job": "inner"}})
	clash.Set(1)
	st.Reg.MustRegister(clash)

	if err := e.SetTargets([]metrics.Target{st.Target}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "target scraped", func() (bool, string) {
		up := instant(t, e, `up`, "instance")
		return up["frontend-0"] == 1, fmt.Sprint(up)
	})

	ss, err := e.Query(context.Background(), `vecro_http_requests_total{code="200"}`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Points[0].V != 42 {
		t.Fatalf("requests = %s, want one series at 42", fmtSeries(ss))
	}
	want := map[string]string{
		"__name__": "vecro_http_requests_total", "code": "200", "method": "GET",
		// the service's constant labels, untouched
		"vecro_system": "shop", "vecro_service": "frontend", "vecro_instance": "frontend-0",
		// the target's labels
		"system": "shop", "service": "frontend", "instance": "frontend-0", "job": "vecro",
	}
	if fmt.Sprint(ss[0].Labels) != fmt.Sprint(want) {
		t.Fatalf("labels %v, want %v", ss[0].Labels, want)
	}

	for q, want := range map[string]float64{
		`vecro_http_request_duration_seconds_bucket{le="0.005"}`: 1,
		`vecro_http_request_duration_seconds_bucket{le="0.025"}`: 3,
		`vecro_http_request_duration_seconds_bucket{le="+Inf"}`:  4,
		`vecro_http_request_duration_seconds_count`:              4,
		`vecro_http_request_duration_seconds_sum`:                0.743,
		// rank 2 of 4 falls in (0.01, 0.025], which holds 2 of them
		`histogram_quantile(0.5, vecro_http_request_duration_seconds_bucket)`: 0.01 + 0.015*(2-1)/2,
	} {
		got := instant(t, e, q, "vecro_service")
		if len(got) != 1 || got["frontend"] < want-1e-12 || got["frontend"] > want+1e-12 {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}

	// Report series, like Prometheus': samples scraped is what was stored.
	scraped := instant(t, e, `scrape_samples_scraped`, "instance")["frontend-0"]
	stored := instant(t, e, `count({instance="frontend-0",__name__!~"up|scrape_.+"})`, "")[""]
	if scraped < 50 || scraped != stored {
		t.Errorf("scrape_samples_scraped = %v, series stored = %v", scraped, stored)
	}
	if d := instant(t, e, `scrape_duration_seconds`, "instance")["frontend-0"]; d <= 0 || d > testInterval.Seconds() {
		t.Errorf("scrape_duration_seconds = %v", d)
	}

	// Counters move on without resets.
	st.Requests.WithLabelValues("200", "GET").Add(8)
	eventually(t, 10*time.Second, "counter update scraped", func() (bool, string) {
		v := instant(t, e, `vecro_http_requests_total{code="200"}`, "code")
		return v["200"] == 50, fmt.Sprint(v)
	})
	if r := instant(t, e, `resets(vecro_http_requests_total[1m])`, "code"); r["200"] != 0 {
		t.Errorf("resets = %v", r)
	}
	// Samples lie on the interval grid, one per interval.
	eventually(t, 10*time.Second, "ten scrapes", func() (bool, string) {
		ss, err = e.Query(context.Background(), `up[2s]`, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(ss) == 1 && len(ss[0].Points) >= 8, fmtSeries(ss)
	})
	// Timestamps sit on one phase of the interval grid: a scrape that
	// starts less than 2ms late is stored at its slot. One that starts
	// later keeps its own timestamp, as in Prometheus, so on this busy
	// machine only most, not all, samples are on the grid.
	pts := ss[0].Points
	phases := map[time.Duration]int{}
	for i, p := range pts {
		phases[time.Duration(p.T.UnixNano())%testInterval]++
		if i > 0 && !p.T.After(pts[i-1].T) {
			t.Errorf("timestamps not increasing:\n%s", fmtSeries(ss))
		}
	}
	best := 0
	for _, n := range phases {
		best = max(best, n)
	}
	if 2*best < len(pts) {
		t.Errorf("only %d of %d samples share a phase of the %v grid:\n%s", best, len(pts), testInterval, fmtSeries(ss))
	}

	h := e.Targets()
	if len(h) != 1 || h[0].Health != "up" || h[0].LastError != "" || h[0].Samples != int(scraped) || h[0].LastScrape.IsZero() {
		t.Errorf("health %+v", h)
	}
}

func TestEmbeddedMarksVanishedSeriesStale(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	st := newServiceTarget(t, "shop", "cart", "cart-0")
	st.Fault.WithLabelValues("f1", "net-delay").Set(1)
	st.Fault.WithLabelValues("f2", "cpu-stress").Set(1)
	if err := e.SetTargets([]metrics.Target{st.Target}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both faults scraped", func() (bool, string) {
		f := instant(t, e, `vecro_fault_active`, "fault")
		return len(f) == 2, fmt.Sprint(f)
	})
	st.Fault.DeleteLabelValues("f1", "net-delay")
	// Without a staleness marker the series would stay visible for the
	// 5-minute lookback.
	eventually(t, 5*time.Second, "vanished series stale", func() (bool, string) {
		f := instant(t, e, `vecro_fault_active`, "fault")
		return len(f) == 1 && f["f2"] == 1, fmt.Sprint(f)
	})
	// It was stored all along: its samples are still there in a range.
	if n := instant(t, e, `count_over_time(vecro_fault_active{fault="f1"}[1m])`, "fault"); n["f1"] < 1 {
		t.Fatalf("f1 has no samples: %v", n)
	}
	// And it comes back when the target exposes it again.
	st.Fault.WithLabelValues("f1", "net-delay").Set(2)
	eventually(t, 5*time.Second, "series back", func() (bool, string) {
		f := instant(t, e, `vecro_fault_active`, "fault")
		return f["f1"] == 2, fmt.Sprint(f)
	})
}

// deadURL is an address nothing listens on.
func deadURL(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/metrics"
}

func TestEmbeddedTargetChurnDeadTargetsAndStaleness(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	a := newServiceTarget(t, "shop", "a", "a-0")
	b := newServiceTarget(t, "shop", "b", "b-0")
	d := newServiceTarget(t, "shop", "d", "d-0")
	for _, st := range []*serviceTarget{a, b, d} {
		st.Requests.WithLabelValues("200", "GET").Add(1)
	}
	dead := metrics.Target{URL: deadURL(t), Labels: map[string]string{"instance": "dead-0", "service": "dead"}}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	fail := metrics.Target{URL: failing.URL + "/metrics", Labels: map[string]string{"instance": "fail-0"}}

	if err := e.SetTargets([]metrics.Target{a.Target, b.Target, dead, fail}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "all four scraped", func() (bool, string) {
		up := instant(t, e, `up`, "instance")
		return len(up) == 4 && up["a-0"] == 1 && up["b-0"] == 1 && up["dead-0"] == 0 && up["fail-0"] == 0, fmt.Sprint(up)
	})
	errs := map[string]string{}
	for _, h := range e.Targets() {
		errs[h.Target.Labels["instance"]] = h.Health + ": " + h.LastError
		if h.Target.Labels["job"] != metrics.DefaultJob {
			t.Errorf("target %s: job %q, want the default %q", h.Target.URL, h.Target.Labels["job"], metrics.DefaultJob)
		}
	}
	if !strings.HasPrefix(errs["dead-0"], "down: ") || !strings.Contains(errs["dead-0"], "connection refused") || !strings.Contains(errs["dead-0"], dead.URL) {
		t.Errorf("dead target health %q", errs["dead-0"])
	}
	if !strings.Contains(errs["fail-0"], "500") || !strings.HasPrefix(errs["a-0"], "up") {
		t.Errorf("health %v", errs)
	}

	// Churn: b and the broken targets go, d comes; a keeps scraping.
	removedAt := time.Now()
	if err := e.SetTargets([]metrics.Target{a.Target, d.Target}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "d scraped, b and broken targets stale", func() (bool, string) {
		up := instant(t, e, `up`, "instance")
		req := instant(t, e, `vecro_http_requests_total`, "instance")
		return len(up) == 2 && up["a-0"] == 1 && up["d-0"] == 1 && len(req) == 2 && req["b-0"] == 0,
			fmt.Sprintf("up %v, requests %v", up, req)
	})
	// Prometheus marks a removed target stale about two intervals after
	// its removal, not five minutes later.
	if took := time.Since(removedAt); took > 5*time.Second {
		t.Errorf("removed target took %v to go stale", took)
	}
	if got := len(e.Targets()); got != 2 {
		t.Errorf("%d targets reported, want 2", got)
	}
	// a was not restarted by the churn: a new loop's first scrape would
	// report its series as added.
	since := time.Since(removedAt).Milliseconds()
	added := instant(t, e, fmt.Sprintf(`max_over_time(scrape_series_added{instance="a-0"}[%dms])`, since), "instance")
	if v, ok := added["a-0"]; !ok || v != 0 {
		t.Errorf("a's scrape_series_added across the churn: %v, want 0", added)
	}

	// A target that dies: up=0 and its series end at once.
	a.Server.Close()
	eventually(t, 10*time.Second, "dead a reported down, its series stale", func() (bool, string) {
		up := instant(t, e, `up`, "instance")
		req := instant(t, e, `vecro_http_requests_total`, "instance")
		_, aReq := req["a-0"]
		return up["a-0"] == 0 && !aReq, fmt.Sprintf("up %v, requests %v", up, req)
	})
}

func TestEmbeddedSetTargetsRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	good := metrics.Target{URL: "http://127.0.0.1:1/metrics"}
	for name, tc := range map[string]struct {
		targets []metrics.Target
		want    string
	}{
		"relative URL":  {[]metrics.Target{good, {URL: "/metrics"}}, `target 1: URL "/metrics"`},
		"bad scheme":    {[]metrics.Target{{URL: "ftp://x/metrics"}}, `target 0: URL "ftp://x/metrics"`},
		"bad label":     {[]metrics.Target{{URL: good.URL, Labels: map[string]string{"vecro-service": "x"}}}, `invalid label name "vecro-service"`},
		"reserved name": {[]metrics.Target{{URL: good.URL, Labels: map[string]string{"__address__": "x"}}}, `invalid label name "__address__"`},
		"duplicate":     {[]metrics.Target{good, good}, "listed twice"},
	} {
		err := e.SetTargets(tc.targets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	if len(e.Targets()) != 0 {
		t.Errorf("a rejected set of targets was applied: %+v", e.Targets())
	}
	for _, o := range []metrics.EmbeddedOptions{
		{ScrapeInterval: time.Second, ScrapeTimeout: 2 * time.Second},
		{ScrapeInterval: time.Microsecond},
		{Retention: -time.Hour},
	} {
		if src, err := metrics.NewEmbedded(o); err == nil {
			src.Close()
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestEmbeddedClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := metrics.NewEmbedded(metrics.EmbeddedOptions{Dir: dir, ScrapeInterval: testInterval})
	if err != nil {
		t.Fatal(err)
	}
	st := newServiceTarget(t, "shop", "a", "a-0")
	if err := e.SetTargets([]metrics.Target{st.Target}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "scraped", func() (bool, string) {
		return len(instant(t, e, `up`, "instance")) == 1, ""
	})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Query(context.Background(), "up", time.Now()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("query after Close: %v", err)
	}
	if err := e.SetTargets([]metrics.Target{st.Target}); err == nil {
		t.Fatal("SetTargets after Close succeeded")
	}
	// A directory the caller gave is the caller's.
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("given TSDB dir removed: %v", err)
	}
}

// TestEmbeddedParsesOpenMetrics checks the other text format Prometheus'
// parser reads, for a target that insists on it.
func TestEmbeddedParsesOpenMetrics(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "om_events_total", Help: "x"})
	c.Add(7)
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	if err := e.SetTargets([]metrics.Target{{URL: srv.URL, Labels: map[string]string{"instance": "om"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "OpenMetrics counter scraped", func() (bool, string) {
		v := instant(t, e, `om_events_total`, "instance")
		return v["om"] == 7, fmt.Sprint(v, e.Targets())
	})
}

// TestEmbeddedFailedParseEndsSeries serves an exposition that breaks half
// way: the scrape stores nothing of it, reports up=0 and ends the series of
// the last good scrape, as Prometheus does; the next good scrape brings
// them back.
func TestEmbeddedFailedParseEndsSeries(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE a_total counter\na_total 1\nb_total{x=\"1\"} 2\n")
		if broken.Load() {
			fmt.Fprint(w, "c_total{x=\"1\" 3\n") // unterminated label set
		} else {
			fmt.Fprint(w, "c_total{x=\"1\"} 3\n")
		}
	}))
	t.Cleanup(srv.Close)
	if err := e.SetTargets([]metrics.Target{{URL: srv.URL, Labels: map[string]string{"instance": "p"}}}); err != nil {
		t.Fatal(err)
	}
	series := func() (bool, string) {
		v := instant(t, e, `{instance="p",__name__=~"[abc]_total"}`, "__name__")
		up := instant(t, e, `up`, "instance")["p"]
		return len(v) == 3 && up == 1, fmt.Sprint(v, " up ", up)
	}
	eventually(t, 10*time.Second, "good scrape", series)
	broken.Store(true)
	eventually(t, 10*time.Second, "broken scrape: up=0, no series", func() (bool, string) {
		v := instant(t, e, `{instance="p",__name__=~"[abc]_total"}`, "__name__")
		up := instant(t, e, `up`, "instance")["p"]
		return len(v) == 0 && up == 0, fmt.Sprint(v, " up ", up)
	})
	if h := e.Targets()[0]; h.Health != "down" || !strings.Contains(h.LastError, "parse") {
		t.Errorf("health %+v", h)
	}
	broken.Store(false)
	eventually(t, 10*time.Second, "good again", series)
}
