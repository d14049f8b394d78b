package load_test

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
)

// The generator's own HTTP/1.1 client against net/http servers: bodies of
// every framing, connection reuse and closing, interim answers, TLS.

func TestClientBodiesAndFraming(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		switch r.URL.Path {
		case "/chunked":
			for range 3 {
				_, _ = io.WriteString(w, strings.Repeat("x", 1000))
				http.NewResponseController(w).Flush() // forces chunked framing
			}
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = io.WriteString(w, "after hints")
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			_, _ = io.WriteString(w, strings.Repeat("y", 500))
		}
	})
	for _, tc := range []struct {
		path, method string
		bytes        uint64 // per request
		status       int
		newConns     bool
	}{
		{"/chunked", "GET", 3000, 200, false},
		{"/plain", "GET", 500, 200, false},
		{"/plain", "HEAD", 0, 200, false},
		{"/close", "POST", 3, 200, true},
		{"/hints", "GET", 11, 200, false},
		{"/redirect", "GET", 0, 302, false}, // counted, not followed (HEAD-free 302 has a short HTML body)
	} {
		t.Run(strings.TrimPrefix(tc.path, "/")+"_"+tc.method, func(t *testing.T) {
			before := len(srv.connections())
			rep := start(t, t.Context(), load.Spec{
				Targets: load.URLs(srv.URL + tc.path), Method: tc.method, Users: 1, Delay: 5 * ms, Duration: 200 * ms,
			}).Wait()
			if rep.Sent < 5 || rep.OK != rep.Sent || rep.Status[tc.status] != rep.Sent {
				t.Fatalf("sent %d, ok %d, status %v, errors %v %q; want all answered %d", rep.Sent, rep.OK, rep.Status, rep.ByKind, rep.ErrorSamples, tc.status)
			}
			if tc.status == 302 {
				return
			}
			if rep.BytesIn != tc.bytes*rep.Sent {
				t.Errorf("bytes in %d for %d requests; want %d each", rep.BytesIn, rep.Sent, tc.bytes)
			}
			conns := len(srv.connections()) - before
			if tc.newConns && conns != int(rep.Sent) || !tc.newConns && conns != 1 {
				t.Errorf("%d new connections for %d requests; want %s", conns, rep.Sent, map[bool]string{true: "one each (server closes)", false: "one, kept alive"}[tc.newConns])
			}
		})
	}
}

// A server that closes idle keep-alive connections before the user's next
// tick: the stale connection is redialled, not reported as an error.
func TestClientRedialsConnectionClosedWhileIdle(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 20 * ms
	srv.Start()
	t.Cleanup(srv.Close)
	rep := start(t, t.Context(), load.Spec{Targets: load.URLs(srv.URL), Users: 2, Delay: 100 * ms, Duration: 800 * ms}).Wait()
	if rep.Errors != 0 || rep.OK < 12 {
		t.Errorf("ok %d, errors %v %q; want every request answered despite idle closes", rep.OK, rep.ByKind, rep.ErrorSamples)
	}
}

func TestClientKeepAliveOff(t *testing.T) {
	srv := newServer(t, nil)
	rep := start(t, t.Context(), load.Spec{Targets: load.URLs(srv.URL), Users: 1, Delay: 10 * ms, Duration: 200 * ms, DisableKeepAlive: true}).Wait()
	if got := len(srv.connections()); rep.Errors != 0 || got != int(rep.Sent) {
		t.Errorf("%d connections for %d requests (errors %v); want one per request with keep-alive off", got, rep.Sent, rep.ErrorSamples)
	}
}

func TestClientHeadersAndHost(t *testing.T) {
	got := make(chan *http.Request, 100)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		got <- r
	})
	start(t, t.Context(), load.Spec{
		Targets: load.URLs(srv.URL + "/p?q=1"), Method: "PUT", Body: "data", Users: 1, Delay: time.Hour, Duration: 100 * ms,
		Header: http.Header{"X-Test": {"a", "b"}, "Host": {"text.social"}, "user-agent": {"probe"}},
	}).Wait()
	r := <-got
	if r.Method != "PUT" || r.URL.RequestURI() != "/p?q=1" || r.Host != "text.social" || r.ContentLength != 4 ||
		strings.Join(r.Header["X-Test"], ",") != "a,b" || r.UserAgent() != "probe" {
		t.Errorf("request %s %s host %q length %d headers %v; want PUT /p?q=1 to text.social with the spec's headers", r.Method, r.URL, r.Host, r.ContentLength, r.Header)
	}
	for _, h := range []http.Header{{"Content-Length": {"5"}}, {"Bad Name": {"x"}}, {"X-Ok": {"line\r\nbreak"}}} {
		if _, err := load.Start(t.Context(), load.Spec{Targets: load.URLs(srv.URL), Header: h}); err == nil {
			t.Errorf("Start with header %v: no error; want it refused", h)
		}
	}
}

func TestClientTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	conf := srv.Client().Transport.(*http.Transport).TLSClientConfig
	// A handshake can take a second on a loaded machine under -race: ask for
	// answers, not for a number of them.
	rep := start(t, t.Context(), load.Spec{Targets: load.URLs(srv.URL), Users: 1, Delay: 10 * ms, Duration: time.Second, TLS: conf}).Wait()
	if rep.Errors != 0 || rep.OK == 0 || rep.BytesIn != rep.OK*uint64(len("HTTP/1.1")) {
		t.Errorf("ok %d, bytes %d, errors %q; want HTTP/1.1 answers over TLS", rep.OK, rep.BytesIn, rep.ErrorSamples)
	}
	// Without the test CA the certificate is refused, and said so.
	rep = start(t, t.Context(), load.Spec{Targets: load.URLs(srv.URL), Users: 1, Delay: 50 * ms, Duration: 100 * ms, TLS: &tls.Config{}}).Wait()
	if rep.OK != 0 || rep.ByKind[load.KindOther] == 0 || !strings.Contains(strings.Join(rep.ErrorSamples, " "), "certificate") {
		t.Errorf("ok %d, errors %v %q; want certificate errors", rep.OK, rep.ByKind, rep.ErrorSamples)
	}
}
