package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/mountinfo"
)

// The layouts below are real /proc/self/cgroup and mountinfo excerpts: the
// hybrid one is this project's build machine.
const (
	hybridCgroup = `9:name=systemd:/
8:pids:/
4:memory:/process_api/b87f
2:cpuacct:/
1:cpu:/
0::/
`
	hybridMounts = `30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 30 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	v1ContainerCgroup = `5:cpu,cpuacct:/docker/abc
4:memory:/docker/abc
`
	v1ContainerMounts = `300 290 0:40 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
301 290 0:41 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
`
	cpuOnlyCgroup = `1:cpu:/
`
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func bases(t *testing.T, cgroupText, mountText string) (string, string, bool, error) {
	t.Helper()
	dir := t.TempDir()
	own, err := readProcCgroup(writeFile(t, dir, "cgroup", cgroupText))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := readCgroupMounts(writeFile(t, dir, "mountinfo", mountText))
	if err != nil {
		t.Fatal(err)
	}
	return cgroupBases(own, mounts)
}

func TestCgroupBasesHybrid(t *testing.T) {
	cpu, mem, v2, err := bases(t, hybridCgroup, hybridMounts)
	if err != nil || v2 {
		t.Fatalf("hybrid: v2=%v err=%v", v2, err)
	}
	if cpu != "/sys/fs/cgroup/cpu" || mem != "/sys/fs/cgroup/memory/process_api/b87f" {
		t.Errorf("hybrid: cpu %s, memory %s", cpu, mem)
	}
}

func TestCgroupBasesContainerRoot(t *testing.T) {
	// Inside a container the mount's root is the container's cgroup, so
	// the own path maps to the mount point itself.
	cpu, mem, _, err := bases(t, v1ContainerCgroup, v1ContainerMounts)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != "/sys/fs/cgroup/cpu,cpuacct" || mem != "/sys/fs/cgroup/memory" {
		t.Errorf("container: cpu %s, memory %s", cpu, mem)
	}
}

func TestCgroupBasesV2(t *testing.T) {
	root := t.TempDir()
	own := filepath.Join(root, "user.slice", "me")
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, own, "cgroup.controllers", "cpuset cpu io memory pids\n")
	mounts := "40 30 0:36 / " + root + " rw,relatime - cgroup2 cgroup2 rw\n"
	cpu, mem, v2, err := bases(t, "0::/user.slice/me\n", mounts)
	if err != nil || !v2 || cpu != own || mem != own {
		t.Fatalf("v2: %s %s v2=%v err=%v", cpu, mem, v2, err)
	}
	writeFile(t, own, "cgroup.controllers", "pids\n")
	if _, _, _, err := bases(t, "0::/user.slice/me\n", mounts); err == nil || !strings.Contains(err.Error(), "not both cpu and memory") {
		t.Errorf("v2 without controllers: %v", err)
	}
}

func TestCgroupBasesMissing(t *testing.T) {
	if _, _, _, err := bases(t, cpuOnlyCgroup, hybridMounts); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("cpu only: %v", err)
	}
	if _, _, _, err := bases(t, "0::/\n", ""); err == nil {
		t.Error("no mounts: no error")
	}
}

func TestStalePIDAndUnescape(t *testing.T) {
	if pid, ok := stalePID("vecro-123-abcd"); !ok || pid != 123 {
		t.Errorf("stalePID = %d, %v", pid, ok)
	}
	for _, bad := range []string{"vecro-x-1", "other-1-2", "vecro-12", "vecro--1"} {
		if _, ok := stalePID(bad); ok {
			t.Errorf("stalePID(%q) accepted", bad)
		}
	}
	if got := mountinfo.Unescape(`/a\040b`); got != "/a b" {
		t.Errorf("unescapeMount = %q", got)
	}
}

// TestCPUWeights: the kubelet's and runc's conversions, at their ends and
// at the default 700m.
func TestCPUWeights(t *testing.T) {
	for _, c := range []struct {
		cpu           spec.MilliCPU
		shares, quota int64
	}{{0, 2, minQuota}, {1, 2, minQuota}, {100, 102, 1000}, {700, 716, 7000}, {1000, 1024, 10000}, {2500, 2560, 25000}} {
		if s, q := cpuShares(c.cpu), cpuQuota(c.cpu); s != c.shares || q != c.quota {
			t.Errorf("%dm: shares %d, quota %d µs per %d; want %d and %d", c.cpu, s, q, cfsPeriod, c.shares, c.quota)
		}
	}
	for shares, weight := range map[int64]int64{2: 1, 1024: 39, 262144: 10000} {
		if w := cpuWeight(shares); w != weight {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, w, weight)
		}
	}
}
