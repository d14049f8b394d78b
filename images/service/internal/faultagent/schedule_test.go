package faultagent_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// Bounds on the agent's clock. A timer fires no earlier than planned; it
// fires late by scheduler latency plus the time to switch the behaviour on or
// off (adding or removing a toxic on every live connection, which hands
// chunks between several goroutines per connection). On this 2-core machine
// we saw a few ms when idle and up to ~375 ms with -race under a load
// average of 30 (parallel builds); 500 ms is generous and still well inside
// every test window (≥ 1.5 s where it matters), and an edge taken early (e.g.
// switched on at push time) fails whatever the bound.
const (
	edgeLate  = 500 * time.Millisecond
	leadTime  = 500 * time.Millisecond // between push and planned start
	pollLimit = 10 * time.Second
)

// checkWindow asserts that the fault went on and off by its own clock: not
// before the planned edges and at most edgeLate after them.
func checkWindow(t *testing.T, st agent.Status) {
	t.Helper()
	checkWindowSlack(t, st, edgeLate)
}

// checkWindowSlack is checkWindow with a different bound for the start, for
// behaviours whose switch-on takes time of its own.
func checkWindowSlack(t *testing.T, st agent.Status, startLate time.Duration) {
	t.Helper()
	if st.AppliedStart == nil || st.AppliedEnd == nil {
		t.Fatalf("fault %s: applied window missing: %+v", st.ID, st)
	}
	for _, e := range []struct {
		name             string
		planned, applied time.Time
		bound            time.Duration
	}{{"start", st.Start, *st.AppliedStart, startLate}, {"end", st.End, *st.AppliedEnd, edgeLate}} {
		late := e.applied.Sub(e.planned)
		if late < 0 || late > e.bound {
			t.Errorf("fault %s: applied %s %s after planned (want 0 to %s)", st.ID, e.name, late, e.bound)
		}
	}
	t.Logf("fault %s: on %s late, off %s late", st.ID, ms(st.AppliedStart.Sub(st.Start)), ms(st.AppliedEnd.Sub(st.End)))
}

// runWindow pushes f, runs load (if any) from now until the fault ends plus
// tail, checks the agent and the metric while the fault is on, and returns
// the final status and the load's samples.
func runWindow(t *testing.T, r *rig, f agent.Fault, tail time.Duration, load func(stop time.Time) []sample) (agent.Status, []sample) {
	t.Helper()
	return runWindowSlack(t, r, f, tail, edgeLate, load)
}

func runWindowSlack(t *testing.T, r *rig, f agent.Fault, tail, startLate time.Duration, load func(stop time.Time) []sample) (agent.Status, []sample) {
	t.Helper()
	st := r.put(t, f)
	if st.Phase != agent.PhasePending {
		t.Fatalf("fault %s pushed %s before its start: phase %s, want pending", f.ID, leadTime, st.Phase)
	}
	for name, v := range st.Effect {
		if v != 0 && name != "workers" {
			t.Errorf("pending fault %s already has effect %s = %v", f.ID, name, v)
		}
	}
	samples := make(chan []sample, 1)
	go func() {
		if load == nil {
			samples <- nil
			return
		}
		samples <- load(f.End.Add(tail))
	}()
	r.waitPhase(t, f.ID, agent.PhaseActive, pollLimit)
	if v, ok := metricValue(t, r.reg, "vecro_fault_active", map[string]string{"id": f.ID, "behavior": f.Behavior, "vecro_service": "svc"}); !ok || v != 1 {
		t.Errorf("vecro_fault_active{id=%q} = %v (found %v) while on, want 1", f.ID, v, ok)
	}
	ss := <-samples
	final := r.waitPhase(t, f.ID, agent.PhaseDone, pollLimit)
	if v, ok := metricValue(t, r.reg, "vecro_fault_active", map[string]string{"id": f.ID}); !ok || v != 0 {
		t.Errorf("vecro_fault_active{id=%q} = %v (found %v) after the end, want 0", f.ID, v, ok)
	}
	checkWindowSlack(t, final, startLate)
	// The metrics are read from the same records as GET /faults.
	final = r.waitPhase(t, f.ID, agent.PhaseDone, pollLimit)
	for name, v := range final.Effect {
		if m, ok := metricValue(t, r.reg, "vecro_fault_effect", map[string]string{"id": f.ID, "effect": name}); !ok || m != v {
			t.Errorf("vecro_fault_effect{id=%q,effect=%q} = %v (found %v), GET /faults says %v", f.ID, name, m, ok, v)
		}
	}
	return final, ss
}

