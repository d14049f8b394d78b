package svcmetrics

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vecrosim/vecro/images/service/internal/httprec"
)

// Buckets are the request duration buckets of the original VECROsim, in
// seconds.
var Buckets = []float64{.0002, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 25}

// The native histogram settings of the duration histograms. The classic
// buckets above are too coarse for quantiles (histogram_quantile
// interpolates linearly inside a bucket: a p95 between .25 and .5 can read
// up to 2x off), so every duration histogram is also a native histogram,
// served in the protobuf exposition beside the classic buckets, which the
// text format, the social9 export and Prometheus servers without native
// histograms keep reading.
const (
	// NativeBucketFactor bounds the growth from one bucket to the next:
	// 1.1 gives schema 3 (factor 2^(1/8) ≈ 1.09), so a quantile read from
	// the buckets stays in the true quantile's bucket: at most ~9% off,
	// ~1% typically.
	NativeBucketFactor = 1.1
	// NativeMaxBuckets holds schema 3 over 100 µs to 60 s (154 buckets)
	// without losing resolution; beyond it client_golang halves the
	// resolution (or resets, see below) instead of growing without bound.
	NativeMaxBuckets = 160
	// NativeMinResetDuration lets a histogram that ran out of buckets
	// start afresh at full resolution after an hour (a counter reset that
	// rate() handles), rather than stay coarse for the rest of the run.
	NativeMinResetDuration = time.Hour
)

// durationOpts are the options of every duration histogram but the
// original's legacy one.
func durationOpts(name, help string, classicOnly bool) prometheus.HistogramOpts {
	o := prometheus.HistogramOpts{Name: name, Help: help, Buckets: Buckets}
	if !classicOnly {
		o.NativeHistogramBucketFactor = NativeBucketFactor
		o.NativeHistogramMaxBucketNumber = NativeMaxBuckets
		o.NativeHistogramMinResetDuration = NativeMinResetDuration
	}
	return o
}

// Constant label names every series carries.
const (
	LabelSystem   = "vecro_system"
	LabelService  = "vecro_service"
	LabelInstance = "vecro_instance"
)

// Options name the instance whose metrics these are.
type Options struct {
	System, Service, Instance string
	// Legacy adds the original's vecro_base_<System>_* series.
	Legacy bool
	// Logger receives errors of the /metrics handler; nil means none.
	Logger *slog.Logger

	// classicOnly leaves out the native buckets: the baseline of the
	// benchmark that prices them.
	classicOnly bool
}

// Metrics is the registry and the series of one service instance. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	constLabels prometheus.Labels
	log         *slog.Logger

	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	respBytes  prometheus.Counter
	inFlight   prometheus.Gauge
	downstream *prometheus.HistogramVec
	rx, tx     prometheus.Counter
	logDropped prometheus.Counter
	logLines   prometheus.Counter

	legacy *legacy
}

// legacy are the original's series.
type legacy struct {
	count, latencySum, throughput prometheus.Counter
	latency                       prometheus.Histogram
}

// New creates the registry and registers every series on it.
func New(o Options) (*Metrics, error) {
	for _, n := range []struct{ what, v string }{{"system", o.System}, {"service", o.Service}, {"instance", o.Instance}} {
		if n.v == "" {
			return nil, fmt.Errorf("service metrics: %s name is empty", n.what)
		}
	}
	m := &Metrics{
		reg:         prometheus.NewRegistry(),
		constLabels: prometheus.Labels{LabelSystem: o.System, LabelService: o.Service, LabelInstance: o.Instance},
		log:         o.Logger,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vecro_http_requests_total",
		Help: "Requests served on the service port, by status code and method.",
	}, []string{"code", "method"})
	m.duration = prometheus.NewHistogram(durationOpts("vecro_http_request_duration_seconds",
		"Time from a request's arrival at the service's HTTP server to its response (the original's buckets, and native buckets in the protobuf format).", o.classicOnly))
	m.respBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vecro_http_response_bytes_total",
		Help: "Response body bytes written on the service port.",
	})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vecro_http_in_flight",
		Help: "Requests being served on the service port.",
	})
	m.downstream = prometheus.NewHistogramVec(durationOpts("vecro_downstream_request_duration_seconds",
		"Duration of calls to downstream services, by callee and status code (\"error\" when no response came).", o.classicOnly),
		[]string{"callee", "code"})
	m.rx = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vecro_net_receive_bytes_total",
		Help: "Bytes received on the service's own sockets (its HTTP listener and its downstream client).",
	})
	m.tx = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vecro_net_transmit_bytes_total",
		Help: "Bytes sent on the service's own sockets (its HTTP listener and its downstream client).",
	})
	m.logDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vecro_log_lines_dropped_total",
		Help: "Request log lines not written because the log's rate cap was reached.",
	})
	m.logLines = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vecro_log_lines_total",
		Help: "Log lines written (requests, errors and fault actions), so that a reader of the log can tell lines it lost.",
	})
	cs := []prometheus.Collector{
		m.requests, m.duration, m.respBytes, m.inFlight, m.downstream, m.rx, m.tx, m.logDropped, m.logLines,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if o.Legacy {
		l, lcs := newLegacy(o.System, o.Service)
		m.legacy = l
		cs = append(cs, lcs...)
	}
	wrapped := prometheus.WrapRegistererWith(m.constLabels, m.reg)
	for _, c := range cs {
		if err := wrapped.Register(c); err != nil {
			return nil, fmt.Errorf("service metrics: register: %w", err)
		}
	}
	return m, nil
}

