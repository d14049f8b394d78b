package svcmetrics_test

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vecrosim/vecro/images/service/internal/svcmetrics"
)

func newMetrics(t testing.TB, legacy bool) *svcmetrics.Metrics {
	t.Helper()
	m, err := svcmetrics.New(svcmetrics.Options{System: "social-net", Service: "text", Instance: "text-0", Legacy: legacy})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scrape reads m's /metrics the way a scraper does.
func scrape(t *testing.T, m *svcmetrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the one series of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	for _, m := range f.GetMetric() {
		ls := labels(m)
		match := true
		for k, v := range want {
			if ls[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("no %s series with labels %v", name, want)
	return nil
}

func TestServiceSeries(t *testing.T) {
	m := newMetrics(t, true)
	srv := httptest.NewUnstartedServer(m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			http.Error(w, "nope", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(make([]byte, 100))
	})))
	srv.Listener = m.WrapListener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)

	// The client counts its own sockets with a second Metrics, so the
	// server's counts can be checked against what really crossed the wire.
	client := newMetrics(t, false)
	d := &net.Dialer{}
	tr := &http.Transport{DialContext: client.WrapDialer(d.DialContext)}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	do := func(method string, body string) {
		req, err := http.NewRequest(method, srv.URL+"/any/path", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 10 {
		do(http.MethodGet, "")
	}
	for range 3 {
		do(http.MethodPost, "some body")
	}
	do("BREW", "")
	m.ObserveDownstream("user-info", 200, 3*time.Millisecond)
	m.ObserveDownstream("user-info", 0, time.Second)
	tr.CloseIdleConnections()

	fams := scrape(t, m)
	if v := find(t, fams, "vecro_http_requests_total", map[string]string{"code": "200", "method": "GET"}).GetCounter().GetValue(); v != 10 {
		t.Errorf("GET 200 requests = %v, want 10", v)
	}
	if v := find(t, fams, "vecro_http_requests_total", map[string]string{"code": "503", "method": "POST"}).GetCounter().GetValue(); v != 3 {
		t.Errorf("POST 503 requests = %v, want 3", v)
	}
	find(t, fams, "vecro_http_requests_total", map[string]string{"code": "200", "method": "OTHER"})
	h := find(t, fams, "vecro_http_request_duration_seconds", nil).GetHistogram()
	if h.GetSampleCount() != 14 {
		t.Errorf("duration count = %d, want 14", h.GetSampleCount())
	}
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if !slices.Equal(bounds, append(slices.Clone(svcmetrics.Buckets), math.Inf(1))) {
		t.Errorf("buckets = %v, want the original's %v", bounds, svcmetrics.Buckets)
	}
	// 11 × 100 bytes, and http.Error's "nope\n" three times.
	if v := find(t, fams, "vecro_http_response_bytes_total", nil).GetCounter().GetValue(); v != 11*100+3*5 {
		t.Errorf("response bytes = %v, want %d", v, 11*100+3*5)
	}
	if v := find(t, fams, "vecro_http_in_flight", nil).GetGauge().GetValue(); v != 0 {
		t.Errorf("in flight = %v after all requests ended", v)
	}
	if c := find(t, fams, "vecro_downstream_request_duration_seconds", map[string]string{"callee": "user-info", "code": "error"}).GetHistogram().GetSampleCount(); c != 1 {
		t.Errorf("downstream errors = %d, want 1", c)
	}
	find(t, fams, "vecro_downstream_request_duration_seconds", map[string]string{"callee": "user-info", "code": "200"})

	// Legacy names, with the original's label.
	legacy := map[string]string{"vecrosim_service_name": "text"}
	if v := find(t, fams, "vecro_base_social_net_request_count", legacy).GetCounter().GetValue(); v != 14 {
		t.Errorf("legacy request_count = %v, want 14", v)
	}
	if v := find(t, fams, "vecro_base_social_net_throughput", legacy).GetCounter().GetValue(); v != 1115 {
		t.Errorf("legacy throughput = %v, want 1115", v)
	}
	sum := find(t, fams, "vecro_base_social_net_latency_counter", legacy).GetCounter().GetValue()
	if sum <= 0 || sum != find(t, fams, "vecro_base_social_net_latency_histogram", legacy).GetHistogram().GetSampleSum() {
		t.Errorf("legacy latency_counter = %v, want the histogram's sum", sum)
	}

	// Constant labels on every series, the Go and process collectors too.
	want := map[string]string{"vecro_system": "social-net", "vecro_service": "text", "vecro_instance": "text-0"}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for name, f := range fams {
		for _, s := range f.GetMetric() {
			ls := labels(s)
			for k, v := range want {
				if ls[k] != v {
					t.Errorf("%s%v: %s = %q, want %q", name, ls, k, ls[k], v)
				}
			}
		}
	}

	// Bytes: what the server counted at its listener is exactly what the
	// client counted at its dialer, the other way round. The server may
	// still be reading the client's close: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, c := scrape(t, m), scrape(t, client)
		srx := find(t, s, "vecro_net_receive_bytes_total", nil).GetCounter().GetValue()
		stx := find(t, s, "vecro_net_transmit_bytes_total", nil).GetCounter().GetValue()
		crx := find(t, c, "vecro_net_receive_bytes_total", nil).GetCounter().GetValue()
		ctx := find(t, c, "vecro_net_transmit_bytes_total", nil).GetCounter().GetValue()
		if srx == ctx && stx == crx && srx > 0 && stx > 1100 {
			t.Logf("server rx %v tx %v = client tx %v rx %v", srx, stx, ctx, crx)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server rx %v tx %v, client tx %v rx %v: want server rx = client tx and server tx = client rx", srx, stx, ctx, crx)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNoLegacyByDefault(t *testing.T) {
	fams := scrape(t, newMetrics(t, false))
	for name := range fams {
		if strings.HasPrefix(name, "vecro_base_") {
			t.Errorf("legacy series %s without Legacy", name)
		}
	}
	if _, ok := fams["vecro_http_in_flight"]; !ok {
		t.Error("no vecro_http_in_flight")
	}
}

func TestNewNeedsNames(t *testing.T) {
	_, err := svcmetrics.New(svcmetrics.Options{System: "s", Service: "", Instance: "i"})
	if err == nil || !strings.Contains(err.Error(), "service name is empty") {
		t.Errorf("err = %v, want one naming the empty service name", err)
	}
}

func TestLegacyPrefix(t *testing.T) {
	for in, want := range map[string]string{"social": "vecro_base_social_", "my-sys.v2": "vecro_base_my_sys_v2_"} {
		if got := svcmetrics.LegacyPrefix(in); got != want {
			t.Errorf("LegacyPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDialErrorPassesThrough(t *testing.T) {
	m := newMetrics(t, false)
	dial := m.WrapDialer(func(context.Context, string, string) (net.Conn, error) { return nil, io.ErrUnexpectedEOF })
	if _, err := dial(context.Background(), "tcp", "x:1"); err != io.ErrUnexpectedEOF {
		t.Errorf("err = %v", err)
	}
}

// scrapeProto reads m's /metrics in the protobuf exposition, the format
// that carries native histograms, asked for as Prometheus asks.
func scrapeProto(t *testing.T, m *svcmetrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,text/plain;version=0.0.4;q=0.3")
	m.Handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Fatalf("/metrics answered %q to a protobuf Accept header", ct)
	}
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(rec.Body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			return fams
		} else if err != nil {
			t.Fatalf("decode protobuf /metrics: %v", err)
		}
		fams[mf.GetName()] = mf
	}
}

// TestDurationHistogramsAreNative checks that both duration histograms
// carry native buckets at schema 3 beside the original's classic buckets,
// and that the legacy histogram stays classic.
func TestDurationHistogramsAreNative(t *testing.T) {
	m := newMetrics(t, true)
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	m.ObserveDownstream("db", 200, 30*time.Millisecond)
	fams := scrapeProto(t, m)
	for _, name := range []string{"vecro_http_request_duration_seconds", "vecro_downstream_request_duration_seconds"} {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) != 1 {
			t.Fatalf("%s: %v", name, f)
		}
		hist := f.GetMetric()[0].GetHistogram()
		if hist.GetSchema() != 3 || len(hist.GetPositiveSpan()) == 0 {
			t.Errorf("%s: schema %d, %d positive spans; want native buckets at schema 3", name, hist.GetSchema(), len(hist.GetPositiveSpan()))
		}
		if len(hist.GetBucket()) != len(svcmetrics.Buckets) {
			t.Errorf("%s: %d classic buckets, want the original's %d", name, len(hist.GetBucket()), len(svcmetrics.Buckets))
		}
	}
	legacy := fams[svcmetrics.LegacyPrefix("social-net")+"latency_histogram"].GetMetric()[0].GetHistogram()
	if len(legacy.GetPositiveSpan()) != 0 || len(legacy.GetBucket()) != len(svcmetrics.Buckets) {
		t.Errorf("legacy histogram: %d native spans, %d classic buckets; want classic only", len(legacy.GetPositiveSpan()), len(legacy.GetBucket()))
	}
}
