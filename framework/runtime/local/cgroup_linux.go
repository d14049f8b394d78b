package local

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/mountinfo"
)

// procSelf is where the parent reads its own cgroups and mounts.
const procSelf = "/proc/self"

// cgroups places a run's processes in cgroups of their own, below the
// parent's own cgroup (so that any limit on the parent still applies to
// everything it starts, as a pod's limits apply inside a node's slice).
type cgroups struct {
	v2 bool
	// runDirs are the run's own directories: one per controller hierarchy
	// on v1 (cpu, memory), one on v2.
	runDirs []string
	cpuDir  string // the run's dir in the hierarchy with cpu
	memDir  string // the run's dir in the hierarchy with memory
	log     *slog.Logger

	mu        sync.Mutex // instances start in parallel
	leaves    []string
	requested spec.MilliCPU // the CPU requests of the run's cgroups
}

// cgroupSlot is one instance's cgroup, in one or two hierarchies.
type cgroupSlot struct {
	dirs []string
}

// errNoCgroups explains why limits cannot be enforced.
type errNoCgroups struct{ reason string }

func (e errNoCgroups) Error() string { return e.reason }

// newCgroups prepares the run's cgroup directories, named after the
// parent's pid so that a later run can sweep those of a parent that was
// SIGKILLed. It fails with errNoCgroups where the machine does not allow it.
func newCgroups(runID string, log *slog.Logger) (*cgroups, error) {
	own, err := readProcCgroup(filepath.Join(procSelf, "cgroup"))
	if err != nil {
		return nil, errNoCgroups{fmt.Sprintf("cannot read this process's cgroups: %v", err)}
	}
	mounts, err := readCgroupMounts(filepath.Join(procSelf, "mountinfo"))
	if err != nil {
		return nil, errNoCgroups{fmt.Sprintf("cannot read the cgroup mounts: %v", err)}
	}
	c := &cgroups{log: log}
	cpuBase, memBase, v2, err := cgroupBases(own, mounts)
	if err != nil {
		return nil, err
	}
	c.v2 = v2
	name := fmt.Sprintf("vecro-%d-%s", os.Getpid(), runID)
	if v2 {
		// The run's dir must pass cpu and memory on to its leaves, which
		// the parent's own cgroup must allow first.
		if err := enableV2(cpuBase); err != nil {
			return nil, err
		}
		sweepStale(cpuBase, log)
		dir := filepath.Join(cpuBase, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, errNoCgroups{fmt.Sprintf("cannot create cgroup %s: %v", dir, err)}
		}
		c.runDirs = []string{dir}
		c.cpuDir, c.memDir = dir, dir
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+cpu +memory"), 0); err != nil {
			c.remove()
			return nil, errNoCgroups{fmt.Sprintf("cannot enable cpu and memory in %s: %v", dir, err)}
		}
		return c, nil
	}
	for _, base := range uniq(cpuBase, memBase) {
		sweepStale(base, log)
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			c.remove()
			return nil, errNoCgroups{fmt.Sprintf("cannot create cgroup %s: %v", dir, err)}
		}
		c.runDirs = append(c.runDirs, dir)
	}
	c.cpuDir = filepath.Join(cpuBase, name)
	c.memDir = filepath.Join(memBase, name)
	if err := c.weighRun(0); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

// CPU bandwidth and weight, as the kubelet sets them for a pod.
const (
	// cfsPeriod is the CFS bandwidth period in microseconds. The kernel's
	// default, 100 ms, lets a process that used its quota early sit frozen
	// for the rest of the period: at 700m with two busy threads, 65 ms in
	// which neither its requests nor its fault agent's timer run. At 10 ms
	// the longest freeze is under 10 ms (the kubelet's period is 100 ms;
	// its own docs suggest shorter ones for latency-sensitive pods).
	cfsPeriod = 10000
	// minQuota is the kernel's smallest quota, 1 ms.
	minQuota = 1000
)

// cpuShares converts a CPU request to cgroup v1 cpu.shares as the kubelet
// does (MilliCPUToShares): 1024 per core, at least 2.
func cpuShares(cpu spec.MilliCPU) int64 {
	return max(int64(cpu)*1024/1000, 2)
}

