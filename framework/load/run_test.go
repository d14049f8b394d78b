package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
)

// server is a real HTTP server on 127.0.0.1:0 that records when each
// request arrived on which connection and how many were in flight at once.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals map[string][]time.Time // by client address: one per connection
	bodies   []string
	methods  []string
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

// newServer starts a server whose handler first records the request, then
// calls serve (nil: answer "ok").
func newServer(t testing.TB, serve func(w http.ResponseWriter, r *http.Request, arrived time.Time)) *server {
	t.Helper()
	s := &server{arrivals: map[string][]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for m := s.maxIn.Load(); n > m && !s.maxIn.CompareAndSwap(m, n); m = s.maxIn.Load() {
		}
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.arrivals[r.RemoteAddr] = append(s.arrivals[r.RemoteAddr], now)
		s.bodies = append(s.bodies, string(b))
		s.methods = append(s.methods, r.Method)
		s.mu.Unlock()
		if serve != nil {
			serve(w, r, now)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) connections() map[string][]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Time{}
	for k, v := range s.arrivals {
		out[k] = slices.Clone(v)
	}
	return out
}

func start(t testing.TB, ctx context.Context, s load.Spec) *load.Run {
	t.Helper()
	run, err := load.Start(ctx, s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { run.Stop(); run.Wait() })
	return run
}

func TestClosedLoopUsersHonourDelay(t *testing.T) {
	srv := newServer(t, nil)
	const users, delay, dur = 4, 100 * ms, 3 * time.Second
	rep := start(t, t.Context(), load.Spec{
		Targets: load.URLs(srv.URL), Users: users, Delay: delay, Duration: dur, Body: "hello",
	}).Wait()

	// Each user has 30 ticks in 3 s. A tick can only be lost if a goroutine
	// wakes after the window closed, so allow a few; more than planned is a bug.
	const planned = uint64(users * (dur / delay))
	if rep.Sent > planned || rep.Sent < planned-6 || rep.Planned != rep.Sent+rep.Skipped {
		t.Errorf("sent %d, planned %d, skipped %d; want about %d sent", rep.Sent, rep.Planned, rep.Skipped, planned)
	}
	if rep.Errors != 0 || rep.OK != rep.Sent {
		t.Errorf("ok %d, errors %d (%v); want every request answered", rep.OK, rep.Errors, rep.ErrorSamples)
	}
	// Keep-alive is on: one connection per user, whose requests follow the
	// user's grid. The mean gap of a fixed-period loop is the period unless
	// ticks are lost; the median gap is robust to a late wake-up or two.
	conns := srv.connections()
	if len(conns) != users {
		t.Errorf("server saw %d connections; want %d (one per user, kept alive)", len(conns), users)
	}
	for addr, at := range conns {
		var gaps []time.Duration
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]))
		}
		if len(gaps) < 20 {
			t.Errorf("connection %s: %d requests; want about 30", addr, len(at))
			continue
		}
		mean := at[len(at)-1].Sub(at[0]) / time.Duration(len(gaps))
		slices.Sort(gaps)
		median := gaps[len(gaps)/2]
		if mean < 90*ms || mean > 115*ms || median < 80*ms || median > 120*ms {
			t.Errorf("connection %s: mean gap %v, median %v; want about %v", addr, mean, median, delay)
		}
	}
	if srv.maxIn.Load() > users {
		t.Errorf("server saw %d requests in flight at once; want at most %d (one per user)", srv.maxIn.Load(), users)
	}
	srv.mu.Lock()
	if srv.bodies[0] != "hello" || srv.methods[0] != http.MethodPost {
		t.Errorf("request: %s with body %q; want POST with the spec's body (the seed's default)", srv.methods[0], srv.bodies[0])
	}
	srv.mu.Unlock()
	if len(rep.Seconds) < 3 || len(rep.Seconds) > 4 {
		t.Errorf("%d seconds of stats; want 3 (and perhaps a partial fourth)", len(rep.Seconds))
	}
}

