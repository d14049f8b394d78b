package calls_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/images/service/internal/calls"
)

// callee is a real HTTP server that counts the connections it accepts.
type callee struct {
	*httptest.Server
	conns atomic.Int64
}

func newCallee(t testing.TB, h http.HandlerFunc) *callee {
	t.Helper()
	c := &callee{Server: httptest.NewUnstartedServer(h)}
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

func newCaller(t testing.TB, o calls.Options) *calls.Caller {
	t.Helper()
	c, err := calls.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) }

func TestSequentialInOrder(t *testing.T) {
	var (
		mu    sync.Mutex
		order []string
	)
	rec := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			ok(w, r)
		}
	}
	a, b, c := newCallee(t, rec("a")), newCallee(t, rec("b")), newCallee(t, rec("c"))
	var observed []string
	caller := newCaller(t, calls.Options{
		Callees: []calls.Callee{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL + "/path?q=1"}, {Name: "c", URL: c.URL}},
		Observe: func(name string, status int, d time.Duration) {
			observed = append(observed, name)
			if status != 200 || d < 5*time.Millisecond {
				t.Errorf("observed %s: status %d after %s", name, status, d)
			}
		},
	})
	for range 3 {
		if err := caller.Call(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(order, ""); got != "abcabcabc" {
		t.Errorf("call order %q, want abcabcabc", got)
	}
	if got := strings.Join(observed, ""); got != "abcabcabc" {
		t.Errorf("observed %q", got)
	}
}

func TestNon2xxIsAnErrorNamingTheCallee(t *testing.T) {
	var cCalled atomic.Bool
	a := newCallee(t, ok)
	b := newCallee(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "call d (http://x): status 500 Internal Server Error: disk\nfull", http.StatusBadGateway)
	})
	c := newCallee(t, func(w http.ResponseWriter, r *http.Request) { cCalled.Store(true); ok(w, r) })
	var codes []int
	caller := newCaller(t, calls.Options{
		Callees: []calls.Callee{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL}, {Name: "c", URL: c.URL}},
		Observe: func(_ string, status int, _ time.Duration) { codes = append(codes, status) },
	})
	err := caller.Call(context.Background())
	ce, isCallErr := errors.AsType[*calls.Error](err)
	if !isCallErr {
		t.Fatalf("err = %v, want a *calls.Error", err)
	}
	if ce.Callee != "b" || ce.Status != http.StatusBadGateway {
		t.Errorf("error names %s status %d, want b 502", ce.Callee, ce.Status)
	}
	for _, s := range []string{"call b (" + b.URL + ")", "status 502 Bad Gateway", "call d (http://x): status 500 Internal Server Error: disk full"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if cCalled.Load() {
		t.Error("sequential calls went on after a failure")
	}
	if len(codes) != 2 || codes[0] != 200 || codes[1] != 502 {
		t.Errorf("observed codes %v, want [200 502]", codes)
	}
}

func TestTransportErrorNamesTheCallee(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var observed int = -1
	caller := newCaller(t, calls.Options{
		Callees: []calls.Callee{{Name: "gone", URL: "http://" + addr + "/"}},
		Observe: func(_ string, status int, _ time.Duration) { observed = status },
	})
	err = caller.Call(context.Background())
	ce, isCallErr := errors.AsType[*calls.Error](err)
	if !isCallErr || ce.Callee != "gone" || ce.Status != 0 || ce.Err == nil {
		t.Fatalf("err = %#v, want a transport *calls.Error naming gone", err)
	}
	if !strings.Contains(err.Error(), "call gone (http://"+addr+"/)") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %q should name the callee, its URL and the refusal", err)
	}
	if observed != 0 {
		t.Errorf("observed status %d, want 0 (no response)", observed)
	}
}