// cpuWeight converts cpu.shares to cgroup v2 cpu.weight as runc and the
// kubelet do: [2, 262144] onto [1, 10000].
func cpuWeight(shares int64) int64 {
	return 1 + ((shares-2)*9999)/262142
}

// cpuQuota is the CFS quota of a CPU limit per cfsPeriod: 700m → 7000 µs.
func cpuQuota(cpu spec.MilliCPU) int64 {
	return max(int64(cpu)*cfsPeriod/1000, minQuota)
}

// weighRun gives the run's own directory the weight of the requests in it
// so far, and at least that of the machine's CPUs, as the kubelet gives
// kubepods the node's allocatable CPU. Without it the whole system weighs
// as much as one process beside it in the parent's cgroup (the harness, a
// compiler): on a machine shared with twenty such processes the run got a
// tenth of the CPU, and a stressed service took most of that from its
// unrelated neighbours.
func (c *cgroups) weighRun(request spec.MilliCPU) error {
	c.mu.Lock()
	c.requested += request
	total := max(c.requested, spec.MilliCPU(runtime.NumCPU()*1000))
	c.mu.Unlock()
	shares := min(cpuShares(total), maxShares)
	if c.v2 {
		return writeCgroup(c.cpuDir, "cpu.weight", strconv.FormatInt(cpuWeight(shares), 10))
	}
	return writeCgroup(c.cpuDir, "cpu.shares", strconv.FormatInt(shares, 10))
}

// maxShares is the kernel's largest cpu.shares.
const maxShares = 262144

// describe names the mechanism for Limits.How.
func (c *cgroups) describe() string {
	if c.v2 {
		return fmt.Sprintf("cgroup v2: cpu.weight from the request, cpu.max per %d µs and memory.max below %s", cfsPeriod, c.cpuDir)
	}
	return fmt.Sprintf("cgroup v1: cpu.shares from the request, cpu.cfs_quota_us per %d µs below %s, memory.limit_in_bytes below %s", cfsPeriod, c.cpuDir, c.memDir)
}

// slot creates the instance's cgroup with its limits. The CPU request is
// the limit: the definitions declare only limits, and a pod with only
// limits gets requests equal to them.
func (c *cgroups) slot(instance string, cpu spec.MilliCPU, mem spec.Size) (*cgroupSlot, error) {
	s := &cgroupSlot{}
	mk := func(dir string) error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		c.mu.Lock()
		c.leaves = append(c.leaves, dir)
		c.mu.Unlock()
		s.dirs = append(s.dirs, dir)
		return nil
	}
	quota, shares := cpuQuota(cpu), cpuShares(cpu)
	if err := c.weighRun(cpu); err != nil {
		return nil, err
	}
	if c.v2 {
		dir := filepath.Join(c.cpuDir, instance)
		if err := mk(dir); err != nil {
			return nil, err
		}
		if err := writeCgroup(dir, "cpu.max", fmt.Sprintf("%d %d", quota, cfsPeriod)); err != nil {
			return nil, err
		}
		if err := writeCgroup(dir, "cpu.weight", strconv.FormatInt(cpuWeight(shares), 10)); err != nil {
			return nil, err
		}
		if err := writeCgroup(dir, "memory.max", strconv.FormatInt(int64(mem), 10)); err != nil {
			return nil, err
		}
		return s, nil
	}
	cpuLeaf := filepath.Join(c.cpuDir, instance)
	memLeaf := filepath.Join(c.memDir, instance)
	if err := mk(cpuLeaf); err != nil {
		return nil, err
	}
	if memLeaf != cpuLeaf {
		if err := mk(memLeaf); err != nil {
			return nil, err
		}
	}
	// The quota goes in after the period: a quota of 7 ms against the
	// default 100 ms period would be a 70m limit meanwhile.
	if err := writeCgroup(cpuLeaf, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)); err != nil {
		return nil, err
	}
	if err := writeCgroup(cpuLeaf, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
		return nil, err
	}
	if err := writeCgroup(cpuLeaf, "cpu.shares", strconv.FormatInt(shares, 10)); err != nil {
		return nil, err
	}
	if err := writeCgroup(memLeaf, "memory.limit_in_bytes", strconv.FormatInt(int64(mem), 10)); err != nil {
		return nil, err
	}
	return s, nil
}

