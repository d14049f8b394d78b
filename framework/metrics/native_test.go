package metrics_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vecrosim/vecro/framework/metrics"
)

// TestQuantileFamiliesPreferNative scrapes two services observing the
// same latencies (the 250 ms ± 20 ms, uniform): one serves its
// duration histogram native and classic in protobuf, the other only text,
// so only classic buckets. latency_p95 reads the native histogram of the
// first (close to the true 0.268 s) and falls back to the classic buckets
// of the second (0.475 s: linear inside the .25–.5 bucket), and
// latency_avg is exact for both.
func TestQuantileFamiliesPreferNative(t *testing.T) {
	t.Parallel()
	// 500 ms: under -race on a loaded machine a scrape of a registry with
	// the go and process collectors can outlast 200 ms and fail.
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: 500 * time.Millisecond})
	var targets []metrics.Target
	for _, svc := range []string{"native", "textonly"} {
		reg, m := newServiceRegistry("fb", svc, svc+"-0", svc == "native")
		// Every 20 ms a full sweep of the distribution, so that any window
		// holds it.
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop) })
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				for j := range 40 {
					m.Duration.WithLabelValues("GET").Observe(0.230 + 0.040*(float64(j)+0.5)/40)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if svc == "textonly" {
				r.Header.Del("Accept") // client_golang then answers in text
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		targets = append(targets, metrics.Target{URL: srv.URL, Labels: map[string]string{"system": "fb", "service": svc}})
	}
	if err := e.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "both scraped well for a window", func() (bool, string) {
		v := instant(t, e, `sum_over_time(up[5s])`, "service")
		return v["native"] >= 6 && v["textonly"] >= 6, fmt.Sprint(v)
	})
	// What each stored: native and classic series, or classic only.
	nat := instant(t, e, `count by (vecro_service) (last_over_time(vecro_http_request_duration_seconds[5s]))`, "vecro_service")
	cls := instant(t, e, `count by (vecro_service) (last_over_time(vecro_http_request_duration_seconds_bucket[5s]))`, "vecro_service")
	if nat["native"] != 1 || nat["textonly"] != 0 || cls["native"] != 16 || cls["textonly"] != 16 {
		t.Errorf("native series %v, classic bucket series %v; want 1 and 16 for native, 0 and 16 for textonly", nat, cls)
	}
	w := metrics.Windows{Rate: 5 * time.Second, Quantile: 5 * time.Second}
	for _, c := range []struct {
		family, svc string
		want, tol   float64
	}{
		// A scrape in the middle of a sweep leaves a partial one at each
		// end of the window: a few % on a loaded machine, where a window
		// holds few sweeps. The two p95 stay far apart either way.
		{"latency_p95", "native", 0.268, 0.04},
		{"latency_p95", "textonly", 0.475, 0.03},
		{"latency_avg", "native", 0.250, 0.01},
		{"latency_avg", "textonly", 0.250, 0.01},
	} {
		fam, err := metrics.LookupFamily(c.family)
		if err != nil {
			t.Fatal(err)
		}
		q, err := fam.WithWindows(w).Expr(metrics.FlavorLocal, metrics.Scope{System: "fb"})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := e.Query(context.Background(), q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got := math.NaN()
		for _, s := range ss {
			if s.Labels["vecro_service"] == c.svc {
				got = s.Points[0].V
			}
		}
		if math.IsNaN(got) || math.Abs(got-c.want)/c.want > c.tol {
			t.Errorf("%s of %s: %v, want %v ± %.1f%%\n%s", c.family, c.svc, got, c.want, 100*c.tol, q)
		}
	}
}
