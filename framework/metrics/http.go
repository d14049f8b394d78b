package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// HTTPOption configures an HTTP source.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	rt         http.RoundTripper
	logger     *slog.Logger
	onWarnings WarningFunc
	timeout    time.Duration
}

// WithRoundTripper sends the requests through rt (a port-forward, auth);
// default: a transport of the source's own, configured like
// http.DefaultTransport.
func WithRoundTripper(rt http.RoundTripper) HTTPOption {
	return func(o *httpOptions) { o.rt = rt }
}

// WithLogger logs the queries' warnings (unless WithWarnings is given).
func WithLogger(l *slog.Logger) HTTPOption {
	return func(o *httpOptions) { o.logger = l }
}

// WithWarnings hands every query's warnings and infos to f.
func WithWarnings(f WarningFunc) HTTPOption {
	return func(o *httpOptions) { o.onWarnings = f }
}

// WithQueryTimeout asks the server to bound each query's evaluation
// (Prometheus' timeout parameter); the context bounds the whole request.
func WithQueryTimeout(d time.Duration) HTTPOption {
	return func(o *httpOptions) { o.timeout = d }
}

// HTTP is a Source reading a Prometheus HTTP API: a Prometheus server (on
// Kubernetes, through a port-forward) or an Embedded source's Handler in
// another process.
type HTTP struct {
	url    string
	api    v1.API
	client api.Client
	opts   httpOptions
	closed atomic.Bool
}

var _ Source = (*HTTP)(nil)

// NewHTTP returns a Source over the Prometheus API at rawURL (the server's
// base URL, e.g. http://127.0.0.1:9090). It does not contact the server.
func NewHTTP(rawURL string, opts ...HTTPOption) (Source, error) {
	return newHTTP(rawURL, opts...)
}

func newHTTP(rawURL string, opts ...HTTPOption) (*HTTP, error) {
	o := httpOptions{logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	if o.rt == nil {
		// Not the shared default: Close drops this source's connections
		// only.
		o.rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("prometheus API URL %q: %w", rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus API URL %q is not an absolute http(s) URL", rawURL)
	}
	c, err := api.NewClient(api.Config{Address: rawURL, RoundTripper: o.rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus API client for %s: %w", rawURL, err)
	}
	return &HTTP{url: rawURL, api: v1.NewAPI(c), client: c, opts: o}, nil
}

// URL is the server's base URL.
func (h *HTTP) URL() string { return h.url }

func (h *HTTP) apiOpts() []v1.Option {
	if h.opts.timeout > 0 {
		return []v1.Option{v1.WithTimeout(h.opts.timeout)}
	}
	return nil
}

// Query evaluates an instant query at t.
func (h *HTTP) Query(ctx context.Context, query string, t time.Time) ([]Series, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("prometheus %s: query %q: %w", h.url, query, errClosed)
	}
	// Truncated as the embedded engine does; the server would round.
	t = t.Truncate(time.Millisecond)
	v, warns, infos, err := h.api.Query(ctx, query, t, h.apiOpts()...)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: query %q at %s: %w", h.url, query, t.Format(time.RFC3339Nano), describeAPIError(err))
	}
	h.warn(query, warns, infos)
	s, err := seriesOfModel(v)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: query %q: %w", h.url, query, err)
	}
	return s, nil
}

// QueryRange evaluates query at every step of r.
func (h *HTTP) QueryRange(ctx context.Context, query string, r Range) ([]Series, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("prometheus %s: range query %q: %w", h.url, query, errClosed)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("prometheus %s: range query %q: %w", h.url, query, err)
	}
	r = r.Truncate()
	v, warns, infos, err := h.api.QueryRange(ctx, query, v1.Range{Start: r.Start, End: r.End, Step: r.Step}, h.apiOpts()...)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: range query %q over %s..%s step %v: %w", h.url, query, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), r.Step, describeAPIError(err))
	}
	h.warn(query, warns, infos)
	s, err := seriesOfModel(v)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: range query %q: %w", h.url, query, err)
	}
	return s, nil
}

// describeAPIError adds the server's detail (often the response body) to
// the client's error, which prints only type and message.
func describeAPIError(err error) error {
	var ae *v1.Error
	if errors.As(err, &ae) && ae.Detail != "" && ae.Detail != ae.Msg {
		return fmt.Errorf("%w (%s)", err, ae.Detail)
	}
	return err
}

func (h *HTTP) warn(query string, warns v1.Warnings, infos v1.Infos) {
	all := append(append([]string{}, warns...), infos...)
	if len(all) == 0 {
		return
	}
	if h.opts.onWarnings != nil {
		h.opts.onWarnings(query, all)
		return
	}
	h.opts.logger.Warn("query warnings", "server", h.url, "query", query, "warnings", warns, "infos", infos)
}

// Close makes later queries fail and drops idle connections. It is safe to
// call twice.
func (h *HTTP) Close() error {
	h.closed.Store(true)
	if t, ok := h.opts.rt.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// seriesOfModel copies a client_golang result into Series.
func seriesOfModel(v model.Value) ([]Series, error) {
	switch v := v.(type) {
	case model.Matrix:
		out := make([]Series, len(v))
		for i, s := range v {
			if len(s.Histograms) > 0 {
				return nil, fmt.Errorf("series %s holds native histograms, which Series cannot represent", s.Metric)
			}
			pts := make([]Point, len(s.Values))
			for j, p := range s.Values {
				pts[j] = Point{T: msTime(int64(p.Timestamp)), V: float64(p.Value)}
			}
			out[i] = Series{Labels: metricMap(s.Metric), Points: pts}
		}
		return out, nil
	case model.Vector:
		out := make([]Series, len(v))
		for i, s := range v {
			if s.Histogram != nil {
				return nil, fmt.Errorf("sample %s is a native histogram, which Series cannot represent", s.Metric)
			}
			out[i] = Series{Labels: metricMap(s.Metric), Points: []Point{{T: msTime(int64(s.Timestamp)), V: float64(s.Value)}}}
		}
		return out, nil
	case *model.Scalar:
		return []Series{{Labels: map[string]string{}, Points: []Point{{T: msTime(int64(v.Timestamp)), V: float64(v.Value)}}}}, nil
	case nil:
		return nil, errors.New("empty result")
	default:
		return nil, fmt.Errorf("result of type %s cannot be represented as series", v.Type())
	}
}

func metricMap(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}
