package load

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Spec is what to load and how. The zero values of optional fields are the
// seed's defaults, with its bugs fixed (keep-alive on, errors counted).
type Spec struct {
	// Targets get requests in turn (closed loop: each user starts at a
	// different target and walks the list, one target per tick, or every
	// target per tick with EveryTarget; open loop: hit n goes to target
	// n mod len). At least one.
	Targets []Target
	// Method is the HTTP method; default POST, as the seed.
	Method string
	// Body is a static request body sent with every request (the seed's
	// -body).
	Body string
	// Header is sent with every request (Host may be overridden;
	// Content-Length, Connection and Transfer-Encoding are the generator's).
	Header http.Header
	// TLS configures https targets; nil verifies them against the system's
	// roots. The generator speaks HTTP/1.1 only.
	TLS *tls.Config
	// DisableKeepAlive opens a connection per request, as the seed did by
	// accident. Off by default.
	DisableKeepAlive bool
	// Timeout bounds each request (connect, headers, body); default 30 s. A
	// request that runs out counts as a timeout error.
	Timeout time.Duration
	// Duration is how long requests are sent; zero means until Stop or the
	// context ends.
	Duration time.Duration
	// Drain is how long requests in flight at the end may still finish
	// before they are canceled (counted as canceled); default the smaller
	// of Timeout and 5 s.
	Drain time.Duration

	// Closed loop (Rate == nil): Users independent users, each sending one
	// request per Delay tick with at most one in flight. A tick that comes
	// due while the user waits for an answer is served late, as soon as the
	// answer is in; further ticks that pass meanwhile are skipped, not queued
	// (the seed's time.Ticker semantics), and both are counted. Users start
	// spread evenly over the first Delay. Delay zero sends back to back (full
	// speed). Users defaults to 1.
	Users int
	Delay time.Duration
	// EveryTarget makes each closed-loop tick send one request to every
	// target in turn, the next once the previous is answered, as the seed's
	// tool did with several URLs; otherwise a tick sends to the next target
	// only. Only the first request of a tick is timed from the tick.
	EveryTarget bool

	// Open loop (Rate != nil): requests are sent at the planned rate
	// whatever the answers do, on up to Connections connections (default
	// 256). Latency is measured from each request's planned send time, so a
	// server stall that holds the generator back still shows in full.
	Rate Schedule
	// Arrivals spreads hits: Uniform (default) or Poisson.
	Arrivals Arrivals
	// Seed drives the Poisson arrivals; the report records it.
	Seed        int64
	Connections int
	// LateAfter is how far behind its plan a send may start before it is
	// counted late; default 10 ms.
	LateAfter time.Duration

	// Logger receives debug records of the run; default none.
	Logger *slog.Logger

	// Tracer, if set, makes every request the root of a trace: a client
	// span from send to answer whose context goes out as traceparent, so
	// that the services' spans hang below it. Which traces are kept is the
	// tracer provider's sampler (traces.ExportOptions.SampleRatio). Nil
	// sends no traceparent.
	Tracer trace.Tracer
}

// Target is one URL to load. Service names it when it was resolved from a
// deployment.
type Target struct {
	Service string `json:"service,omitempty"`
	URL     string `json:"url"`
}

func (t Target) String() string {
	if t.Service != "" {
		return t.Service + "=" + t.URL
	}
	return t.URL
}

// URLs makes targets of plain URLs.
func URLs(urls ...string) []Target {
	out := make([]Target, len(urls))
	for i, u := range urls {
		out[i] = Target{URL: u}
	}
	return out
}

// SplitURLs reads the seed's -url value: URLs separated by white space.
func SplitURLs(s string) []Target { return URLs(strings.Fields(s)...) }

// Resolve turns service names into targets, given each service's URL as
// its callers reach it (for an experiment: Service.URL of every service in
// its runtime.Deployment). The caller picks the names; when a user names
// none, the experiment passes the system's entry services
// (spec.System.EntryServices: those no other service calls), so every front
// end gets traffic.
func Resolve(urls map[string]string, names []string) ([]Target, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("resolve load targets: no service names")
	}
	out := make([]Target, 0, len(names))
	for _, n := range names {
		u, ok := urls[n]
		if !ok {
			return nil, fmt.Errorf("resolve load target %q: no such service (have %s)", n, strings.Join(slices.Sorted(maps.Keys(urls)), ", "))
		}
		if u == "" {
			return nil, fmt.Errorf("resolve load target %q: the service has no URL", n)
		}
		out = append(out, Target{Service: n, URL: u})
	}
	return out, nil
}