func TestClosedLoopSlowServerDelaysNextSend(t *testing.T) {
	// Answers take 250 ms, ticks come every 100 ms: each user sends once per
	// answer, serving the first missed tick late and skipping the others.
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		time.Sleep(250 * ms)
	})
	const users = 2
	rep := start(t, t.Context(), load.Spec{
		Targets: load.URLs(srv.URL), Users: users, Delay: 100 * ms, Duration: 2 * time.Second, Method: http.MethodGet,
	}).Wait()
	if srv.maxIn.Load() > users {
		t.Errorf("%d requests in flight at once; want at most one per user (%d)", srv.maxIn.Load(), users)
	}
	// 2 s / 250 ms = 8 answers per user at most (9 sends counting the last).
	if rep.Sent < 8 || rep.Sent > users*9 {
		t.Errorf("sent %d; want 8..%d (one per 250 ms answer)", rep.Sent, users*9)
	}
	if rep.Skipped == 0 || rep.Late < rep.Sent/2 {
		t.Errorf("late %d, skipped %d of %d sent; want most sends late and ticks skipped", rep.Late, rep.Skipped, rep.Sent)
	}
	if rep.Planned < 36 || rep.Planned > 40 {
		t.Errorf("planned %d ticks; want about 40 (2 users × 20)", rep.Planned)
	}
	// Late sends are timed from their tick, so they carry the wait.
	if rep.Latency.P50 < 250*ms || rep.ServiceTime.P50 < 250*ms {
		t.Errorf("latency p50 %v, service time p50 %v; want ≥ 250 ms", rep.Latency.P50, rep.ServiceTime.P50)
	}
	srv.mu.Lock()
	if srv.methods[0] != http.MethodGet {
		t.Errorf("method %s; want GET", srv.methods[0])
	}
	srv.mu.Unlock()
}

// A server that stalls every request for 200 ms during one second holds
// the open loop's only connection; the hits that fall due meanwhile wait in
// the generator. Timed from their planned send, they carry that wait, so
// the stall dominates p99. Timed from the actual send (coordinated
// omission) only the five or six stalled requests would look slow: under 1%.
func TestOpenLoopShowsStallDespiteBlockedGenerator(t *testing.T) {
	var first atomic.Pointer[time.Time]
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, arrived time.Time) {
		first.CompareAndSwap(nil, &arrived)
		if since := arrived.Sub(*first.Load()); since >= time.Second && since < 2*time.Second {
			time.Sleep(200 * ms)
		}
		_, _ = io.WriteString(w, "ok")
	})
	rep := start(t, t.Context(), load.Spec{
		Targets: load.URLs(srv.URL), Rate: load.Constant{PerSecond: 250}, Duration: 4 * time.Second, Connections: 1,
	}).Wait()

	// On a loaded machine (and under -race) the one connection may still be
	// working off the backlog when the window closes; those hits are
	// counted as skipped, not sent.
	if rep.Errors != 0 || rep.Planned != 1000 || rep.Sent < 800 {
		t.Fatalf("sent %d (of %d planned), errors %d %v; want about 1000 answered", rep.Sent, rep.Planned, rep.Errors, rep.ErrorSamples)
	}
	if rep.Connections != 1 {
		t.Errorf("%d connections used; want the 1 allowed", rep.Connections)
	}
	if rep.SendLag.Max < 500*ms || rep.Late < 100 {
		t.Errorf("send lag max %v, %d late; want the generator held back ~1 s with ~250 late sends", rep.SendLag.Max, rep.Late)
	}
	if rep.Latency.P99 < 500*ms {
		t.Errorf("latency p99 from the planned send = %v; want ≥ 500 ms (the stall's backlog)", rep.Latency.P99)
	}
	// The contrast: the same requests timed from their actual send. Only the
	// stalled ones took 200 ms; a loopback answer takes well under 200 ms
	// otherwise, so a p99 of 200 ms or more here would need ten further
	// requests delayed by the machine as much as by the stall.
	if rep.ServiceTime.P99 >= 200*ms {
		t.Errorf("service time p99 = %v; want < 200 ms (only ~6 requests were stalled)", rep.ServiceTime.P99)
	}
	// The per-second rows show it too: the stalled second's p99.
	var worst time.Duration
	for _, s := range rep.Seconds {
		worst = max(worst, s.P99)
	}
	if worst < 200*ms {
		t.Errorf("worst per-second p99 = %v; want ≥ 200 ms", worst)
	}
}