// split classifies samples against a fault's window: before holds requests
// that finished before the planned start, after those sent after the applied
// end, inside those sent after the applied start and before cutoff.
func split(ss []sample, st agent.Status, cutoff time.Time) (before, inside, after []sample) {
	for _, s := range ss {
		switch {
		case s.done.Before(st.Start):
			before = append(before, s)
		case s.sent.After(*st.AppliedEnd):
			after = append(after, s)
		case s.sent.After(*st.AppliedStart) && s.sent.Before(cutoff):
			inside = append(inside, s)
		}
	}
	return before, inside, after
}

// mostlyFast checks requests the fault did not touch. Their latency is the
// bare round trip (about 1 ms here, ~100 ms for 100 kB with -race under
// load), but a loaded shared machine stalls a few; we ask that at least 90%
// finish within limit, which a fault still in effect (every request ≥ limit)
// cannot pass.
func mostlyFast(t *testing.T, what string, ss []sample, limit time.Duration) {
	t.Helper()
	if len(ss) < 3 {
		t.Errorf("%s: only %d requests, want ≥ 3", what, len(ss))
		return
	}
	var fast int
	for _, s := range ss {
		if s.err != nil {
			t.Errorf("%s: request failed: %v", what, s.err)
		}
		if s.latency() < limit {
			fast++
		}
	}
	if float64(fast) < 0.9*float64(len(ss)) {
		t.Errorf("%s: %d of %d requests under %s, want ≥ 90%%", what, fast, len(ss), limit)
	}
}

