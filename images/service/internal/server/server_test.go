package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/images/service/internal/calls"
	"github.com/vecrosim/vecro/images/service/internal/server"
	"github.com/vecrosim/vecro/images/service/internal/svcmetrics"
	"github.com/vecrosim/vecro/images/service/internal/workload"
)

// svc is one real service: the package's handler with a real workload,
// caller and metrics, served on 127.0.0.1:0.
type svc struct {
	name    string
	url     string
	metrics *svcmetrics.Metrics
	caller  *calls.Caller
	conns   *atomic.Int64 // connections accepted
	stop    func()
}

type svcOpts struct {
	params  workload.Params
	callees []calls.Callee
	mode    spec.CallMode
	timeout time.Duration
}

func newService(t testing.TB, name string, o svcOpts) *svc {
	t.Helper()
	m, err := svcmetrics.New(svcmetrics.Options{System: "test", Service: name, Instance: name + "-0"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := workload.New(o.params)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := calls.New(calls.Options{
		Callees: o.callees, Mode: o.mode, Timeout: o.timeout,
		Dial: m.WrapDialer((&net.Dialer{}).DialContext), Observe: m.ObserveDownstream,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.Handler(server.Options{Workload: w, Caller: caller, Instrument: m.Instrument})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &svc{name: name, url: "http://" + l.Addr().String(), metrics: m, caller: caller, conns: new(atomic.Int64)}
	srv := server.NewHTTPServer(h, nil)
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, srv, m.WrapListener(l), 5*time.Second) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve %s: %v", name, err)
			}
			caller.CloseIdleConnections()
			_ = w.Close()
		})
	}
	t.Cleanup(s.stop)
	return s
}

// newClient is a keep-alive client the test closes at cleanup.
func newClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t testing.TB, c *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("request body"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestAnyMethodAnyPathGetsThePayload(t *testing.T) {
	s := newService(t, "text", svcOpts{params: workload.Params{Net: 256, Seed: 1}})
	c := newClient(t)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, "BREW"} {
		for _, p := range []string{"/", "/a/b/c?x=1"} {
			resp, body := get(t, c, m, s.url+p)
			if resp.StatusCode != 200 || len(body) != 128 {
				t.Errorf("%s %s: %d with %d bytes, want 200 with 128 (net 256 / 2)", m, p, resp.StatusCode, len(body))
			}
		}
	}
	resp, body := get(t, c, http.MethodHead, s.url+"/")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 128 {
		t.Errorf("HEAD: %d, body %q, length %d", resp.StatusCode, body, resp.ContentLength)
	}
}

func TestDownstreamFailureIs502NamingTheCallee(t *testing.T) {
	// leaf answers 503 itself; dead has nothing listening.
	leaf := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "leaf is down", http.StatusServiceUnavailable)
	})}
	ll, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = leaf.Serve(ll) }()
	t.Cleanup(func() { _ = leaf.Close() })
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + dl.Addr().String()
	dl.Close()

	mid := newService(t, "mid", svcOpts{callees: []calls.Callee{{Name: "leaf", URL: "http://" + ll.Addr().String()}}})
	front := newService(t, "front", svcOpts{callees: []calls.Callee{{Name: "mid", URL: mid.url}}})
	viaDead := newService(t, "via-dead", svcOpts{callees: []calls.Callee{{Name: "dead", URL: dead}}})
	c := newClient(t)

	resp, body := get(t, c, http.MethodGet, front.url)
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(server.FailedCalleeHeader) != "mid" {
		t.Errorf("front: %d, failed callee %q; want 502 naming mid", resp.StatusCode, resp.Header.Get(server.FailedCalleeHeader))
	}
	// The body tells the whole path down to the root cause.
	for _, s := range []string{"downstream: call mid", "status 502 Bad Gateway", "call leaf", "status 503 Service Unavailable: leaf is down"} {
		if !strings.Contains(body, s) {
			t.Errorf("front's body %q lacks %q", body, s)
		}
	}
	resp, body = get(t, c, http.MethodGet, viaDead.url)
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(server.FailedCalleeHeader) != "dead" || !strings.Contains(body, "call dead ("+dead+")") {
		t.Errorf("transport error: %d %q %q; want 502 naming dead", resp.StatusCode, resp.Header.Get(server.FailedCalleeHeader), body)
	}
}

