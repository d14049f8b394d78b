package local

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// newTestFront puts a front before the given backends on a loopback port.
func newTestFront(t testing.TB, backends ...string) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newFront("svc", ln, backends, discard)
	t.Cleanup(f.close)
	return f
}

func namedServer(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte(name + ":" + string(body)))
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFrontRoundRobinPerConnection(t *testing.T) {
	a, b := namedServer(t, "a"), namedServer(t, "b")
	f := newTestFront(t, a.Listener.Addr().String(), b.Listener.Addr().String())
	url := "http://" + f.addr() + "/"

	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	counts := map[string]int{}
	var prev string
	for i := range 10 {
		got := get(t, fresh, url)
		counts[got]++
		if i > 0 && got == prev {
			t.Errorf("request %d went to %q again: not round robin", i, got)
		}
		prev = got
	}
	if counts["a:"] != 5 || counts["b:"] != 5 {
		t.Errorf("new connections split %v, want 5/5", counts)
	}

	// One kept-alive connection stays with one replica, as with kube-proxy.
	kept := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	first := get(t, kept, url)
	for range 5 {
		if got := get(t, kept, url); got != first {
			t.Fatalf("a kept-alive connection moved from %q to %q", first, got)
		}
	}
}

func TestFrontSkipsADeadReplica(t *testing.T) {
	a := namedServer(t, "a")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	f := newTestFront(t, deadAddr, a.Listener.Addr().String())
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 4 {
		if got := get(t, fresh, "http://"+f.addr()+"/"); got != "a:" {
			t.Fatalf("got %q, want the live replica", got)
		}
	}
}

func TestFrontCloseEndsConnections(t *testing.T) {
	// A backend that accepts and holds the connection open.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	lf, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newFront("svc", lf, []string{ln.Addr().String()}, discard)
	c, err := net.Dial("tcp", f.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	done := make(chan struct{})
	go func() { f.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return while a connection was open")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the caller's connection is still open after close")
	}
	if _, err := net.DialTimeout("tcp", f.addr(), time.Second); err == nil {
		t.Error("the front still accepts after close")
	}
}