func TestNetDelayOnSchedule(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const delay, jitter = 300 * time.Millisecond, 50 * time.Millisecond
	start := time.Now().Add(leadTime)
	f := fault(t, "slow.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(delay), Jitter: behavior.Duration(jitter)}, start, start.Add(2*time.Second))
	st, ss := runWindow(t, r, f, 700*time.Millisecond, func(stop time.Time) []sample {
		return hammer(r.service+"/", 3, 30*time.Millisecond, stop)
	})
	// A request that reaches the proxy after the toxic is in place and whose
	// longest possible delay ends before the planned end (the earliest the
	// toxic can leave) is delayed by its draw: at least delay − jitter.
	before, inside, after := split(ss, st, st.End.Add(-delay-jitter))
	if len(inside) < 3 {
		t.Fatalf("only %d requests inside the window", len(inside))
	}
	for _, s := range inside {
		if s.err != nil || s.latency() < delay-jitter {
			t.Errorf("request sent %s after the applied start took %s (err %v), want ≥ %s",
				s.sent.Sub(*st.AppliedStart), ms(s.latency()), s.err, delay-jitter)
		}
	}
	mostlyFast(t, "before the window", before, delay-jitter)
	mostlyFast(t, "after the window", after, delay-jitter)

	n := st.Effect["requests_delayed"]
	if n < float64(len(inside)) {
		t.Errorf("requests_delayed = %v, want ≥ %d", n, len(inside))
	}
	if d := st.Effect["mean_drawn_delay_seconds"]; d < (delay-jitter).Seconds() || d > (delay+jitter).Seconds() {
		t.Errorf("mean_drawn_delay_seconds = %v, want within %s ± %s", d, delay, jitter)
	}
	if d := st.Effect["mean_added_delay_seconds"]; d <= 0 || d > (delay+jitter+edgeLate).Seconds() {
		t.Errorf("mean_added_delay_seconds = %v, want in (0, %s]", d, delay+jitter+edgeLate)
	}
	t.Logf("%d before, %d inside, %d after; effect %v", len(before), len(inside), len(after), st.Effect)
}

func TestNetLossOnSchedule(t *testing.T) {
	t.Parallel()
	t.Run("all lost: held until the end", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		start := time.Now().Add(leadTime)
		f := fault(t, "blackhole.net-loss", "net-loss", behavior.NetLoss{Percent: 100}, start, start.Add(1500*time.Millisecond))
		// A client's request sent while the toxic is on is held to the end,
		// so fresh clients are started once the fault is on.
		st, ss := runWindow(t, r, f, 0, func(stop time.Time) []sample {
			ss := hammer(r.service+"/", 2, 30*time.Millisecond, f.Start.Add(-100*time.Millisecond))
			r.waitPhase(t, f.ID, agent.PhaseActive, pollLimit)
			ss = append(ss, burst(r.service+"/", 5)...)
			r.waitPhase(t, f.ID, agent.PhaseDone, pollLimit)
			return append(ss, hammer(r.service+"/", 2, 30*time.Millisecond, time.Now().Add(500*time.Millisecond))...)
		})
		// Every chunk is lost 15 times (hold ≈ 15 min), so a request that
		// reaches the toxic while it is on completes only when the fault
		// ends, which is never before the planned end.
		before, inside, after := split(ss, st, st.End)
		if len(inside) < 3 {
			t.Fatalf("only %d requests inside the window", len(inside))
		}
		for _, s := range inside {
			if s.err != nil || s.done.Before(st.End) {
				t.Errorf("request sent %s after the applied start finished %s before the planned end (err %v)",
					s.sent.Sub(*st.AppliedStart), st.End.Sub(s.done), s.err)
			}
		}
		mostlyFast(t, "before the window", before, 200*time.Millisecond)
		mostlyFast(t, "after the window", after, 200*time.Millisecond)
		if st.Effect["chunks_lost"] != st.Effect["chunks_seen"] || st.Effect["retransmissions"] != 15*st.Effect["chunks_lost"] {
			t.Errorf("effect %v: want every chunk lost 15 times", st.Effect)
		}
	})
	t.Run("30 percent", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		const p = 0.3
		start := time.Now().Add(leadTime)
		f := fault(t, "lossy.net-loss", "net-loss", behavior.NetLoss{Percent: 100 * p}, start, start.Add(3*time.Second))
		st, ss := runWindow(t, r, f, 300*time.Millisecond, func(stop time.Time) []sample {
			return hammer(r.service+"/", 8, 10*time.Millisecond, stop)
		})
		// Each chunk is lost with probability p independently (seeded
		// draws), so the lost fraction is binomial: within 5 standard
		// deviations with overwhelming probability.
		seen, lost := st.Effect["chunks_seen"], st.Effect["chunks_lost"]
		if seen < 30 {
			t.Fatalf("only %v chunks seen", seen)
		}
		sd := math.Sqrt(p * (1 - p) / seen)
		if frac := lost / seen; math.Abs(frac-p) > 5*sd {
			t.Errorf("lost %v of %v chunks (%.3f), want %.2f ± %.3f", lost, seen, frac, p, 5*sd)
		}
		if st.Effect["retransmissions"] < lost || st.Effect["added_delay_seconds"] <= 0 {
			t.Errorf("effect %v: want retransmissions ≥ chunks_lost and some added delay", st.Effect)
		}
		// A request is slowed only by a loss: its latency is either the bare
		// round trip or at least one RTO.
		var slow int
		for _, s := range ss {
			if s.err != nil {
				t.Errorf("request failed: %v", s.err)
			}
			if s.latency() >= 190*time.Millisecond {
				slow++
			}
		}
		if slow == 0 {
			t.Errorf("no request of %d was slowed by an RTO", len(ss))
		}
		t.Logf("effect %v; %d of %d requests ≥ 190ms", st.Effect, slow, len(ss))
	})
}

