package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The generator speaks HTTP/1.1 itself, as wrk does: each user (or
// open-loop worker) owns its keep-alive connection and does write request,
// read response, in its own goroutine. net/http's client hands every
// request through a connection pool and two goroutines per connection,
// which costs twice the CPU per request (measured: ~19 µs against ~10 µs on
// loopback) — the difference between keeping up with a server and not.
// Responses are parsed by net/http's own ReadResponse, so chunked, close-
// delimited and HEAD bodies and 1xx answers are handled as net/http does.

// wire is a target's request, serialised once.
type wire struct {
	dial string      // host:port
	tls  *tls.Config // nil for http
	raw  []byte      // request head and body
	// headEnd is where the head's closing empty line starts in raw:
	// per-request header lines (traceparent) go there.
	headEnd int
	req     *http.Request // for ReadResponse: the method decides if a body follows
}

const userAgent = "vecro-load/1"

// newWire serialises s's request to u.
func newWire(s *Spec, u *url.URL) (*wire, error) {
	w := &wire{dial: u.Host}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		w.dial = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		conf := &tls.Config{}
		if s.TLS != nil {
			conf = s.TLS.Clone()
		}
		if conf.ServerName == "" {
			conf.ServerName = u.Hostname()
		}
		// HTTP/1.1 only: the generator does not speak HTTP/2.
		conf.NextProtos = []string{"http/1.1"}
		w.tls = conf
	}
	// Header keys as given ("user-agent") count as their canonical form.
	hdr := http.Header{}
	for k, v := range s.Header {
		ck := http.CanonicalHeaderKey(k)
		hdr[ck] = append(hdr[ck], v...)
	}
	host := u.Host
	if h := hdr.Get("Host"); h != "" {
		host = h
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", s.Method, u.RequestURI(), host)
	if hdr.Get("User-Agent") == "" {
		b.WriteString("User-Agent: " + userAgent + "\r\n")
	}
	if s.Body != "" || s.Method == http.MethodPost || s.Method == http.MethodPut || s.Method == http.MethodPatch {
		b.WriteString("Content-Length: " + strconv.Itoa(len(s.Body)) + "\r\n")
	}
	if s.DisableKeepAlive {
		b.WriteString("Connection: close\r\n")
	}
	for _, k := range slices.Sorted(maps.Keys(hdr)) {
		switch k {
		case "Host":
			continue
		case "Content-Length", "Connection", "Transfer-Encoding":
			return nil, fmt.Errorf("header %s: set by the generator", k)
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("header name %q: not a valid HTTP field name", k)
		}
		for _, v := range hdr[k] {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("header %s: value %q: not a valid HTTP field value", k, v)
			}
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	w.headEnd = b.Len()
	b.WriteString("\r\n")
	b.WriteString(s.Body)
	w.raw = []byte(b.String())
	w.req = &http.Request{Method: s.Method, URL: u}
	return w, nil
}

// client is the connections of one user or worker, one per target host.
// Only its owner sends on it; the mutex is for cancel, which arrives from
// the run's context on another goroutine.
type client struct {
	timeout   time.Duration
	keepAlive bool
	dialer    net.Dialer
	ctx       context.Context

	mu       sync.Mutex
	conns    map[string]*conn
	canceled bool
	stop     func() bool

	// hdr and out are the owner's scratch space for a request with extra
	// header lines, reused so that tracing allocates no buffers.
	hdr, out []byte
}

// Set adds a header line to hdr: the client is the propagator's carrier.
func (c *client) Set(key, value string) {
	c.hdr = append(append(append(append(c.hdr, key...), ": "...), value...), "\r\n"...)
}

// Get and Keys complete propagation.TextMapCarrier; an injection only sets.
func (c *client) Get(string) string { return "" }
func (c *client) Keys() []string    { return nil }

type conn struct {
	net.Conn
	br     *bufio.Reader
	reused bool
}

func newClient(ctx context.Context, s *Spec) *client {
	c := &client{
		timeout:   s.Timeout,
		keepAlive: !s.DisableKeepAlive,
		dialer:    net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second},
		ctx:       ctx,
		conns:     map[string]*conn{},
	}
	// A stopped run must not wait for its requests' deadlines: move them
	// to now, which fails the blocked reads and writes at once.
	c.stop = context.AfterFunc(ctx, c.cancel)
	return c
}

func (c *client) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = true
	for _, cn := range c.conns {
		_ = cn.SetDeadline(time.Unix(1, 0)) // a closing conn can refuse; it fails its I/O either way
	}
}

// close closes every connection.
func (c *client) close() {
	c.stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cn := range c.conns {
		_ = cn.Close() // nothing to flush: every request was read to its end
		delete(c.conns, k)
	}
}

func (c *client) get(w *wire) (*conn, error) {
	c.mu.Lock()
	cn := c.conns[w.dial]
	canceled := c.canceled
	c.mu.Unlock()
	if canceled {
		return nil, context.Canceled
	}
	if cn != nil {
		return cn, nil
	}
	raw, err := c.dialer.DialContext(c.ctx, "tcp", w.dial)
	if err != nil {
		return nil, err
	}
	nc := raw
	if w.tls != nil {
		tc := tls.Client(raw, w.tls)
		hctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", w.dial, err)
		}
		nc = tc
	}
	cn = &conn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	c.mu.Lock()
	if c.canceled {
		c.mu.Unlock()
		_ = nc.Close()
		return nil, context.Canceled
	}
	c.conns[w.dial] = cn
	c.mu.Unlock()
	return cn, nil
}

func (c *client) drop(w *wire, cn *conn) {
	c.mu.Lock()
	if c.conns[w.dial] == cn {
		delete(c.conns, w.dial)
	}
	c.mu.Unlock()
	_ = cn.Close() // the connection failed or the server asked to close it
}

// do sends w's request, with the header lines in hdr (complete lines, or
// none), and reads the whole answer: its status and body size. A connection
// reused from an earlier request that the server closed meanwhile (it fails
// before a byte of the answer arrives) is redialled once, as browsers do.
func (c *client) do(w *wire, hdr []byte) (status int, n int64, err error) {
	raw := w.raw
	if len(hdr) > 0 {
		c.out = append(append(append(c.out[:0], w.raw[:w.headEnd]...), hdr...), w.raw[w.headEnd:]...)
		raw = c.out
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.get(w)
		if err != nil {
			return 0, 0, err
		}
		if err := cn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
			c.drop(w, cn)
			return 0, 0, err
		}
		_, err = cn.Write(raw)
		if err == nil {
			_, err = cn.br.Peek(1)
		}
		if err != nil {
			c.drop(w, cn)
			if cn.reused && attempt == 0 && stale(err) {
				continue
			}
			return 0, 0, err
		}
		resp, err := readResponse(cn.br, w.req)
		if err != nil {
			c.drop(w, cn)
			return 0, 0, err
		}
		n, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close() // read to its end or failed: nothing left to release
		if err != nil {
			c.drop(w, cn)
			return 0, n, err
		}
		if resp.Close || !c.keepAlive {
			c.drop(w, cn)
		} else {
			cn.reused = true
		}
		return resp.StatusCode, n, nil
	}
}

// readResponse reads the final answer, skipping interim 1xx ones.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// stale reports an error of a keep-alive connection the server had closed.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
