package workload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDrawDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		u             float64
		delay, jitter time.Duration
		want          time.Duration
	}{
		{0.5, 300 * ms, 50 * ms, 300 * ms},
		{0, 300 * ms, 50 * ms, 250 * ms},
		{0.75, 300 * ms, 50 * ms, 325 * ms},
		{0.25, 10 * ms, 0, 10 * ms},
		{0, 10 * ms, 30 * ms, 0}, // clamped: a wait cannot be negative
		{0.9, 0, 10 * ms, 8 * ms},
	}
	for _, tt := range tests {
		if got := DrawDelay(tt.u, tt.delay, tt.jitter); got != tt.want {
			t.Errorf("DrawDelay(%v, %s, %s) = %s, want %s", tt.u, tt.delay, tt.jitter, got, tt.want)
		}
	}
}

// drawn replays the delays a Workload with p would draw, through the same
// source and mapping as Run.
func drawn(t *testing.T, p Params, n int) []time.Duration {
	t.Helper()
	w, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = DrawDelay(w.rng.Float64(), p.Delay, p.Jitter)
	}
	return out
}

func TestDelayDrawsSeededUniform(t *testing.T) {
	p := Params{Delay: 300 * time.Millisecond, Jitter: 50 * time.Millisecond, Seed: 7}
	const n = 20000
	a, b := drawn(t, p, n), drawn(t, p, n)
	if !slices.Equal(a, b) {
		t.Fatal("two workloads with the same seed drew different delays")
	}
	if c := drawn(t, Params{Delay: p.Delay, Jitter: p.Jitter, Seed: 8}, n); slices.Equal(a, c) {
		t.Fatal("different seeds drew the same delays")
	}
	// Uniform on [250ms, 350ms]: every draw inside, and the count per tenth
	// of the range within 5 standard deviations of n/10 (binomial,
	// sd = sqrt(n·0.1·0.9) ≈ 42), which a correct source misses with
	// probability < 1e-5 per bin.
	var bins [10]int
	for _, d := range a {
		if d < 250*time.Millisecond || d > 350*time.Millisecond {
			t.Fatalf("draw %s outside 300ms ± 50ms", d)
		}
		bins[min(int((d-250*time.Millisecond)/(10*time.Millisecond)), 9)]++
	}
	sd := math.Sqrt(n * 0.1 * 0.9)
	for i, c := range bins {
		if math.Abs(float64(c)-n/10) > 5*sd {
			t.Errorf("bin %d holds %d draws, want %d ± %.0f: %v", i, c, n/10, 5*sd, bins)
		}
	}
}

func TestDelayWaits(t *testing.T) {
	w := newWorkload(t, Params{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1})
	const n = 20
	var total time.Duration
	for range n {
		start := time.Now()
		if err := w.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		// A timer never fires early: every wait is at least the smallest draw.
		if el < 10*time.Millisecond {
			t.Fatalf("Run took %s, less than the smallest possible delay 10ms", el)
		}
		total += el
	}
	// The mean draw is 20ms; a loaded 2-core machine adds scheduling delay,
	// never removes any: a generous upper bound only catches a gross error.
	if mean := total / n; mean > 100*time.Millisecond {
		t.Errorf("mean Run time %s for a 20ms ± 10ms delay", mean)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w = newWorkload(t, Params{Delay: time.Hour})
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	err := w.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context: err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("cancelled delay returned after %s", el)
	}
}

// processCPU is the CPU time of the whole process (user + system), an
// independent measure of the one BurnCPU steers by.
func processCPU(t *testing.T) time.Duration {
	return rusage(t, unix.RUSAGE_SELF)
}