func TestNetRateOnSchedule(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const rate, size = 200_000, 100_000 // bytes/s, bytes per response
	start := time.Now().Add(leadTime)
	f := fault(t, "thin.net-rate", "net-rate", behavior.NetRate{Rate: rate}, start, start.Add(2500*time.Millisecond))
	st, ss := runWindow(t, r, f, 700*time.Millisecond, func(stop time.Time) []sample {
		return hammer(r.service+"/bytes?n="+strconv.Itoa(size), 2, 20*time.Millisecond, stop)
	})
	// The pacer lets at most one 10 ms piece go ahead of the rate, so a
	// response sent while the limit is on and whose transfer at the rate
	// fits before the planned end cannot be faster than (size−piece)/rate.
	minTime := time.Duration(float64(size-rate/100) / rate * float64(time.Second))
	before, inside, after := split(ss, st, st.End.Add(-2*minTime))
	if len(inside) < 2 {
		t.Fatalf("only %d requests inside the window", len(inside))
	}
	for _, s := range inside {
		if s.err != nil || s.latency() < minTime {
			t.Errorf("%d bytes sent %s after the applied start took %s (err %v), want ≥ %s",
				size, s.sent.Sub(*st.AppliedStart), ms(s.latency()), s.err, minTime)
		}
	}
	mostlyFast(t, "before the window", before, minTime)
	mostlyFast(t, "after the window", after, minTime)
	// Responses that finished before the planned end went through the
	// limiter whole (bytes still queued in front of it when it is removed
	// pass unthrottled and are not counted).
	var whole int
	for _, s := range inside {
		if s.done.Before(st.End) {
			whole++
		}
	}
	if b := st.Effect["bytes_throttled"]; b < float64(size*whole) {
		t.Errorf("bytes_throttled = %v, want ≥ %d (%d whole responses)", b, size*whole, whole)
	}
	// Everything that passed the limiter passed within the applied window,
	// at no more than the rate (plus one piece per direction).
	if on := st.AppliedEnd.Sub(*st.AppliedStart).Seconds(); st.Effect["bytes_throttled"] > rate*on*2+2*rate/100 {
		t.Errorf("bytes_throttled = %v in %.2fs: faster than %d B/s per direction", st.Effect["bytes_throttled"], on, rate)
	}
}

func TestHTTPAbortOnSchedule(t *testing.T) {
	t.Parallel()
	t.Run("all", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		start := time.Now().Add(leadTime)
		f := fault(t, "down.http-abort", "http-abort", behavior.HTTPAbort{Percent: 100, Status: 503}, start, start.Add(1500*time.Millisecond))
		st, ss := runWindow(t, r, f, 500*time.Millisecond, func(stop time.Time) []sample {
			return hammer(r.service+"/", 2, 20*time.Millisecond, stop)
		})
		var inside, outside int
		for _, s := range ss {
			if s.err != nil {
				t.Fatalf("request failed: %v", s.err)
			}
			switch {
			case s.sent.After(*st.AppliedStart) && s.done.Before(st.End):
				inside++
				if s.code != 503 {
					t.Errorf("request inside the window: %d, want 503", s.code)
				}
			case s.done.Before(st.Start) || s.sent.After(*st.AppliedEnd):
				outside++
				if s.code != 200 {
					t.Errorf("request outside the window: %d, want 200", s.code)
				}
			}
		}
		if inside < 5 || outside < 5 {
			t.Errorf("%d requests inside, %d outside; want ≥ 5 each", inside, outside)
		}
		if st.Effect["requests_aborted"] < float64(inside) || st.Effect["requests_aborted"] != st.Effect["requests_seen"] {
			t.Errorf("effect %v: want every request seen aborted, ≥ %d", st.Effect, inside)
		}
	})
	t.Run("30 percent", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		const p = 0.3
		start := time.Now().Add(leadTime)
		f := fault(t, "flaky.http-abort", "http-abort", behavior.HTTPAbort{Percent: 100 * p, Status: 500}, start, start.Add(1500*time.Millisecond))
		st, ss := runWindow(t, r, f, 0, func(stop time.Time) []sample {
			return hammer(r.service+"/", 4, 5*time.Millisecond, stop)
		})
		var n500 int
		for _, s := range ss {
			if s.code == 500 {
				n500++
			}
		}
		seen, aborted := st.Effect["requests_seen"], st.Effect["requests_aborted"]
		if float64(n500) != aborted {
			t.Errorf("%d responses were 500, agent counts %v aborted", n500, aborted)
		}
		sd := math.Sqrt(p * (1 - p) / seen)
		if frac := aborted / seen; seen < 30 || math.Abs(frac-p) > 5*sd {
			t.Errorf("aborted %v of %v (%.3f), want %.2f ± %.3f (≥ 30 requests)", aborted, seen, frac, p, 5*sd)
		}
	})
}

