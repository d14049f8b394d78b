package faultagent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
	"github.com/vecrosim/vecro/images/service/internal/faultagent"
)

// echoBody is the answer to request i with body in: the request's own body
// and a pattern whose length varies with i, so that a byte lost, doubled or
// reordered anywhere in the stream shows.
func echoBody(i int, in []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d:", i)
	b.Write(in)
	for k := range (i * 613) % 9000 {
		b.WriteByte(byte('a' + (i+k)%26))
	}
	return b.Bytes()
}

// TestWrapIngressByteExact serves HTTP on the service port through
// WrapIngress, as the service binary does, and sends pipelined requests on
// keep-alive connections opened before any fault while ingress faults
// switch on and off several times: every connection is switched from the
// direct path to the toxics mid-stream (some while their read is blocked on
// the socket), and every answer must still arrive byte for byte, in order.
//
// It does not run in parallel: its load would disturb the timed tests.
func TestWrapIngressByteExact(t *testing.T) {
	a, err := faultagent.New(faultagent.Options{Token: testToken, Seed: 3, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	admin := httptest.NewServer(a.Handler())
	t.Cleanup(admin.Close)
	client := agent.NewClient(agent.Endpoint{Instance: "svc-0", Service: "svc", URL: admin.URL, Token: testToken})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl, err := a.WrapIngress(l)
	if err != nil {
		t.Fatalf("wrap ingress: %v", err)
	}
	if _, err := a.WrapIngress(l); err == nil {
		t.Error("a second WrapIngress succeeded")
	}
	srv := &http.Server{Handler: a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		in, _ := io.ReadAll(r.Body)
		_, _ = w.Write(echoBody(i, in))
	}))}
	go func() { _ = srv.Serve(wl) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := l.Addr().String()

	// Four net-delay windows and one net-rate window across two of them.
	const window = 250 * time.Millisecond
	t0 := time.Now().Add(300 * time.Millisecond)
	var ids []string
	for k := range 4 {
		start := t0.Add(time.Duration(k) * 2 * window)
		f := fault(t, fmt.Sprintf("d%d.net-delay", k), "net-delay",
			behavior.NetDelay{Time: behavior.Duration(3 * time.Millisecond), Jitter: behavior.Duration(2 * time.Millisecond)}, start, start.Add(window))
		if _, err := client.Put(context.Background(), f); err != nil {
			t.Fatalf("put %s: %v", f.ID, err)
		}
		ids = append(ids, f.ID)
	}
	rate := fault(t, "r.net-rate", "net-rate", behavior.NetRate{Rate: behavior.Rate(20 << 20)}, t0.Add(window/2), t0.Add(3*window))
	if _, err := client.Put(context.Background(), rate); err != nil {
		t.Fatalf("put %s: %v", rate.ID, err)
	}
	ids = append(ids, rate.ID)
	stop := t0.Add(8*window + 100*time.Millisecond)

	const conns = 4
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns+1)
	for c := range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		// The writer sends a batch of 1–4 pipelined requests, waits until
		// the reader has checked their answers (so the load stays within
		// what a -race build serves), then pauses, which leaves the
		// server's read blocked on the socket: the switch to the toxics
		// then happens through a kick.
		sent := make(chan []int)
		answered := make(chan bool)
		wg.Go(func() {
			defer close(sent)
			for n := 0; time.Now().Before(stop); {
				var batch bytes.Buffer
				var ids []int
				for range 1 + (n+c)%4 {
					i := c*1_000_000 + n
					body := bytes.Repeat([]byte{byte('A' + n%26)}, (n*131)%3000)
					fmt.Fprintf(&batch, "POST /?i=%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", i, len(body))
					batch.Write(body)
					ids = append(ids, i)
					n++
				}
				if _, err := conn.Write(batch.Bytes()); err != nil {
					errs <- fmt.Errorf("conn %d: write: %w", c, err)
					return
				}
				sent <- ids
				if !<-answered {
					return
				}
				time.Sleep(time.Duration(2+n%7) * time.Millisecond)
			}
		})
		wg.Go(func() {
			br := bufio.NewReader(conn)
			got := 0
			check := func(i int) error {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return fmt.Errorf("conn %d: response to request %d: %w", c, i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				n := i - c*1_000_000
				want := echoBody(i, bytes.Repeat([]byte{byte('A' + n%26)}, (n*131)%3000))
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want) {
					return fmt.Errorf("conn %d: request %d: status %d, %d bytes (err %v), want 200 and %d bytes exactly",
						c, i, resp.StatusCode, len(body), err, len(want))
				}
				got++
				return nil
			}
			for ids := range sent {
				for _, i := range ids {
					if err := check(i); err != nil {
						errs <- err
						answered <- false
						return
					}
				}
				answered <- true
			}
			t.Logf("conn %d: %d answers byte-exact", c, got)
		})
	}
	// Fresh connections during the windows go through the toxics from their
	// first byte.
	wg.Go(func() {
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for i := 0; time.Now().Before(stop); i++ {
			resp, err := hc.Post(fmt.Sprintf("http://%s/?i=%d", addr, i), "text/plain", bytes.NewReader([]byte("fresh")))
			if err != nil {
				errs <- fmt.Errorf("fresh connection %d: %w", i, err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(body, echoBody(i, []byte("fresh"))) {
				errs <- fmt.Errorf("fresh connection %d: %d bytes (err %v), want %d", i, len(body), err, len(echoBody(i, []byte("fresh"))))
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, id := range ids {
		st, err := client.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if st.Phase != agent.PhaseDone || st.Error != "" {
			t.Errorf("fault %s: phase %s (error %q), want done", id, st.Phase, st.Error)
		}
		t.Logf("%s: %v", id, st.Effect)
		// Every window must really have acted on these connections (five
		// clients send every few milliseconds: a window of 250 ms without
		// one request would need the process to stall for all of it).
		if st.Fault.Behavior == "net-delay" && st.Effect["requests_delayed"] == 0 {
			t.Errorf("fault %s delayed no request: the connections did not go through the toxics", id)
		}
	}
}