// invalidMetricChars are those a metric name may not hold.
var invalidMetricChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// LegacyPrefix is the original's metric name prefix for a system.
func LegacyPrefix(system string) string {
	return "vecro_base_" + invalidMetricChars.ReplaceAllString(system, "_") + "_"
}

func newLegacy(system, service string) (*legacy, []prometheus.Collector) {
	p := LegacyPrefix(system)
	cl := prometheus.Labels{"vecrosim_service_name": service}
	l := &legacy{
		count: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "request_count", Help: "Requests served (the original's name).", ConstLabels: cl,
		}),
		latencySum: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "latency_counter", Help: "Sum of request latencies in seconds (the original's name).", ConstLabels: cl,
		}),
		// Classic buckets only: the original's consumers read them, no
		// family does, and a second native histogram per request would cost
		// every request CPU for nothing.
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: p + "latency_histogram", Help: "Request latency in seconds (the original's name).", ConstLabels: cl, Buckets: Buckets,
		}),
		throughput: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "throughput", Help: "Response bytes (the original's name).", ConstLabels: cl,
		}),
	}
	return l, []prometheus.Collector{l.count, l.latencySum, l.latency, l.throughput}
}

// Registry is the registry the admin port serves. Other parts of the
// process (the fault agent) register on it and add ConstLabels themselves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ConstLabels are the instance's constant labels: vecro_system,
// vecro_service and vecro_instance. The map is a copy.
func (m *Metrics) ConstLabels() prometheus.Labels {
	out := make(prometheus.Labels, len(m.constLabels))
	for k, v := range m.constLabels {
		out[k] = v
	}
	return out
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogErrorLog{m.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Error("serve metrics", "error", fmt.Sprint(v...)) }

// codes holds the label of every valid status code, so that a request does
// not allocate one.
var codes = func() (c [600]string) {
	for i := 100; i < len(c); i++ {
		c[i] = strconv.Itoa(i)
	}
	return c
}()

// CodeLabel is the code label of a status code.
func CodeLabel(status int) string {
	if status >= 100 && status < len(codes) {
		return codes[status]
	}
	return strconv.Itoa(status)
}

// methodLabel bounds the method label to the methods of RFC 9110 and PATCH:
// the service answers any method, and a label per made-up method would grow
// without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// Instrument counts and times every request next serves: the outermost
// layer of the service port, so that requests a fault aborts are counted
// with the status they got.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		rec := httprec.Wrap(w)
		defer func() {
			d := time.Since(start).Seconds()
			m.requests.WithLabelValues(CodeLabel(rec.Status()), methodLabel(r.Method)).Inc()
			m.duration.Observe(d)
			m.respBytes.Add(float64(rec.Bytes()))
			if l := m.legacy; l != nil {
				l.count.Inc()
				l.latencySum.Add(d)
				l.latency.Observe(d)
				l.throughput.Add(float64(rec.Bytes()))
			}
			m.inFlight.Dec()
		}()
		next.ServeHTTP(rec, r)
	})
}

// ObserveDownstream records one downstream call: its callee, the status code
// it answered (0 when no response came) and how long it took.
func (m *Metrics) ObserveDownstream(callee string, status int, d time.Duration) {
	code := "error"
	if status > 0 {
		code = CodeLabel(status)
	}
	m.downstream.WithLabelValues(callee, code).Observe(d.Seconds())
}

// DroppedLogLine counts one request log line the rate cap dropped.
func (m *Metrics) DroppedLogLine() { m.logDropped.Inc() }

// WrittenLogLine counts one log line written.
func (m *Metrics) WrittenLogLine() { m.logLines.Inc() }

// WrapListener counts the bytes of every connection l accepts.
func (m *Metrics) WrapListener(l net.Listener) net.Listener {
	return &countingListener{Listener: l, m: m}
}

// DialFunc is the shape of net.Dialer.DialContext and
// http.Transport.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// WrapDialer counts the bytes of every connection dial makes.
func (m *Metrics) WrapDialer(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, m: m}, nil
	}
}

type countingListener struct {
	net.Listener
	m *Metrics
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, m: l.m}, nil
}

// countingConn adds every byte read to rx and every byte written to tx.
// Counter.Add of a whole number is one atomic add.
type countingConn struct {
	net.Conn
	m *Metrics
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.m.rx.Add(float64(n))
	}
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.m.tx.Add(float64(n))
	}
	return n, err
}