func TestParallelVsSequentialTiming(t *testing.T) {
	const sleep = 300 * time.Millisecond
	slow := func(w http.ResponseWriter, r *http.Request) { time.Sleep(sleep); ok(w, r) }
	var cs []calls.Callee
	for _, n := range []string{"a", "b", "c"} {
		cs = append(cs, calls.Callee{Name: n, URL: newCallee(t, slow).URL})
	}
	timeCall := func(mode spec.CallMode) time.Duration {
		c := newCaller(t, calls.Options{Callees: cs, Mode: mode})
		start := time.Now()
		if err := c.Call(context.Background()); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	seq, par := timeCall(spec.CallSequential), timeCall(spec.CallParallel)
	t.Logf("3 callees × %s: sequential %s, parallel %s", sleep, seq, par)
	// Sequential cannot be faster than the sum; parallel is about one sleep,
	// and 500 ms of slack absorbs a loaded machine.
	if seq < 3*sleep {
		t.Errorf("sequential took %s, less than 3 × %s: the calls overlapped", seq, sleep)
	}
	if par > 3*sleep-100*time.Millisecond {
		t.Errorf("parallel took %s, want well under the sequential sum %s", par, 3*sleep)
	}
}

func TestParallelFailureLetsSiblingsFinish(t *testing.T) {
	var siblingDone atomic.Bool
	fail := newCallee(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	slow := newCallee(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		siblingDone.Store(true)
		ok(w, r)
	})
	also := newCallee(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "later in the list", http.StatusNotFound)
	})
	c := newCaller(t, calls.Options{Mode: spec.CallParallel, Callees: []calls.Callee{
		{Name: "slow", URL: slow.URL}, {Name: "fail", URL: fail.URL}, {Name: "also", URL: also.URL},
	}})
	for range 3 {
		siblingDone.Store(false)
		err := c.Call(context.Background())
		if ce, isCallErr := errors.AsType[*calls.Error](err); !isCallErr || ce.Callee != "fail" || ce.Status != 500 {
			t.Fatalf("err = %v, want fail's 500 (the first failure in list order)", err)
		}
		if !siblingDone.Load() {
			t.Fatal("Call returned before the slow sibling finished, or the sibling was cancelled")
		}
	}
	// Nothing was cancelled, so every connection went back to the pool.
	if n := slow.conns.Load() + fail.conns.Load() + also.conns.Load(); n != 3 {
		t.Errorf("3 parallel rounds opened %d connections, want 3", n)
	}
}

func TestTimeoutCeiling(t *testing.T) {
	hang := newCallee(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newCaller(t, calls.Options{Timeout: 100 * time.Millisecond, Callees: []calls.Callee{{Name: "hang", URL: hang.URL}}})
	start := time.Now()
	err := c.Call(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "call hang") {
		t.Fatalf("err = %v, want a deadline error naming hang", err)
	}
	if el := time.Since(start); el < 100*time.Millisecond || el > 10*time.Second {
		t.Errorf("timed out after %s, want about 100ms", el)
	}
}

func TestIncomingCancelReachesTheCallee(t *testing.T) {
	seen := make(chan struct{})
	hang := newCallee(t, func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(seen)
	})
	c := newCaller(t, calls.Options{Callees: []calls.Callee{{Name: "hang", URL: hang.URL}}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := c.Call(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the callee's request was not cancelled with the incoming one")
	}
}

func TestKeepAliveAndNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	a := newCallee(t, ok)
	b := newCallee(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, 64<<10)) // a body larger than one read
	})
	c := newCaller(t, calls.Options{Mode: spec.CallParallel, Callees: []calls.Callee{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL}}})

	// Sequential requests reuse one connection per callee.
	for range 100 {
		if err := c.Call(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if a.conns.Load() != 1 || b.conns.Load() != 1 {
		t.Errorf("100 requests opened %d and %d connections, want 1 each", a.conns.Load(), b.conns.Load())
	}

	// Concurrent requests: at most one connection per concurrent request,
	// and a second round reuses the pool.
	const workers = 32
	round := func() {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range 20 {
					if err := c.Call(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	round()
	afterFirst := a.conns.Load() + b.conns.Load()
	round()
	afterSecond := a.conns.Load() + b.conns.Load()
	t.Logf("connections: %d after the first concurrent round, %d after the second", afterFirst, afterSecond)
	// 1,280 calls; a connection per call would be a leak. The transport may
	// dial a spare while another request hands its connection back, so a
	// few more than one per worker and callee are fine.
	if afterFirst > 2*2*workers {
		t.Errorf("%d connections for %d concurrent workers × 2 callees", afterFirst, workers)
	}
	if afterSecond-afterFirst > workers/4 {
		t.Errorf("the second round opened %d new connections: the pool does not keep them", afterSecond-afterFirst)
	}

	c.CloseIdleConnections()
	a.CloseClientConnections()
	b.CloseClientConnections()
	// Connection goroutines end asynchronously after the close.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+4 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		o    calls.Options
		want string
	}{
		{calls.Options{Mode: "random"}, `mode "random"`},
		{calls.Options{Callees: []calls.Callee{{URL: "http://x"}}}, "has no name"},
		{calls.Options{Callees: []calls.Callee{{Name: "a", URL: "http://x"}, {Name: "a", URL: "http://y"}}}, "callee a named twice"},
		{calls.Options{Callees: []calls.Callee{{Name: "a", URL: "::bad"}}}, "callee a"},
		{calls.Options{Callees: []calls.Callee{{Name: "a", URL: "/relative"}}}, "has no host"},
	} {
		_, err := calls.New(tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tt.o, err, tt.want)
		}
	}
}
