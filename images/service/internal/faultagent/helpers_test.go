package faultagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/images/service/internal/faultagent"
)

const testToken = "s3cret-token"

// rig is an agent with its admin API and a service behind its ingress
// proxy, all on real TCP at 127.0.0.1.
type rig struct {
	agent    *faultagent.Agent
	reg      *prometheus.Registry
	admin    string // admin base URL
	service  string // service base URL, through the ingress proxy
	upstream string // the service without the proxy
	dataDir  string
	client   *agent.Client
}

type rigOption func(*faultagent.Options)

func withToken(tok string) rigOption { return func(o *faultagent.Options) { o.Token = tok } }

// withLog sends the agent's log to the test's log.
func withLog(t testing.TB) rigOption {
	return func(o *faultagent.Options) {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newRig starts an agent, its admin server and a service whose handler
// serves GET /bytes?n=N (N bytes) and anything else with "ok".
func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := faultagent.Options{
		Token:       testToken,
		Seed:        7,
		DataDir:     t.TempDir(),
		Registerer:  reg,
		ConstLabels: prometheus.Labels{"vecro_service": "svc"},
	}
	for _, f := range opts {
		f(&o)
	}
	a, err := faultagent.New(o)
	if err != nil {
		t.Fatalf("new agent: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close agent: %v", err)
		}
	})

	admin := httptest.NewServer(a.Handler())
	t.Cleanup(admin.Close)

	svc := httptest.NewServer(a.Middleware(http.HandlerFunc(serveTest)))
	t.Cleanup(svc.Close)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := a.ServeIngress(ctx, "127.0.0.1:0", svc.Listener.Addr().String())
	if err != nil {
		t.Fatalf("serve ingress: %v", err)
	}
	r := &rig{
		agent:    a,
		reg:      reg,
		admin:    admin.URL,
		service:  "http://" + addr.String(),
		upstream: svc.URL,
		dataDir:  o.DataDir,
	}
	r.client = agent.NewClient(agent.Endpoint{Instance: "svc-0", Service: "svc", URL: admin.URL, Token: o.Token})
	return r
}

func serveTest(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if r.URL.Path == "/bytes" {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = w.Write(bytes.Repeat([]byte("x"), n))
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// fault builds a fault whose params are p marshalled by its own type, so
// the test does not depend on how units are spelled in JSON.
func fault(t testing.TB, id, behavior string, p any, start, end time.Time) agent.Fault {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("marshal params: %v", err)
	}
	return agent.Fault{ID: id, Fault: strings.Split(id, ".")[0], Behavior: behavior, Params: raw, Start: start, End: end, Seed: 42}
}

// call makes one raw admin call and returns the status code and body.
func (r *rig) call(t testing.TB, method, path, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.admin+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *rig) put(t testing.TB, f agent.Fault) agent.Status {
	t.Helper()
	st, err := r.client.Put(context.Background(), f)
	if err != nil {
		t.Fatalf("put %s: %v", f.ID, err)
	}
	return st
}

// waitPhase polls until the fault reaches phase; it fails after timeout.
func (r *rig) waitPhase(t testing.TB, id string, phase agent.Phase, timeout time.Duration) agent.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := r.client.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if st.Phase == phase {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("fault %s still %s after %s, want %s", id, st.Phase, timeout, phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sample is one request through the proxy.
type sample struct {
	sent, done time.Time
	code       int
	err        error
}

func (s sample) latency() time.Duration { return s.done.Sub(s.sent) }

// hammer sends requests to url from n sequential keep-alive clients until
// stop, and returns every sample.
func hammer(url string, n int, gap time.Duration, stop time.Time) []sample {
	out := make(chan []sample, n)
	for range n {
		go func() {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			var ss []sample
			for time.Now().Before(stop) {
				s := sample{sent: time.Now()}
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.code = resp.StatusCode
				}
				s.done, s.err = time.Now(), err
				ss = append(ss, s)
				time.Sleep(gap)
			}
			out <- ss
		}()
	}
	var all []sample
	for range n {
		all = append(all, <-out...)
	}
	return all
}

// burst sends one request from each of n fresh clients at once.
func burst(url string, n int) []sample {
	out := make(chan sample, n)
	for range n {
		go func() {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			s := sample{sent: time.Now()}
			resp, err := c.Get(url)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				s.code = resp.StatusCode
			}
			s.done, s.err = time.Now(), err
			out <- s
		}()
	}
	ss := make([]sample, 0, n)
	for range n {
		ss = append(ss, <-out)
	}
	return ss
}

// metricValue reads one sample from the registry by name and labels.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }

// newEchoServer is a TCP server that echoes every line, standing for a
// database behind the agent's db proxy.
func newEchoServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}

type echoConn struct {
	net.Conn
	buf []byte
}

func dialEcho(t testing.TB, addr string) *echoConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &echoConn{Conn: c, buf: make([]byte, 5)}
}

// roundTrip writes a line and waits for its echo.
func (c *echoConn) roundTrip(t testing.TB) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatalf("echo write: %v", err)
	}
	if _, err := io.ReadFull(c, c.buf); err != nil {
		t.Fatalf("echo read: %v", err)
	}
	return time.Since(start)
}