// Defaults of Spec.
const (
	DefaultMethod      = http.MethodPost
	DefaultTimeout     = 30 * time.Second
	DefaultConnections = 256
	DefaultLateAfter   = 10 * time.Millisecond
	maxDrain           = 5 * time.Second
)

// target is a Target with its request serialised once, and its root
// spans' name and attributes.
type target struct {
	Target
	w         *wire
	spanName  string
	spanAttrs []attribute.KeyValue
}

// normalize validates s and fills in its defaults.
func (s Spec) normalize() (Spec, []target, error) {
	if len(s.Targets) == 0 {
		return s, nil, fmt.Errorf("load spec: no targets")
	}
	ts := make([]target, len(s.Targets))
	var urls []*url.URL
	for i, t := range s.Targets {
		u, err := url.Parse(t.URL)
		if err != nil {
			return s, nil, fmt.Errorf("load spec: target %d (%s): want an http:// or https:// URL with a host: %w", i+1, t, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return s, nil, fmt.Errorf("load spec: target %d (%s): want an http:// or https:// URL with a host", i+1, t)
		}
		ts[i] = target{Target: t}
		urls = append(urls, u)
	}
	if s.Method == "" {
		s.Method = DefaultMethod
	}
	if _, err := http.NewRequest(s.Method, ts[0].URL, nil); err != nil {
		return s, nil, fmt.Errorf("load spec: method %q: %w", s.Method, err)
	}
	for i, u := range urls {
		w, err := newWire(&s, u)
		if err != nil {
			return s, nil, fmt.Errorf("load spec: %w", err)
		}
		ts[i].w = w
		ts[i].spanName = s.Method + " " + cmp.Or(u.Path, "/")
		ts[i].spanAttrs = []attribute.KeyValue{traces.AttrHTTPMethod.String(s.Method)}
		if svc := ts[i].Service; svc != "" {
			ts[i].spanName = s.Method + " " + svc
			ts[i].spanAttrs = append(ts[i].spanAttrs, traces.AttrPeerService.String(svc))
		}
	}
	for name, v := range map[string]time.Duration{"timeout": s.Timeout, "duration": s.Duration, "drain": s.Drain, "delay": s.Delay, "late-after": s.LateAfter} {
		if v < 0 {
			return s, nil, fmt.Errorf("load spec: %s %v is negative", name, v)
		}
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Drain == 0 {
		s.Drain = min(s.Timeout, maxDrain)
	}
	if s.LateAfter == 0 {
		s.LateAfter = DefaultLateAfter
	}
	if s.Connections < 0 {
		return s, nil, fmt.Errorf("load spec: connections %d is negative", s.Connections)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Rate == nil {
		if s.Users < 0 {
			return s, nil, fmt.Errorf("load spec: users %d is negative", s.Users)
		}
		if s.Users == 0 {
			s.Users = 1
		}
		if s.Arrivals != "" || s.Connections != 0 {
			return s, nil, fmt.Errorf("load spec: arrivals and connections are open-loop settings; set a rate")
		}
		return s, ts, nil
	}
	if s.Users != 0 || s.Delay != 0 {
		return s, nil, fmt.Errorf("load spec: users and delay are closed-loop settings; an open loop (rate %s) uses connections", s.Rate)
	}
	if l, ok := s.Rate.(Linear); ok && l.Over == 0 {
		if s.Duration == 0 {
			return s, nil, fmt.Errorf("load spec: ramp %s has no length: give it one (%s/1m) or give the run a duration", l, l)
		}
		l.Over = s.Duration
		s.Rate = l
	}
	if err := validSchedule(s.Rate); err != nil {
		return s, nil, fmt.Errorf("load spec: rate: %w", err)
	}
	if s.Arrivals == "" {
		s.Arrivals = Uniform
	}
	if s.Connections == 0 {
		s.Connections = DefaultConnections
	}
	return s, ts, nil
}
