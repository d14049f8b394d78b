package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkCgroups verifies that each instance sits in its own cgroup with its
// service's limits.
func checkCgroups(t *testing.T, r *Runtime) {
	t.Helper()
	r.mu.Lock()
	procs, cg := r.procs, r.cg
	r.mu.Unlock()
	for _, p := range procs {
		cpuPath := cgroupOf(t, p.pgid, "cpu")
		if filepath.Base(cpuPath) != p.name {
			t.Errorf("%s is in cpu cgroup %s, not its own", p.name, cpuPath)
			continue
		}
		if cg.v2 {
			continue
		}
		quota, _ := os.ReadFile(filepath.Join(cg.cpuDir, p.name, "cpu.cfs_quota_us"))
		mem, _ := os.ReadFile(filepath.Join(cg.memDir, p.name, "memory.limit_in_bytes"))
		if strings.TrimSpace(string(quota)) != "70000" || strings.TrimSpace(string(mem)) != "262144000" {
			t.Errorf("%s: quota %q, memory limit %q; want 70000 (700m) and 262144000 (250Mi)", p.name, quota, mem)
		}
	}
}