func TestOpenLoopPoissonPlanIsReplayable(t *testing.T) {
	srv := newServer(t, nil)
	const seed = 99
	rep := start(t, t.Context(), load.Spec{
		Targets: load.URLs(srv.URL+"/a", srv.URL+"/b"), Rate: load.Constant{PerSecond: 200}, Arrivals: load.Poisson,
		Seed: seed, Duration: time.Second,
	}).Wait()
	p, _ := load.NewPacer(load.Constant{PerSecond: 200}, load.Poisson, seed, time.Second)
	var want uint64
	for ; ; want++ {
		if _, ok := p.Due(want); !ok {
			break
		}
	}
	if rep.Planned != want || rep.Sent+rep.Skipped != want {
		t.Errorf("planned %d (sent %d, skipped %d); the seed's plan has %d hits in 1 s", rep.Planned, rep.Sent, rep.Skipped, want)
	}
	if rep.Seed != seed || rep.Arrivals != load.Poisson || rep.Mode != "open" {
		t.Errorf("report: mode %s, arrivals %s, seed %d; want open, poisson, %d", rep.Mode, rep.Arrivals, rep.Seed, seed)
	}
	conns := srv.connections()
	var n int
	for _, v := range conns {
		n += len(v)
	}
	if uint64(n) != rep.Sent {
		t.Errorf("server saw %d requests; report says %d sent", n, rep.Sent)
	}
}

// Every way a request can fail is counted by kind; none stops the run.
func TestErrorsCountedByKind(t *testing.T) {
	ok := newServer(t, nil)
	status := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	hang := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	// reset answers with RST (SO_LINGER 0); eof closes without a word.
	reset := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		}
	})
	eof := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close()
		}
	})
	refused := closedPort(t)
	targets := load.URLs(ok.URL, status.URL, status.URL+"/missing", hang.URL, reset.URL, eof.URL, refused)
	rep := start(t, t.Context(), load.Spec{
		Targets: targets, Users: len(targets), Delay: 40 * ms, Duration: 1500 * ms, Timeout: 150 * ms,
	}).Wait()

	for _, k := range []load.ErrorKind{load.KindStatus5xx, load.KindStatus4xx, load.KindTimeout, load.KindReset, load.KindEOF, load.KindRefused} {
		if rep.ByKind[k] == 0 {
			t.Errorf("no %s errors counted; by kind: %v; samples %q", k, rep.ByKind, rep.ErrorSamples)
		}
	}
	if rep.ByKind[load.KindOther] != 0 {
		t.Errorf("%d errors of kind other: %q; want each failure named", rep.ByKind[load.KindOther], rep.ErrorSamples)
	}
	if rep.OK == 0 || rep.Status[200] != rep.OK || rep.Status[503] == 0 || rep.Status[404] == 0 {
		t.Errorf("ok %d, status %v; want 200, 404 and 503 answers counted", rep.OK, rep.Status)
	}
	var sum uint64
	for _, n := range rep.ByKind {
		sum += n
	}
	if sum != rep.Errors || rep.OK+rep.Errors != rep.Sent {
		t.Errorf("ok %d + errors %d (by kind %d) vs sent %d; want every request accounted for", rep.OK, rep.Errors, sum, rep.Sent)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Closed loop", "99.990%", "Errors: timeout", "refused", "Status: 200 ×"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// closedPort is a loopback URL where nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/"
}

