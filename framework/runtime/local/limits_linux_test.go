package local

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/testutil"
)

// needLimits skips where this machine cannot enforce limits (not root, no
// cgroup controllers): there the runtime says so and runs unlimited. CI's
// machine enforces them, so there it fails.
func needLimits(t *testing.T, r *Runtime) {
	t.Helper()
	if lim := r.Limits(); !lim.Enforced {
		testutil.SkipOrFail(t, "resource limits are not enforced here: %s", lim.How)
	}
}

// procCPU is the process's user+system CPU time from /proc/PID/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// Fields after comm: state(0) … utime(11) stime(12), in clock ticks
	// (USER_HZ, 100 on Linux).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// TestCPULimitEnforced drives a service whose requests need far more than
// its 200m CPU limit and checks the kernel held it to the limit.
func TestCPULimitEnforced(t *testing.T) {
	r := newRuntime(t, Options{Cgroups: CgroupsOn})
	sys := &spec.System{Name: "burn", Services: []spec.Service{{
		Name: "burn", Type: spec.TypeBase,
		Workload:  spec.Workload{CPU: 20},
		Resources: spec.Resources{CPU: 200},
	}}}
	dep, err := r.Start(context.Background(), sys)
	if errors.As(err, new(errNoCgroups)) {
		testutil.SkipOrFail(t, "resource limits are not enforced here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Metrics.Close()
	needLimits(t, r)
	if !strings.HasPrefix(dep.Isolation, "cgroup v") {
		t.Errorf("Deployment.Isolation = %q with limits enforced, want the mechanism", dep.Isolation)
	}
	r.mu.Lock()
	p, cg := r.procs[0], r.cg
	r.mu.Unlock()

	url := dep.Services[0].URL
	cpu0, t0 := procCPU(t, p.pgid), time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	used, elapsed := procCPU(t, p.pgid)-cpu0, time.Since(t0)
	// CFS gives at most 2 ms per 10 ms period, a hard cap: the window
	// touches at most two periods more than it spans (4 ms), and /proc
	// counts in 10 ms ticks at both reads; 120 ms covers all of that five
	// times over.
	// Unlimited, four callers would use both cores: about 6 s of CPU.
	bound := time.Duration(0.2*float64(elapsed)) + 120*time.Millisecond
	t.Logf("4 busy callers for %s: the 200m service used %s CPU (bound %s)", elapsed.Round(time.Millisecond), used, bound)
	if used > bound {
		t.Errorf("the service used %s CPU in %s, more than its 200m limit allows (%s)", used, elapsed, bound)
	}
	if cg.v2 {
		return
	}
	stat, err := os.ReadFile(filepath.Join(cg.cpuDir, p.name, "cpu.stat"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stat), "nr_throttled") || strings.Contains(string(stat), "nr_throttled 0\n") {
		t.Errorf("cpu.stat shows no throttling:\n%s", stat)
	}
}

// TestMemoryLimitEnforced starts a service whose workload (30 MiB, touched)
// fits its 32Mi limit on paper but not with the process's own memory on
// top: the kernel kills it, as it OOM-kills a pod, and Start reports it.
func TestMemoryLimitEnforced(t *testing.T) {
	r := newRuntime(t, Options{Cgroups: CgroupsOn})
	sys := &spec.System{Name: "hog", Services: []spec.Service{{
		Name: "hog", Type: spec.TypeBase,
		Workload:  spec.Workload{Memory: 30 << 20},
		Resources: spec.Resources{Memory: 32 << 20},
	}}}
	_, err := r.Start(context.Background(), sys)
	if errors.As(err, new(errNoCgroups)) {
		testutil.SkipOrFail(t, "resource limits are not enforced here: %v", err)
	}
	needLimits(t, r)
	var de *DeathError
	if !errors.As(err, &de) || !strings.Contains(de.Status, "killed") || !de.OOMKilled || !strings.Contains(err.Error(), "OOMKilled") {
		t.Fatalf("Start = %v, want the instance OOM-killed", err)
	}
	t.Logf("reported: %v", err)
}

// TestWithoutLimits: with cgroups off, each process gets GOMAXPROCS from
// its CPU limit instead, and the token only in its environment.
func TestWithoutLimits(t *testing.T) {
	r := newRuntime(t, Options{Cgroups: CgroupsOff})
	sys := &spec.System{Name: "free", Services: []spec.Service{
		{Name: "a", Type: spec.TypeBase, Resources: spec.Resources{CPU: 1500}},
		{Name: "b", Type: spec.TypeBase},
	}}
	dep, err := r.Start(context.Background(), sys)
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Metrics.Close()
	if lim := r.Limits(); lim.Enforced || !strings.Contains(lim.How, "not enforced") {
		t.Errorf("Limits() = %+v with cgroups off", lim)
	}
	// The dataset records it, and experiment.Run warns from it.
	if !strings.HasPrefix(dep.Isolation, "none: cgroups are off") {
		t.Errorf("Deployment.Isolation = %q with cgroups off, want none: and why", dep.Isolation)
	}
	want := map[string]string{"a-0": "GOMAXPROCS=2", "b-0": "GOMAXPROCS=1"}
	r.mu.Lock()
	procs := r.procs
	r.mu.Unlock()
	for _, p := range procs {
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pgid), "environ"))
		if err != nil {
			t.Fatal(err)
		}
		vars := strings.Split(string(env), "\x00")
		if !slices.Contains(vars, want[p.name]) {
			t.Errorf("%s: environment lacks %s", p.name, want[p.name])
		}
		if !slices.Contains(vars, "VECRO_TOKEN="+dep.Agents()[0].Token) {
			t.Errorf("%s: environment lacks the token", p.name)
		}
		if cg := cgroupOf(t, p.pgid, "cpu"); strings.Contains(cg, "vecro-") {
			t.Errorf("%s is in cgroup %s with cgroups off", p.name, cg)
		}
	}
}
