package local

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vecrosim/vecro/framework/spec"
)

// checkCgroups verifies that each instance sits in its own cgroup with its
// service's limits and weight (the default 700m, 250Mi), and each database
// server in a CPU cgroup of its own.
func checkCgroups(t *testing.T, r *Runtime) {
	t.Helper()
	r.mu.Lock()
	procs, dbs, cg := r.procs, r.dbs, r.cg
	r.mu.Unlock()
	read := func(dir, file string) string {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("read %s: %v", file, err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, p := range procs {
		cpuPath := cgroupOf(t, p.pgid, "cpu")
		if filepath.Base(cpuPath) != p.name {
			t.Errorf("%s is in cpu cgroup %s, not its own", p.name, cpuPath)
			continue
		}
		dir := filepath.Join(cg.cpuDir, p.name)
		if cg.v2 {
			// 716 shares map to weight 1 + 714×9999/262142 = 28.
			if max, w := read(dir, "cpu.max"), read(dir, "cpu.weight"); max != "7000 10000" || w != "28" {
				t.Errorf("%s: cpu.max %q, cpu.weight %q; want 7000 10000 and 28", p.name, max, w)
			}
			continue
		}
		got := []string{read(dir, "cpu.cfs_period_us"), read(dir, "cpu.cfs_quota_us"), read(dir, "cpu.shares"),
			read(filepath.Join(cg.memDir, p.name), "memory.limit_in_bytes")}
		want := []string{"10000", "7000", "716", "262144000"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: period, quota, shares, memory %v; want %v (10 ms period, 700m, 250Mi)", p.name, got, want)
		}
	}
	// The run weighs its requests (every instance and database server at
	// the default 700m), or the machine's CPUs if that is more.
	if !cg.v2 {
		want := cpuShares(max(spec.MilliCPU(700*(len(procs)+len(dbs))), spec.MilliCPU(runtime.NumCPU()*1000)))
		if got := read(cg.cpuDir, "cpu.shares"); got != strconv.FormatInt(want, 10) {
			t.Errorf("the run's cpu.shares %s, want %d", got, want)
		}
	}
	for _, db := range dbs {
		if path := cgroupOf(t, db.Pid(), "cpu"); !strings.HasSuffix(path, "-db") || !strings.Contains(path, "/vecro-") {
			t.Errorf("database server %s (pid %d) is in cpu cgroup %s, not its own in the run's", db.Program(), db.Pid(), path)
		}
	}
}