func TestStopIsSafeAndStatsAreLive(t *testing.T) {
	srv := newServer(t, nil)
	run := start(t, t.Context(), load.Spec{Targets: load.URLs(srv.URL), Users: 2, Delay: 10 * ms})
	deadline := time.Now().Add(10 * time.Second)
	for run.Stats().Total.Sent < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", run.Stats())
		}
		time.Sleep(20 * ms)
	}
	snap := run.Stats()
	if snap.Start.IsZero() || snap.Elapsed <= 0 || snap.Total.OK == 0 || snap.Current.Sent+snap.Last.Sent == 0 {
		t.Errorf("snapshot %+v; want start, elapsed and counts", snap)
	}
	for run.Stats().Completed < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second completed: %+v", run.Stats())
		}
		time.Sleep(50 * ms)
	}
	if secs := run.Seconds(1); len(secs) == 0 || secs[0].Index != 1 || secs[0].Sent == 0 {
		t.Errorf("Seconds(1) = %+v; want the complete seconds from index 1", secs)
	}
	run.Stop()
	run.Stop()
	rep := run.Wait()
	if rep != run.Wait() || rep.Sent < 10 {
		t.Errorf("Wait: %v sent; want the same report each time, ≥ 10 sent", rep.Sent)
	}
	after := run.Stats()
	if after.InFlight != 0 || after.Total.Sent != rep.Sent {
		t.Errorf("stats after the end: %+v; want nothing in flight and the report's totals", after.Total)
	}
}

func TestCancelEndsRequestsInFlight(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	run := start(t, ctx, load.Spec{Targets: load.URLs(srv.URL), Users: 3, Delay: 10 * ms})
	for srv.inFlight.Load() < 3 {
		time.Sleep(5 * ms)
	}
	cancel()
	select {
	case <-run.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("run did not end within 5 s of its context")
	}
	rep := run.Wait()
	if rep.ByKind[load.KindCanceled] != 3 || rep.Errors != 3 {
		t.Errorf("sent %d, by kind %v (%q); want the 3 requests in flight counted as canceled", rep.Sent, rep.ByKind, rep.ErrorSamples)
	}
}

func TestStopDrainsThenCancels(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, _ time.Time) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	run := start(t, t.Context(), load.Spec{Targets: load.URLs(srv.URL), Rate: load.Constant{PerSecond: 50}, Drain: 100 * ms})
	for srv.inFlight.Load() < 5 {
		time.Sleep(5 * ms)
	}
	run.Stop()
	rep := run.Wait()
	if rep.ByKind[load.KindCanceled] == 0 || rep.ByKind[load.KindCanceled] != rep.Sent {
		t.Errorf("sent %d, by kind %v; want every hung request canceled after the drain", rep.Sent, rep.ByKind)
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	srv := newServer(t, nil)
	rep := start(t, t.Context(), load.Spec{
		Targets: []load.Target{{Service: "text", URL: srv.URL}}, Rate: load.Linear{From: 50, To: 150}, Duration: time.Second,
	}).Wait()
	if rep.Rate != "50..150/1s" {
		t.Errorf("rate %q; want the ramp over the run's duration, 50..150/1s", rep.Rate)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"p99_99_ms"`, `"duration_ms": 1000`, `"achieved_per_second"`, `"service": "text"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("JSON lacks %s:\n%s", key, buf.String())
		}
	}
	var back load.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Duration != rep.Duration.Round(time.Microsecond) && back.Duration != rep.Duration {
		t.Errorf("duration %v after JSON; want %v", back.Duration, rep.Duration)
	}
	if back.Latency.P99 != rep.Latency.P99 || back.Sent != rep.Sent || back.Planned != 100 || len(back.Seconds) != len(rep.Seconds) {
		t.Errorf("after JSON: p99 %v sent %d planned %d; want %v %d 100", back.Latency.P99, back.Sent, back.Planned, rep.Latency.P99, rep.Sent)
	}
}