func rusage(t *testing.T, who int) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPU5Burns4To6ms: cpu 5 must cost 4–6 ms of CPU per request. The mean
// is taken from the process's own rusage over many requests, so it also
// counts what the burn does not steer by (GC, the runtime's threads): in a
// quiet test process those add well under 0.5 ms per request, and the burn
// overshoots its target by at most one chunk (~15 µs), so a correct burn
// sits near 5.0–5.3 ms and the 4–6 ms bound only fails on a real error.
func TestCPU5Burns4To6ms(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the CPU burn is exact only on Linux (thread CPU clock)")
	}
	w := newWorkload(t, Params{CPU: 5})
	ctx := context.Background()

	t.Run("sequential", func(t *testing.T) {
		const n = 200
		per := make([]time.Duration, n)
		before := processCPU(t)
		for i := range per {
			// The test's own thread clock around each request shows the tail
			// (overshoot) that a mean hides.
			runtime.LockOSThread()
			t0 := rusage(t, unix.RUSAGE_THREAD)
			if err := w.Run(ctx); err != nil {
				t.Fatal(err)
			}
			per[i] = rusage(t, unix.RUSAGE_THREAD) - t0
			runtime.UnlockOSThread()
		}
		mean := (processCPU(t) - before) / n
		slices.Sort(per)
		p5, p50, p95 := per[n*5/100], per[n/2], per[n*95/100]
		t.Logf("cpu 5: process CPU per request %s; per request thread CPU p5 %s p50 %s p95 %s", mean, p5, p50, p95)
		if mean < 4*time.Millisecond || mean > 6*time.Millisecond {
			t.Errorf("mean CPU per request %s, want 4–6 ms", mean)
		}
		if p5 < 4*time.Millisecond || p95 > 6*time.Millisecond {
			t.Errorf("per-request CPU p5 %s p95 %s, want both within 4–6 ms", p5, p95)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		// More goroutines than cores: each request still costs its own 5 ms
		// of CPU, it just waits longer for it.
		const workers, each = 6, 30
		before := processCPU(t)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range each {
					if err := w.Run(ctx); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mean := (processCPU(t) - before) / (workers * each)
		t.Logf("cpu 5 with %d concurrent workers: process CPU per request %s", workers, mean)
		if mean < 4*time.Millisecond || mean > 6*time.Millisecond {
			t.Errorf("mean CPU per request %s, want 4–6 ms", mean)
		}
	})
}

func TestCPUStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := BurnCPU(ctx, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("a cancelled burn ran %s", el)
	}
}

// status reads a field of /proc/self/status in kB, e.g. VmRSS.
func status(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parse %s %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

func TestMemory64RaisesRSS(t *testing.T) {
	// Give back freed heap first, so that the allocation cannot reuse pages
	// that are already resident and the difference is the workload's.
	debug.FreeOSMemory()
	before := status(t, "VmRSS")
	w, err := New(Params{MemoryMiB: 64})
	if err != nil {
		t.Fatal(err)
	}
	after := status(t, "VmRSS")
	t.Logf("memory 64: VmRSS %d MiB → %d MiB", before>>20, after>>20)
	if after-before < 60<<20 {
		t.Fatalf("memory 64 raised VmRSS by %d MiB, want ≥ 60 MiB", (after-before)>>20)
	}

	// Kept live: a collection that returns every free page to the OS leaves
	// the workload's memory resident.
	runtime.GC()
	debug.FreeOSMemory()
	if held := status(t, "VmRSS"); held-before < 60<<20 {
		t.Fatalf("after GC VmRSS is %d MiB above the start, want ≥ 60 MiB: the memory was not kept live", (held-before)>>20)
	}
	if w.MemoryBytes() != 64<<20 {
		t.Errorf("MemoryBytes = %d", w.MemoryBytes())
	}

	// And only the workload held it: once closed it can be returned.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	if freed := status(t, "VmRSS"); freed-before > 30<<20 {
		t.Errorf("after Close VmRSS stays %d MiB above the start", (freed-before)>>20)
	}
}

// procIO reads /proc/self/io: bytes passed to write(2) (wchar), write calls
// (syscw) and bytes the process caused to be written to storage
// (write_bytes).
func procIO(t *testing.T) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			t.Fatalf("parse /proc/self/io line %q: %v", line, err)
		}
		out[k] = n
	}
	return out
}

