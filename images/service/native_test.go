package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/metrics"
)

// TestNativeQuantilesAreExact runs the case — a 250 ms ± 20 ms
// delay, whose p95 the original's classic buckets put at 0.475 s — through
// a real service process, its native histogram, the embedded scraper and
// the PromQL engine, and checks p95 and p99 against the exact quantiles of
// the latencies the client observed (which exceed the server's own by the
// loopback round trip, well under 1% here).
func TestNativeQuantilesAreExact(t *testing.T) {
	if testing.Short() {
		t.Skip("drives load for 8 s")
	}
	svc := startService(t, "native", "--delay", "250ms", "--jitter", "20ms", "--seed", "7")
	src, err := metrics.NewEmbedded(metrics.EmbeddedOptions{ScrapeInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	if err := src.SetTargets([]metrics.Target{{URL: "http://" + svc.admin + "/metrics", Labels: map[string]string{"service": "native"}}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The window of the queries below must start before the first request,
	// on a sample of the empty histogram, so that it holds every request.
	waitFor(t, 10*time.Second, "the empty native histogram scraped", func() bool {
		ss, err := src.Query(ctx, `histogram_count(vecro_http_request_duration_seconds)`, time.Now())
		return err == nil && len(ss) == 1
	})
	time.Sleep(time.Second)
	begin := time.Now()

	const workers, loadFor = 32, 8 * time.Second
	var (
		mu   sync.Mutex
		lats []float64
	)
	c := newHTTPClient(t)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Since(begin) < loadFor {
				start := time.Now()
				resp, err := c.Get(svc.url)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start).Seconds()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %s", svc.url, resp.Status)
					return
				}
				mu.Lock()
				lats = append(lats, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Past two more scrapes: the last sample holds every request.
	time.Sleep(1200 * time.Millisecond)
	end := time.Now()
	window := end.Sub(begin).Truncate(time.Millisecond) + 2*time.Second
	slices.Sort(lats)
	exact := func(q float64) float64 { return lats[int(math.Ceil(q*float64(len(lats))))-1] }

	count := query1(t, src, fmt.Sprintf(`histogram_count(increase(vecro_http_request_duration_seconds[%dms]))`, window.Milliseconds()), end)
	t.Logf("%d requests observed by the client; the native histogram's increase over %v: %.1f (rate's extrapolation scales it, never the quantiles)", len(lats), window, count)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		native := query1(t, src, fmt.Sprintf(`histogram_quantile(%g, rate(vecro_http_request_duration_seconds[%dms]))`, q, window.Milliseconds()), end)
		classic := query1(t, src, fmt.Sprintf(`histogram_quantile(%g, sum by (le) (rate(vecro_http_request_duration_seconds_bucket[%dms])))`, q, window.Milliseconds()), end)
		want := exact(q)
		rel := math.Abs(native-want) / want
		t.Logf("p%g: exact %.4f s, native %.4f s (%+.2f%%), classic %.4f s (%+.1f%%)",
			100*q, want, native, 100*(native-want)/want, classic, 100*(classic-want)/want)
		// Schema 3 buckets are 9% wide and the interpolated quantile stays
		// in the true one's bucket, so it is at most ~9% off (~1% where
		// the distribution is smooth, as at
		// p50 and p95 here; a p99 in a sparse tail a noisy machine's
		// stalls made came out 2.5% off once).
		if rel > 0.05 {
			t.Errorf("p%g: native histogram_quantile %.4f s is %.1f%% from the exact %.4f s; want within 5%%", 100*q, native, 100*rel, want)
		}
	}
}

func query1(t *testing.T, src metrics.Source, q string, at time.Time) float64 {
	t.Helper()
	ss, err := src.Query(context.Background(), q, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || len(ss[0].Points) != 1 {
		t.Fatalf("%s: %v", q, ss)
	}
	return ss[0].Points[0].V
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
	}
}