func TestCallerLeavingIs499(t *testing.T) {
	s := newService(t, "slow", svcOpts{params: workload.Params{Delay: 10 * time.Second}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if _, err := newClient(t).Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	waitFor(t, 10*time.Second, func() error {
		if n := countRequests(t, s, "499"); n != 1 {
			return fmt.Errorf("%v requests with code 499, want 1", n)
		}
		return nil
	})
}

func countRequests(t testing.TB, s *svc, code string) float64 {
	t.Helper()
	mfs, err := s.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "vecro_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == code {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

func waitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openFDs(t testing.TB) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(es)
}

// TestDeepGraphDoesNotLeak hammers a graph of real services (depth 6,
// parallel fan-out, a leaf failing one request in ten, callers giving up
// early) and checks that goroutines and connections settle: a second round
// opens (almost) no new connections, callers giving up cost only the
// connections they abandon, and once idle connections are closed the
// goroutine and file counts return to where they started.
func TestDeepGraphDoesNotLeak(t *testing.T) {
	var leafHits atomic.Int64
	leafSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if leafHits.Add(1)%10 == 0 {
			http.Error(w, "every tenth fails", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("leaf"))
	})}
	ll, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = leafSrv.Serve(ll) }()
	t.Cleanup(func() { _ = leafSrv.Close() })

	net64 := workload.Params{Net: 64}
	l5 := newService(t, "l5", svcOpts{params: net64})
	l4 := newService(t, "l4", svcOpts{params: net64, callees: []calls.Callee{{Name: "l5", URL: l5.url}}})
	l3 := newService(t, "l3", svcOpts{params: net64, mode: spec.CallParallel, callees: []calls.Callee{{Name: "l4", URL: l4.url}, {Name: "leaf", URL: "http://" + ll.Addr().String()}}})
	l2 := newService(t, "l2", svcOpts{params: net64, callees: []calls.Callee{{Name: "l3", URL: l3.url}}})
	l1a := newService(t, "l1a", svcOpts{params: net64, callees: []calls.Callee{{Name: "l2", URL: l2.url}}})
	l1b := newService(t, "l1b", svcOpts{params: net64, callees: []calls.Callee{{Name: "l2", URL: l2.url}, {Name: "l5", URL: l5.url}}})
	front := newService(t, "front", svcOpts{params: net64, mode: spec.CallParallel, callees: []calls.Callee{{Name: "l1a", URL: l1a.url}, {Name: "l1b", URL: l1b.url}}})
	all := []*svc{front, l1a, l1b, l2, l3, l4, l5}

	client := newClient(t)
	closeIdle := func() {
		client.CloseIdleConnections()
		for _, s := range all {
			s.caller.CloseIdleConnections()
		}
	}
	get(t, client, http.MethodGet, front.url)
	closeIdle()
	settle(t, runtime.NumGoroutine())
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	const workers, each = 16, 40
	var (
		codes     sync.Map
		cancelled atomic.Int64
	)
	// round sends workers × each requests; with giveUp, one in seven
	// callers gives up 1–3 ms after sending, in the middle of the graph.
	round := func(giveUp bool) {
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				for j := range each {
					ctx := context.Background()
					cancel := context.CancelFunc(func() {})
					if giveUp && (i+j)%7 == 0 {
						cancelled.Add(1)
						ctx, cancel = context.WithTimeout(ctx, time.Duration(1+j%3)*time.Millisecond)
					}
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, front.url+"/x", strings.NewReader("hello"))
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						v, _ := codes.LoadOrStore(resp.StatusCode, new(atomic.Int64))
						v.(*atomic.Int64).Add(1)
					}
					cancel()
				}
			})
		}
		wg.Wait()
	}
	sumConns := func() (n int64) {
		for _, s := range all {
			n += s.conns.Load()
		}
		return n
	}
	round(false)
	c1, fd1 := sumConns(), openFDs(t)
	round(false)
	c2, fd2 := sumConns(), openFDs(t)
	round(true)
	c3, fd3 := sumConns(), openFDs(t)
	var summary []string
	codes.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%v×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("3 rounds of %d×%d requests (the last with %d callers giving up): status %v; connections accepted %d, %d, %d; open files %d → %d → %d → %d; goroutines at start %d",
		workers, each, cancelled.Load(), summary, c1, c2, c3, baseFD, fd1, fd2, fd3, baseG)
	if v, ok := codes.Load(http.StatusOK); !ok || v.(*atomic.Int64).Load() == 0 {
		t.Error("no request succeeded")
	}
	if v, ok := codes.Load(http.StatusBadGateway); !ok || v.(*atomic.Int64).Load() == 0 {
		t.Error("the failing leaf never made a 502 reach the front")
	}
	// Each request makes 13 calls inside the graph; a leak of one connection
	// per call would open 13 × 640 = 8320 in a round. Pools that keep their
	// connections open at most the graph's peak concurrency over a whole
	// run: one in-flight call per worker on each of the six edges called
	// once per request (client→front, front→l1a, front→l1b, l1a→l2,
	// l1b→l2, l1b→l5) and two on the three below l2, which both l1a and l1b
	// call (l2→l3, l3→l4, l4→l5). How much of it the first round reaches
	// depends on scheduling (on a loaded machine, fewer requests overlap),
	// so the second may open the rest, and no more.
	const peakConns = workers * (6 + 2*3)
	if c2-c1 > peakConns {
		t.Errorf("the second round opened %d connections for %d requests (peak concurrency allows %d): the pools do not keep them", c2-c1, workers*each, peakConns)
	}
	// Both ends of every connection are in this process: the connections
	// allowed above hold 2 descriptors each, and as many again may belong to
	// pooled connections being closed.
	if fd2 > fd1+4*peakConns {
		t.Errorf("open files grew from %d to %d over the second round", fd1, fd2)
	}
	// A caller giving up closes its connection, and each level below closes
	// the connection of the call it abandons: at most 14 per cancelled
	// request (the client's and 13 calls).
	if c3-c2 > 14*cancelled.Load() {
		t.Errorf("the round with %d callers giving up opened %d connections", cancelled.Load(), c3-c2)
	}

	closeIdle()
	waitFor(t, 15*time.Second, func() error {
		if g, fd := runtime.NumGoroutine(), openFDs(t); g > baseG+5 || fd > baseFD+5 {
			return fmt.Errorf("after closing idle connections: %d goroutines (%d at start), %d open files (%d at start)", g, baseG, fd, baseFD)
		}
		return nil
	})
	for _, s := range all {
		if f := inFlight(t, s); f != 0 {
			t.Errorf("%s: %v requests still in flight", s.name, f)
		}
	}
}