// countingFile counts what WriteIO does to a real file.
type countingFile struct {
	f      *os.File
	writes int
	bytes  int64
	syncs  []int64 // bytes written at each sync
}

func (c *countingFile) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.writes++
	c.bytes += int64(n)
	return n, err
}

func (c *countingFile) Sync() error {
	c.syncs = append(c.syncs, c.bytes)
	return c.f.Sync()
}

func TestWriteIOWritesAndSyncs(t *testing.T) {
	for _, tt := range []struct {
		n     int
		syncs []int64
	}{
		{1, []int64{64 << 10}},
		{8, []int64{512 << 10}},
		{10, []int64{512 << 10, 640 << 10}},
		{17, []int64{512 << 10, 1024 << 10, 1088 << 10}},
	} {
		t.Run(fmt.Sprint("io ", tt.n), func(t *testing.T) {
			f, err := os.CreateTemp(t.TempDir(), "io")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c := &countingFile{f: f}
			n, err := WriteIO(context.Background(), c, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(tt.n) * 64 << 10
			if n != want || c.bytes != want || c.writes != tt.n*64 {
				t.Errorf("io %d: returned %d, wrote %d bytes in %d writes; want %d bytes in %d 1 KiB writes", tt.n, n, c.bytes, c.writes, want, tt.n*64)
			}
			if !slices.Equal(c.syncs, tt.syncs) {
				t.Errorf("io %d: synced at %v bytes, want %v", tt.n, c.syncs, tt.syncs)
			}
			if fi, err := f.Stat(); err != nil || fi.Size() != want {
				t.Errorf("file size %v (%v), want %d", fi.Size(), err, want)
			}
		})
	}
}

func TestRunIOReachesTheDisk(t *testing.T) {
	dir := t.TempDir()
	w := newWorkload(t, Params{IO: 16, DataDir: dir})
	const requests = 8
	want := int64(requests) * 16 * IOUnit
	before := procIO(t)
	for range requests {
		if err := w.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	after := procIO(t)
	wchar, syscw, disk := after["wchar"]-before["wchar"], after["syscw"]-before["syscw"], after["write_bytes"]-before["write_bytes"]
	t.Logf("io 16 × %d requests: wchar +%d, syscw +%d, write_bytes +%d (want %d bytes)", requests, wchar, syscw, disk, want)
	// The test's own writes (logs) only add to these counters.
	if wchar < want || syscw < int64(requests*16*64) {
		t.Errorf("write(2) saw %d bytes in %d calls, want ≥ %d bytes in ≥ %d calls", wchar, syscw, want, requests*16*64)
	}
	// fsync forces the bytes to the device before the file is deleted, so
	// they count as written to storage; tmpfs has no device to count.
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && fs.Type != unix.TMPFS_MAGIC && disk < want {
		t.Errorf("write_bytes grew by %d, want ≥ %d: the data was not synced to the device", disk, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("io files left behind in the data dir: %v", entries)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		p    Params
		want string
	}{
		{Params{CPU: -1}, "negative amount"},
		{Params{Delay: -time.Second}, "must not be negative"},
		{Params{IO: 1, DataDir: "/nonexistent/dir"}, "data dir"},
		{Params{IO: 1, DataDir: "/proc/self/status"}, "not a directory"},
	} {
		_, err := New(tt.p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tt.p, err, tt.want)
		}
	}
}

func TestPayload(t *testing.T) {
	a := newWorkload(t, Params{Net: 513, Seed: 3})
	b := newWorkload(t, Params{Net: 513, Seed: 3})
	if len(a.Payload()) != 256 {
		t.Errorf("net 513: payload %d bytes, want 256", len(a.Payload()))
	}
	if string(a.Payload()) != string(b.Payload()) {
		t.Error("same seed, different payloads")
	}
	if n := len(newWorkload(t, Params{}).Payload()); n != 0 {
		t.Errorf("net 0: payload %d bytes", n)
	}
}

func newWorkload(t testing.TB, p Params) *Workload {
	t.Helper()
	w, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}