// adopt moves a running process (all its threads) into a CPU cgroup of its
// own with the given request and limit. It is for the database servers,
// which dbserver starts itself: their memory stays charged where it was
// touched, so they get no memory limit, only their CPU weight and quota,
// without which a database would weigh as much as the whole run beside it.
func (c *cgroups) adopt(name string, pid int, request, limit spec.MilliCPU) error {
	dir := filepath.Join(c.cpuDir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	c.mu.Lock()
	c.leaves = append(c.leaves, dir)
	c.mu.Unlock()
	shares := cpuShares(request)
	if err := c.weighRun(request); err != nil {
		return err
	}
	var err error
	if c.v2 {
		err = errors.Join(
			writeCgroup(dir, "cpu.max", fmt.Sprintf("%d %d", cpuQuota(limit), cfsPeriod)),
			writeCgroup(dir, "cpu.weight", strconv.FormatInt(cpuWeight(shares), 10)))
	} else {
		err = errors.Join(
			writeCgroup(dir, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)),
			writeCgroup(dir, "cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(limit), 10)),
			writeCgroup(dir, "cpu.shares", strconv.FormatInt(shares, 10)))
	}
	if err != nil {
		return err
	}
	return writeCgroup(dir, "cgroup.procs", strconv.Itoa(pid))
}

// command returns the command line that runs bin with args inside the
// slot from its first instruction: a /bin/sh that writes its own pid into
// the slot's cgroup.procs files and then execs bin, keeping the pid (and
// so the process group and the parent-death signal). Moving the process
// after it started would leave the memory it touched in its first
// milliseconds charged to the parent's cgroup, beyond its limit.
func (s *cgroupSlot) command(bin string, args []string) (string, []string) {
	var script strings.Builder
	for _, d := range s.dirs {
		script.WriteString("echo $$ > " + shellQuote(filepath.Join(d, "cgroup.procs")) + " || exit 125\n")
	}
	script.WriteString(`exec "$0" "$@"`)
	return "/bin/sh", append([]string{"-c", script.String(), bin}, args...)
}

// oomKills is how many times the kernel's OOM killer fired in the slot's
// memory cgroup: oom_kill in memory.oom_control (v1) or memory.events (v2).
func (s *cgroupSlot) oomKills() int {
	for _, d := range s.dirs {
		for _, f := range []string{"memory.oom_control", "memory.events"} {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
					n, _ := strconv.Atoi(strings.TrimSpace(v))
					return n
				}
			}
		}
	}
	return 0
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dirs lists the run's cgroup directories, leaves first.
func (c *cgroups) dirs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append(append([]string{}, c.leaves...), c.runDirs...)
}

// remove deletes the run's cgroups; their processes must have exited.
func (c *cgroups) remove() {
	c.mu.Lock()
	leaves := c.leaves
	c.leaves = nil
	c.mu.Unlock()
	for i := len(leaves) - 1; i >= 0; i-- {
		rmdirRetry(leaves[i], c.log)
	}
	for _, d := range c.runDirs {
		rmdirRetry(d, c.log)
	}
	c.runDirs = nil
}

// rmdirRetry removes a cgroup directory; the kernel refuses (EBUSY) for a
// moment after its last process was reaped.
func rmdirRetry(dir string, log *slog.Logger) {
	var err error
	for range 50 {
		err = os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Warn("remove cgroup", "dir", dir, "err", err)
}

func writeCgroup(dir, file, value string) error {
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// sweepStale removes the cgroups of earlier runs whose parent died without
// cleaning up (SIGKILL). Their processes are gone too (Pdeathsig), so the
// directories are empty; a directory that is still busy is left alone.
func sweepStale(base string, log *slog.Logger) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := stalePID(e.Name())
		if !ok || !e.IsDir() || pid == os.Getpid() || pidAlive(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		leaves, _ := os.ReadDir(dir)
		for _, l := range leaves {
			if l.IsDir() {
				os.Remove(filepath.Join(dir, l.Name()))
			}
		}
		if err := os.Remove(dir); err == nil {
			log.Debug("removed stale cgroup", "dir", dir)
		}
	}
}

// stalePID reads the owner's pid from a run dir name "vecro-<pid>-<id>".
func stalePID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "vecro-")
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

func pidAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

// enableV2 turns on cpu and memory for the children of the parent's own
// cgroup. The kernel refuses that for a non-root cgroup that has processes
// in it (the "no internal processes" rule), which is the common case for a
// shell's cgroup: then limits are not enforced.
func enableV2(dir string) error {
	ctrl, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err == nil {
		have := strings.Fields(string(ctrl))
		if slices.Contains(have, "cpu") && slices.Contains(have, "memory") {
			return nil
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+cpu +memory"), 0); err != nil {
		return errNoCgroups{fmt.Sprintf("cannot enable the cpu and memory controllers below %s (%v); run vecro in a cgroup of its own with delegation, e.g. `systemd-run --user --scope -p Delegate=yes vecro …`", dir, err)}
	}
	return nil
}

// cgroupMount is one cgroup file system from mountinfo.
type cgroupMount struct {
	root, point string
	v2          bool
	controllers []string // v1: from the super options
}

// procCgroup is one line of /proc/self/cgroup.
type procCgroup struct {
	controllers []string // empty for the v2 line
	path        string
}

func readProcCgroup(path string) ([]procCgroup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []procCgroup
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var ctrls []string
		if parts[1] != "" {
			ctrls = strings.Split(parts[1], ",")
		}
		out = append(out, procCgroup{controllers: ctrls, path: parts[2]})
	}
	return out, nil
}

func readCgroupMounts(path string) ([]cgroupMount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /root /mnt/point rw,noatime master:1 - cgroup cgroup rw,cpu
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f1, f2 := strings.Fields(pre), strings.Fields(post)
		if len(f1) < 5 || len(f2) < 3 {
			continue
		}
		m := cgroupMount{root: mountinfo.Unescape(f1[3]), point: mountinfo.Unescape(f1[4])}
		switch f2[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.controllers = strings.Split(f2[2], ",")
		default:
			continue
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// cgroupBases finds the parent's own cgroup directory in the hierarchy
// with the cpu controller and in the one with memory: the same directory on
// v2, two on v1 (the "hybrid" layout has v1 controllers and a v2 mount
// without them, so v1 wins whenever it holds cpu and memory).
func cgroupBases(own []procCgroup, mounts []cgroupMount) (cpu, mem string, v2 bool, err error) {
	dirOf := func(ctrl string) (string, bool) {
		for _, o := range own {
			if !slices.Contains(o.controllers, ctrl) {
				continue
			}
			for _, m := range mounts {
				if !m.v2 && slices.Contains(m.controllers, ctrl) {
					return joinCgroup(m, o.path), true
				}
			}
		}
		return "", false
	}
	cpuDir, okc := dirOf("cpu")
	memDir, okm := dirOf("memory")
	if okc && okm {
		return cpuDir, memDir, false, nil
	}
	if okc || okm {
		return "", "", false, errNoCgroups{"cgroup v1 is mounted with only one of the cpu and memory controllers"}
	}
	for _, o := range own {
		if len(o.controllers) != 0 {
			continue
		}
		for _, m := range mounts {
			if !m.v2 {
				continue
			}
			dir := joinCgroup(m, o.path)
			b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
			if err != nil {
				continue
			}
			have := strings.Fields(string(b))
			if slices.Contains(have, "cpu") && slices.Contains(have, "memory") {
				return dir, dir, true, nil
			}
			return "", "", false, errNoCgroups{fmt.Sprintf("cgroup v2 at %s offers %q, not both cpu and memory", dir, have)}
		}
	}
	return "", "", false, errNoCgroups{"no cgroup file system with the cpu and memory controllers is mounted"}
}

// joinCgroup maps a cgroup path to a directory under the mount; a mount
// whose root is not "/" (in a container) shows only part of the tree.
func joinCgroup(m cgroupMount, path string) string {
	rel := path
	if m.root != "/" {
		rel = strings.TrimPrefix(path, m.root)
	}
	return filepath.Join(m.point, rel)
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}
