package svcmetrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkNativeHistogramThroughput prices the native buckets: the
// service's instrumented port (an empty handler behind Instrument, scraped
// once a second in the protobuf format, as the embedded scraper does) with
// native plus classic duration histograms against classic only, in
// interleaved rounds so that the machine's changing load hits both alike.
// It also reports the cost of one observation of each. Target: native ≥
// 0.9 × classic-only.
//
//	go test -run '^$' -bench NativeHistogramThroughput -benchtime 1x ./images/service/internal/svcmetrics/
func BenchmarkNativeHistogramThroughput(b *testing.B) {
	const (
		conns  = 16
		rounds = 5
		each   = 2 * time.Second
	)
	type variant struct {
		name string
		m    *Metrics
		url  string
		rps  float64
	}
	var vs []*variant
	for _, classicOnly := range []bool{false, true} {
		m, err := New(Options{System: "bench", Service: "svc", Instance: "svc-0", classicOnly: classicOnly})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
		b.Cleanup(srv.Close)
		name := "native"
		if classicOnly {
			name = "classic"
		}
		vs = append(vs, &variant{name: name, m: m, url: srv.URL})
	}
	for b.Loop() {
		var ratios []float64
		for r := range rounds {
			var round [2]float64
			for i, v := range vs {
				round[i] = drive(b, v.m, v.url, conns, each)
				v.rps += round[i] / rounds
			}
			ratios = append(ratios, round[0]/round[1])
			b.Logf("round %d: native %.0f req/s, classic only %.0f req/s (%.2f×)", r+1, round[0], round[1], round[0]/round[1])
		}
		slices.Sort(ratios)
		b.ReportMetric(vs[0].rps, "native-req/s")
		b.ReportMetric(vs[1].rps, "classic-req/s")
		b.ReportMetric(vs[0].rps/vs[1].rps, "ratio")
		obsNative, obsClassic := observeCost(vs[0].m), observeCost(vs[1].m)
		b.ReportMetric(obsNative, "native-ns/observe")
		b.ReportMetric(obsClassic, "classic-ns/observe")
		b.Logf("native/classic-only throughput %.3f (median of rounds %.3f; target ≥ 0.90); one observation: native %.0f ns, classic only %.0f ns",
			vs[0].rps/vs[1].rps, ratios[len(ratios)/2], obsNative, obsClassic)
	}
}

// drive sends requests from conns keep-alive connections for d while a
// scraper reads /metrics in protobuf once a second, and returns the rate.
func drive(b *testing.B, m *Metrics, url string, conns int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
				m.Handler().ServeHTTP(httptest.NewRecorder(), req)
			}
		}
	})
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for time.Since(start) < d {
				resp, err := c.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// observeCost is the mean cost of one observation of the request duration
// histogram over latencies spread from 100 µs to 10 s.
func observeCost(m *Metrics) float64 {
	const n = 1 << 20
	vals := make([]float64, 1024)
	for i := range vals {
		vals[i] = 1e-4 * float64(int(1)<<(i%17)) * (1 + float64(i%13)/13)
	}
	start := time.Now()
	for i := range n {
		m.duration.Observe(vals[i%len(vals)])
	}
	return float64(time.Since(start).Nanoseconds()) / n
}