func TestStartRejectsBadSpecs(t *testing.T) {
	u := load.URLs("http://127.0.0.1:1/")
	for _, tc := range []struct {
		name string
		spec load.Spec
		want string
	}{
		{"no targets", load.Spec{}, "no targets"},
		{"bad URL", load.Spec{Targets: load.URLs("localhost:8080")}, "target 1 (localhost:8080): want an http:// or https:// URL"},
		{"bad method", load.Spec{Targets: u, Method: "GE T"}, `method "GE T"`},
		{"negative delay", load.Spec{Targets: u, Delay: -ms}, "delay -1ms is negative"},
		{"negative users", load.Spec{Targets: u, Users: -1}, "users -1 is negative"},
		{"users with a rate", load.Spec{Targets: u, Users: 3, Rate: load.Constant{PerSecond: 1}}, "closed-loop settings"},
		{"connections without a rate", load.Spec{Targets: u, Connections: 3}, "open-loop settings"},
		{"ramp without length", load.Spec{Targets: u, Rate: load.Linear{From: 1, To: 2}}, "ramp 1..2 has no length"},
		{"zero rate", load.Spec{Targets: u, Rate: load.Constant{}}, "must be finite and > 0"},
		{"bad arrivals", load.Spec{Targets: u, Rate: load.Constant{PerSecond: 1}, Arrivals: "bursty"}, `arrivals "bursty"`},
	} {
		_, err := load.Start(t.Context(), tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Start error = %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	urls := map[string]string{"text": "http://127.0.0.1:1/", "video": "http://127.0.0.1:2/", "broken": ""}
	got, err := load.Resolve(urls, []string{"video", "text"})
	want := []load.Target{{Service: "video", URL: urls["video"]}, {Service: "text", URL: urls["text"]}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Resolve = %v, %v; want %v", got, err, want)
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, "no service names"},
		{[]string{"text", "nope"}, `"nope": no such service (have broken, text, video)`},
		{[]string{"broken"}, "has no URL"},
	} {
		if _, err := load.Resolve(urls, tc.names); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%v) error = %v; want one containing %q", tc.names, err, tc.want)
		}
	}
}

// TestClosedLoopEveryTarget: the seed's tool with several URLs sends to
// each of them on every tick, one after the other; without EveryTarget a
// tick goes to the next URL only.
func TestClosedLoopEveryTarget(t *testing.T) {
	const users, delay, dur = 2, 100 * ms, 2 * time.Second
	ticks := int(users * (dur / delay)) // 40
	for _, every := range []bool{true, false} {
		srvs := []*server{newServer(t, nil), newServer(t, nil), newServer(t, nil)}
		rep := start(t, t.Context(), load.Spec{
			Targets: load.URLs(srvs[0].URL, srvs[1].URL, srvs[2].URL), Users: users, Delay: delay, Duration: dur, EveryTarget: every,
		}).Wait()
		perURL := ticks
		if !every {
			perURL = ticks / 3
		}
		for i, s := range srvs {
			n := 0
			for _, at := range s.connections() {
				n += len(at)
			}
			// A tick can be lost to a late wake-up at the end of the window.
			if n > perURL+1 || n < perURL-4 {
				t.Errorf("EveryTarget %v: URL %d got %d requests; want about %d", every, i, n, perURL)
			}
			if every && s.maxIn.Load() > users {
				t.Errorf("URL %d saw %d requests in flight; want at most one per user", i, s.maxIn.Load())
			}
		}
		if rep.EveryTarget != every || rep.Planned != rep.Sent+rep.Skipped {
			t.Errorf("report: every_target %v, planned %d, sent %d, skipped %d", rep.EveryTarget, rep.Planned, rep.Sent, rep.Skipped)
		}
	}
}