func inFlight(t testing.TB, s *svc) float64 {
	t.Helper()
	mfs, err := s.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "vecro_http_in_flight" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no vecro_http_in_flight")
	return 0
}

// settle waits until the goroutine count stops falling.
func settle(t testing.TB, last int) {
	t.Helper()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n >= last {
			return
		}
		last = n
	}
}

func TestAdmin(t *testing.T) {
	m, err := svcmetrics.New(svcmetrics.Options{System: "s", Service: "a", Instance: "a-0"})
	if err != nil {
		t.Fatal(err)
	}
	var faultCalls atomic.Int64
	faults := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		faultCalls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	})
	health := &server.Health{}
	h, err := server.AdminHandler(server.AdminOptions{Metrics: m.Handler(), Faults: faults, Health: health})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, server.NewHTTPServer(h, nil), l, time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + l.Addr().String()
	c := newClient(t)
	if resp, body := get(t, c, http.MethodGet, base+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, c, http.MethodGet, base+"/metrics"); resp.StatusCode != 200 || !strings.Contains(body, `vecro_http_in_flight{vecro_instance="a-0",vecro_service="a",vecro_system="s"} 0`) {
		t.Errorf("/metrics: %d\n%s", resp.StatusCode, body)
	}
	for _, p := range []string{"/faults", "/faults/x.net-delay"} {
		if resp, _ := get(t, c, http.MethodGet, base+p); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want the faults handler's 401", p, resp.StatusCode)
		}
	}
	if faultCalls.Load() != 2 {
		t.Errorf("faults handler called %d times, want 2", faultCalls.Load())
	}
	if resp, _ := get(t, c, http.MethodGet, base+"/other"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/other: %d, want 404", resp.StatusCode)
	}
	health.Drain()
	if resp, _ := get(t, c, http.MethodGet, base+"/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz while draining: %d, want 503", resp.StatusCode)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	w, err := workload.New(workload.Params{Delay: 300 * time.Millisecond, Net: 20})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.Handler(server.Options{Workload: w})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, server.NewHTTPServer(h, nil), l, 10*time.Second) }()
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String())
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	time.Sleep(100 * time.Millisecond) // the request is in its delay
	cancel()
	r := <-res
	if r.err != nil || r.code != 200 || len(r.body) != 10 {
		t.Errorf("in-flight request during shutdown: %d %q %v, want 200 with its payload", r.code, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.Get("http://" + l.Addr().String()); err == nil {
		t.Error("the port still answers after shutdown")
	}
}

func TestHandlerOptionErrors(t *testing.T) {
	if _, err := server.Handler(server.Options{}); err == nil {
		t.Error("a handler without workload")
	}
	w, _ := workload.New(workload.Params{})
	if _, err := server.Handler(server.Options{Workload: w, Reads: 1}); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Errorf("reads without a store: %v", err)
	}
	if _, err := server.AdminHandler(server.AdminOptions{}); err == nil {
		t.Error("an admin handler without handlers")
	}
}
