package metrics_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vecrosim/vecro/framework/metrics"
)

// TestMain doubles as the helper processes of the CPU benchmark, so that
// the scrapers' CPU time is measured apart from the targets'.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "targets":
		os.Exit(helperTargets())
	case "embedded":
		os.Exit(helperEmbedded())
	}
	os.Exit(m.Run())
}

// serviceMetrics is the metric set of the service binary (the brief's
// service contract), on a real client_golang registry.
type serviceMetrics struct {
	Requests   *prometheus.CounterVec
	Duration   *prometheus.HistogramVec
	Downstream *prometheus.HistogramVec
	RespBytes  prometheus.Counter
	InFlight   prometheus.Gauge
	NetRx      prometheus.Counter
	NetTx      prometheus.Counter
	Fault      *prometheus.GaugeVec
}

// durationBuckets are the service's histogram buckets.
var durationBuckets = []float64{.0002, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 25}

// newServiceRegistry registers the service's metrics with its constant
// labels, plus client_golang's go and process collectors (without them, as
// the service may expose them).
// native makes the duration histograms native too, with the service's
// settings (images/service/internal/svcmetrics).
func newServiceRegistry(system, service, instance string, native bool) (*prometheus.Registry, *serviceMetrics) {
	histOpts := func(name, help string) prometheus.HistogramOpts {
		o := prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}
		if native {
			o.NativeHistogramBucketFactor, o.NativeHistogramMaxBucketNumber, o.NativeHistogramMinResetDuration = 1.1, 160, time.Hour
		}
		return o
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	w := prometheus.WrapRegistererWith(prometheus.Labels{"vecro_system": system, "vecro_service": service, "vecro_instance": instance}, reg)
	m := &serviceMetrics{
		Requests:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vecro_http_requests_total", Help: "Requests served."}, []string{"code", "method"}),
		Duration:   prometheus.NewHistogramVec(histOpts("vecro_http_request_duration_seconds", "Request latency."), []string{"method"}),
		Downstream: prometheus.NewHistogramVec(histOpts("vecro_downstream_request_duration_seconds", "Downstream call latency."), []string{"callee", "code"}),
		RespBytes:  prometheus.NewCounter(prometheus.CounterOpts{Name: "vecro_http_response_bytes_total", Help: "Response bytes."}),
		InFlight:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "vecro_http_in_flight", Help: "Requests in flight."}),
		NetRx:      prometheus.NewCounter(prometheus.CounterOpts{Name: "vecro_net_receive_bytes_total", Help: "Bytes received."}),
		NetTx:      prometheus.NewCounter(prometheus.CounterOpts{Name: "vecro_net_transmit_bytes_total", Help: "Bytes sent."}),
		Fault:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vecro_fault_active", Help: "Active faults."}, []string{"fault", "behavior"}),
	}
	w.MustRegister(m.Requests, m.Duration, m.Downstream, m.RespBytes, m.InFlight, m.NetRx, m.NetTx, m.Fault)
	return reg, m
}

// serviceTarget is a real HTTP metrics endpoint on 127.0.0.1:0.
type serviceTarget struct {
	*serviceMetrics
	Reg    *prometheus.Registry
	Server *httptest.Server
	URL    string
	Target metrics.Target
}

// newServiceTarget serves a service's metrics until the test ends.
func newServiceTarget(t testing.TB, system, service, instance string) *serviceTarget {
	t.Helper()
	reg, m := newServiceRegistry(system, service, instance, false)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return &serviceTarget{
		serviceMetrics: m, Reg: reg, Server: srv, URL: srv.URL + "/metrics",
		Target: metrics.Target{URL: srv.URL + "/metrics", Labels: map[string]string{
			"system": system, "service": service, "instance": instance, "job": "vecro",
		}},
	}
}

// newEmbedded returns an embedded source closed when the test ends.
func newEmbedded(t testing.TB, opts metrics.EmbeddedOptions) *metrics.Embedded {
	t.Helper()
	e, err := metrics.NewEmbedded(opts)
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

// eventually polls cond until it reports done or the deadline passes. The
// deadlines are generous: the machine is small and shared.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last state: %s", what, within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// instant returns the values of an instant query now, by a label's value.
func instant(t testing.TB, src metrics.Source, q, by string) map[string]float64 {
	t.Helper()
	ss, err := src.Query(context.Background(), q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range ss {
		out[s.Labels[by]] = s.Points[len(s.Points)-1].V
	}
	return out
}

func fmtSeries(ss []metrics.Series) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%v:", s.Labels)
		for _, p := range s.Points {
			fmt.Fprintf(&b, " %v@%d", p.V, p.T.UnixMilli())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

// get fetches a URL's body, failing the test on any error.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