// TestCPUStressOnSchedule is not parallel: burning CPU beside the timing
// tests would slow their timers for no gain.
func TestCPUStressOnSchedule(t *testing.T) {
	for _, method := range []string{"sqrt", "int64", "float", "matrixprod"} {
		t.Run(method, func(t *testing.T) {
			r := newRig(t)
			const load, workers, window = 50, 2, 1500 * time.Millisecond
			start := time.Now().Add(leadTime)
			f := fault(t, "hot-"+method+".cpu-stress", "cpu-stress", behavior.CPUStress{Load: load, Workers: workers, Method: method}, start, start.Add(window))
			st, _ := runWindow(t, r, f, 0, nil)
			// Nominal CPU: workers × load × window. The threads get less
			// when the machine is busy: with R runnable threads per core a
			// thread gets about 1/R of one, and we tolerate R up to 10 (5%
			// of nominal). They can never get more than the wall-clock busy
			// time, nominal plus one slice per worker.
			nominal := float64(workers) * load / 100 * st.AppliedEnd.Sub(*st.AppliedStart).Seconds()
			cpu := st.Effect["cpu_seconds"]
			if cpu < 0.05*nominal || cpu > nominal+workers*0.1 {
				t.Errorf("cpu_seconds = %.3f, want between 5%% of nominal %.3f and nominal + one slice per worker", cpu, nominal)
			}
			// Off means off: nothing burns after the applied end.
			time.Sleep(300 * time.Millisecond)
			later, err := r.client.Get(context.Background(), f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if later.Effect["cpu_seconds"] != cpu {
				t.Errorf("cpu_seconds grew after the end: %v → %v", cpu, later.Effect["cpu_seconds"])
			}
			t.Logf("cpu_seconds %.3f of nominal %.3f", cpu, nominal)
		})
	}
}

// TestIOStressOnSchedule is not parallel, for the same reason as the CPU
// test: it keeps two threads in write and fsync calls.
func TestIOStressOnSchedule(t *testing.T) {
	for _, method := range []string{"write", "fsync", "mixed"} {
		t.Run(method, func(t *testing.T) {
			r := newRig(t)
			start := time.Now().Add(leadTime)
			f := fault(t, "disk-"+method+".io-stress", "io-stress", behavior.IOStress{Method: method, Workers: 2}, start, start.Add(time.Second))
			files := func() []string {
				m, _ := filepath.Glob(filepath.Join(r.dataDir, ".vecro-io-stress-*"))
				return m
			}
			st, _ := runWindow(t, r, f, 0, func(time.Time) []sample {
				deadline := time.Now().Add(pollLimit)
				for len(files()) < 2 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if n := len(files()); n != 2 {
					t.Errorf("%d io-stress files while on, want 2", n)
				}
				return nil
			})
			if n := files(); len(n) != 0 {
				t.Errorf("files left after the end: %v", n)
			}
			written, syncs := st.Effect["io_bytes_written"], st.Effect["io_syncs"]
			if written <= 0 || st.Effect["io_errors"] != 0 {
				t.Errorf("effect %v: want bytes written and no errors", st.Effect)
			}
			if (method == "write") != (syncs == 0) {
				t.Errorf("method %s: %v fsyncs", method, syncs)
			}
			time.Sleep(200 * time.Millisecond)
			later, err := r.client.Get(context.Background(), f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if later.Effect["io_bytes_written"] != written {
				t.Errorf("io_bytes_written grew after the end: %v → %v", written, later.Effect["io_bytes_written"])
			}
			t.Logf("effect %v", st.Effect)
		})
	}
}

// TestMemStressOnSchedule is not parallel: it reads the process's RSS.
func TestMemStressOnSchedule(t *testing.T) {
	if _, err := os.Stat("/proc/self/statm"); err != nil {
		t.Skip("needs /proc/self/statm (Linux) to read RSS")
	}
	r := newRig(t, withLog(t))
	const size = 64 << 20
	rss0 := rss(t)
	start := time.Now().Add(leadTime)
	f := fault(t, "fat.mem-stress", "mem-stress", behavior.MemStress{Size: size}, start, start.Add(2*time.Second))
	var rssOn int64
	// The applied start comes after the last page is touched: 16,384 page
	// faults, about 100 ms here and several times that when the machine is
	// loaded; allow a second. Switched on at push time it would still fail
	// (applied before planned).
	st, _ := runWindowSlack(t, r, f, 0, time.Second, func(time.Time) []sample {
		r.waitPhase(t, f.ID, agent.PhaseActive, pollLimit)
		rssOn = rss(t)
		return nil
	})
	rssOff := rss(t)
	// Touched pages are resident: RSS rises by about the size (other
	// allocations of the test move it by a few MiB either way).
	if rssOn-rss0 < 60<<20 {
		t.Errorf("RSS rose by %d MiB while on, want ≥ 60 MiB", (rssOn-rss0)>>20)
	}
	if rssOn-rssOff < 32<<20 {
		t.Errorf("RSS fell by only %d MiB after the end, want ≥ 32 MiB", (rssOn-rssOff)>>20)
	}
	if st.Effect["memory_bytes_held"] != size {
		t.Errorf("memory_bytes_held = %v, want %d", st.Effect["memory_bytes_held"], size)
	}
	t.Logf("RSS %d → %d → %d MiB", rss0>>20, rssOn>>20, rssOff>>20)
}

func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestTTLExpiry pushes a fault and never calls the agent again until long
// after its end: the agent alone must have switched it off.
func TestTTLExpiry(t *testing.T) {
	t.Parallel()
	r := newRig(t, withLog(t))
	now := time.Now()
	f := fault(t, "ttl.http-abort", "http-abort", behavior.HTTPAbort{Percent: 100}, now, now.Add(700*time.Millisecond))
	r.put(t, f)
	// Only the service is called from here on.
	deadline := now.Add(pollLimit)
	for {
		code := get(t, r.service+"/")
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("service answered %d, want 503 until the fault expires and 200 after", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ended := time.Since(f.End); ended < 0 {
		t.Errorf("fault stopped %s before its end", -ended)
	}
	st, err := r.client.Get(context.Background(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != agent.PhaseDone {
		t.Errorf("phase %s, want done", st.Phase)
	}
	checkWindow(t, st)
	// A harness retrying the push after the fault ran gets its record, not
	// an error about the past.
	again := r.put(t, f)
	if again.Phase != agent.PhaseDone || !again.AppliedEnd.Equal(*st.AppliedEnd) {
		t.Errorf("repeated push after the end: %+v, want the done record", again)
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
