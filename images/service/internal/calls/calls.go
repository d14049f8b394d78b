package calls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// DefaultTimeout is the ceiling of one call, the original's per-call
// timeout. The incoming request's context usually ends it sooner.
const DefaultTimeout = 120 * time.Second

// DefaultMaxIdleConnsPerHost is the keep-alive pool per callee. It must
// cover the concurrency a callee sees from this instance: a smaller pool
// closes a connection after every burst and dials a new one next time.
const DefaultMaxIdleConnsPerHost = 512

// Callee is one downstream service.
type Callee struct {
	// Name is the callee's service name, as errors and metrics show it.
	Name string
	// URL is requested with GET.
	URL string
}

// Options configure a Caller.
type Options struct {
	Callees []Callee
	// Mode is sequential (default) or parallel.
	Mode service.CallMode
	// Timeout bounds each call; 0 means DefaultTimeout.
	Timeout time.Duration
	// Dial opens connections; nil means a net.Dialer. The service wraps it
	// to count bytes.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdleConnsPerHost sizes the keep-alive pool; 0 means
	// DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int
	// Observe, if set, sees every call: the callee, the status code (0 when
	// no response came) and the call's duration.
	Observe func(callee string, status int, d time.Duration)
	// UserAgent is sent with every call; empty means Go's default.
	UserAgent string
	// Tracer, if set, makes a client span per call, whose context the call
	// carries to the callee (traceparent).
	Tracer trace.Tracer
}

// Caller makes the downstream calls of one service. It is safe for
// concurrent use; Close it to drop its idle connections.
type Caller struct {
	callees   []Callee
	parallel  bool
	timeout   time.Duration
	observe   func(string, int, time.Duration)
	userAgent string
	tracer    trace.Tracer
	transport *http.Transport
	client    *http.Client
}

// New checks the callees and builds the shared keep-alive client.
func New(o Options) (*Caller, error) {
	c := &Caller{
		callees:   append([]Callee(nil), o.Callees...),
		timeout:   o.Timeout,
		observe:   o.Observe,
		userAgent: o.UserAgent,
		tracer:    o.Tracer,
	}
	switch o.Mode {
	case "", service.CallSequential:
	case service.CallParallel:
		c.parallel = true
	default:
		return nil, fmt.Errorf("calls: mode %q: want sequential or parallel", o.Mode)
	}
	seen := map[string]bool{}
	for _, ce := range o.Callees {
		if ce.Name == "" {
			return nil, fmt.Errorf("calls: callee with URL %q has no name", ce.URL)
		}
		if seen[ce.Name] {
			return nil, fmt.Errorf("calls: callee %s named twice", ce.Name)
		}
		seen[ce.Name] = true
		req, err := http.NewRequest(http.MethodGet, ce.URL, nil)
		if err != nil {
			return nil, fmt.Errorf("calls: callee %s: %w", ce.Name, err)
		}
		if req.URL.Host == "" {
			return nil, fmt.Errorf("calls: callee %s: URL %q has no host", ce.Name, ce.URL)
		}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	dial := o.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	idle := o.MaxIdleConnsPerHost
	if idle <= 0 {
		idle = DefaultMaxIdleConnsPerHost
	}
	c.transport = &http.Transport{
		// Callees are addressed directly (loopback or cluster DNS); an
		// HTTP_PROXY in a pod's environment must not reroute them.
		Proxy:               nil,
		DialContext:         dial,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// Payloads are the workload's bytes: compressing them would spend
		// CPU the workload did not ask for and change the bytes on the wire.
		DisableCompression: true,
	}
	// No client timeout: each call carries its own context.
	c.client = &http.Client{Transport: c.transport}
	return c, nil
}

// Callees returns the callees in call order.
func (c *Caller) Callees() []Callee { return append([]Callee(nil), c.callees...) }

// Error is a failed downstream call.
type Error struct {
	Callee string
	URL    string
	// Status is the callee's status code; 0 when no response came.
	Status int
	// Detail is the start of the callee's response body (non-2xx), which
	// names the failure further down the graph.
	Detail string
	// Err is the transport error when no response came.
	Err error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		s := fmt.Sprintf("call %s (%s): status %d %s", e.Callee, e.URL, e.Status, http.StatusText(e.Status))
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		return s
	}
	return fmt.Sprintf("call %s (%s): %v", e.Callee, e.URL, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// detailLimit bounds how much of a failing callee's body an error quotes.
const detailLimit = 512

// Call makes every downstream call and returns the first failure, as an
// *Error. Sequential calls stop at the first failure, as the original's
// did. Parallel calls all run to their end and the first failure in list
// order is returned: a failing branch does not cancel its siblings, so a
// fault in one subtree leaves the load on the others unchanged (and their
// keep-alive connections intact).
func (c *Caller) Call(ctx context.Context) error {
	if len(c.callees) == 0 {
		return nil
	}
	if !c.parallel || len(c.callees) == 1 {
		for _, ce := range c.callees {
			if err := c.call(ctx, ce); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(c.callees))
	var wg sync.WaitGroup
	for i, ce := range c.callees {
		wg.Go(func() { errs[i] = c.call(ctx, ce) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// call makes one call: GET, body drained and closed so that the connection
// goes back to the pool.
func (c *Caller) call(ctx context.Context, ce Callee) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	status := 0
	var span trace.Span
	if c.tracer != nil {
		ctx, span = c.tracer.Start(ctx, "GET "+ce.Name, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start))
	}
	defer func() {
		end := time.Now()
		if c.observe != nil {
			c.observe(ce.Name, status, end.Sub(start))
		}
		if span != nil {
			endSpan(span, ce, status, err, end)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ce.URL, nil)
	if err != nil {
		return &Error{Callee: ce.Name, URL: ce.URL, Err: err}
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if span != nil {
		traces.Propagator.Inject(ctx, traces.HeaderCarrier(req.Header))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return &Error{Callee: ce.Name, URL: ce.URL, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		status = resp.StatusCode
		var b strings.Builder
		_, _ = io.Copy(&b, io.LimitReader(resp.Body, detailLimit))
		// Drain the rest so the connection can be reused.
		_, _ = io.Copy(io.Discard, resp.Body)
		return &Error{Callee: ce.Name, URL: ce.URL, Status: resp.StatusCode, Detail: oneLine(b.String())}
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return &Error{Callee: ce.Name, URL: ce.URL, Err: fmt.Errorf("read response body: %w", err)}
	}
	status = resp.StatusCode
	return nil
}

// endSpan completes a call's client span: the callee, the status it
// answered (0: none came) and, for a failed call, the cause.
func endSpan(span trace.Span, ce Callee, status int, err error, end time.Time) {
	if span.IsRecording() {
		span.SetAttributes(traces.AttrPeerService.String(ce.Name), traces.AttrHTTPMethod.String(http.MethodGet))
		if status != 0 {
			span.SetAttributes(traces.AttrHTTPStatus.Int(status))
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End(trace.WithTimestamp(end))
}

// unwrapURLError drops the *url.Error wrapper: Error already names the
// URL, and the message would repeat it.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(s), " ")
}

// CloseIdleConnections drops the pooled connections; in-flight calls are
// not affected.
func (c *Caller) CloseIdleConnections() { c.transport.CloseIdleConnections() }
