package kubenode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Down stops the node and undoes what Up did to the host: processes
// (components, containerd's shims, containers), mounts, the bridge and
// pods' veths, nftables tables and iptables chains, the kubepods cgroups,
// the guard link and the sysctls. It keeps the run dir's certificates,
// image archives, containerd's image store (so that the next Up is warm)
// and logs. It is safe to run on a node that is down or half up, and it
// ends by looking for anything left, which is an error.
func Down(ctx context.Context, cfg Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	// A node that was brought up had every program; if one has gone since,
	// Down still does all it can without it.
	b, berr := findBinaries()
	if berr != nil {
		c.Logger.Warn("kube node down: some programs are missing; cleaning up without them", "err", berr)
	}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c.Logger.Info("kube node: down", "run dir", c.RunDir)
	// The kubelet first, so that it does not restart what is removed.
	note(c.stop("kubelet", 15*time.Second))
	var netns []string
	if _, ok := c.running("containerd"); ok && b.crictl != "" {
		// Removing the sandboxes through the CRI has the CNI plugins
		// release their addresses and delete their veths, and containerd
		// unmount the containers' root filesystems.
		netns = c.sandboxNetns(ctx, b)
		if _, err := run(ctx, b.crictl, "--runtime-endpoint", "unix://"+c.containerdSock(), "--timeout", "30s", "rmp", "--all", "--force"); err != nil {
			note(fmt.Errorf("remove pod sandboxes: %w", err))
		}
	}
	note(c.stop("kube-proxy", 10*time.Second))
	// kube-proxy removes its own rules (its nftables tables).
	if b.proxy != "" && fileExists(c.path("kube-proxy-config.yaml")) {
		if _, err := run(ctx, b.proxy, "--cleanup", "--config="+c.path("kube-proxy-config.yaml")); err != nil {
			c.Logger.Debug("kube-proxy --cleanup", "err", err)
		}
	}
	note(c.stop("containerd", 15*time.Second))
	note(c.killStrays())
	for _, n := range []string{"kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"} {
		note(c.stop(n, 15*time.Second))
	}
	note(c.unmountAll(append(netns, c.ourNetns()...)))
	// State that a next Up must not find: etcd's data went with its tmpfs;
	// the kubelet's pods, containerd's runtime state, and the IPAM leases.
	for _, d := range []string{c.kubeletDir(), c.path("containerd", "state"), c.path("cni", "ipam"), c.path("kubelet-pki")} {
		if err := os.RemoveAll(d); err != nil {
			note(fmt.Errorf("remove %s: %w", d, err))
		}
	}
	note(c.cleanNetwork(ctx, b))
	note(removeCgroups())
	// Connection-tracking entries of the cluster's addresses would point
	// a next node's first packets at pods that are gone.
	for _, cidr := range []string{ServiceCIDR, ClusterCIDR} {
		if b.conntrack != "" {
			_, _ = run(ctx, b.conntrack, "-D", "-d", cidr)
			_, _ = run(ctx, b.conntrack, "-D", "-s", cidr)
		}
	}
	note(c.restoreSysctls())
	note(c.unlinkCadvisorSocket())
	_ = os.Remove(InfoFile(c.RunDir))
	left, err := Leftovers(ctx, c)
	note(err)
	if len(left) > 0 {
		note(fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kube node down: %w", err)
	}
	return nil
}

// sandboxNetns lists the network namespaces of the pod sandboxes, which
// containerd 1.6 bind-mounts under /run/netns (outside the run dir): if
// removing a sandbox fails, Down unmounts them itself. (ourNetns finds
// them too when containerd is gone, by comparison with the namespaces
// there were before the node started.)
func (c Config) sandboxNetns(ctx context.Context, b binaries) []string {
	out, err := run(ctx, b.crictl, "--runtime-endpoint", "unix://"+c.containerdSock(), "--timeout", "10s", "pods", "--quiet")
	if err != nil {
		return nil
	}
	var paths []string
	for _, id := range strings.Fields(out) {
		js, err := run(ctx, b.crictl, "--runtime-endpoint", "unix://"+c.containerdSock(), "--timeout", "10s", "inspectp", "--output", "json", id)
		if err != nil {
			continue
		}
		var info struct {
			Info struct {
				RuntimeSpec struct {
					Linux struct {
						Namespaces []struct{ Type, Path string }
					}
				}
			}
		}
		if json.Unmarshal([]byte(js), &info) != nil {
			continue
		}
		for _, ns := range info.Info.RuntimeSpec.Linux.Namespaces {
			if ns.Type == "network" && (strings.HasPrefix(ns.Path, "/var/run/netns/") || strings.HasPrefix(ns.Path, "/run/netns/")) {
				paths = append(paths, ns.Path)
			}
		}
	}
	return paths
}

// strays are processes of the node that have no PID file: containerd's
// shims (reparented away from containerd) and the containers they ran.
func (c Config) strays() []int {
	var pids []int
	self := os.Getpid()
	sock := []byte(c.containerdSock())
	for _, pid := range allPIDs() {
		if pid == self {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, sock) {
			pids = append(pids, pid)
			continue
		}
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if bytes.Contains(cg, []byte("/kubepods")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killStrays ends the strays: containers first (SIGKILL, they have no
// state to save once their pod is gone), then the shims.
func (c Config) killStrays() error {
	var errs []error
	for range 3 {
		pids := c.strays()
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill stray pid %d: %w", pid, err))
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if pids := c.strays(); len(pids) > 0 {
		errs = append(errs, fmt.Errorf("processes still alive after SIGKILL: %v", pids))
	}
	return errors.Join(errs...)
}

func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountAll unmounts everything under the run dir (containers' root
// filesystems, shm and volume tmpfses, etcd's tmpfs) deepest first, and
// the pods' network namespaces; a busy mount is detached (MNT_DETACH).
func (c Config) unmountAll(netns []string) error {
	var errs []error
	for _, p := range netns {
		if isMountPoint(p) {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			}
		}
		_ = os.Remove(p)
	}
	for range 3 {
		ms, err := mountsUnder(c.RunDir)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if err := syscall.Unmount(m, 0); err != nil {
				if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
					errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// cleanNetwork deletes the bridge, any veth still on it, the guard link,
// the node's and kube-proxy's nftables tables, and the CNI-* and KUBE-*
// iptables chains (the portmap plugin's and kube-proxy's).
func (c Config) cleanNetwork(ctx context.Context, b binaries) error {
	var errs []error
	if out, err := run(ctx, b.ip, "-o", "link", "show", "master", Bridge); err == nil {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 {
				name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
				if _, err := run(ctx, b.ip, "link", "delete", name); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for _, l := range []string{Bridge, GuardLink} {
		if _, err := run(ctx, b.ip, "link", "show", l); err == nil {
			if _, err := run(ctx, b.ip, "link", "delete", l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, t := range ourNFTables {
		if _, err := run(ctx, b.nft, "list", "table", t[0], t[1]); err == nil {
			if _, err := run(ctx, b.nft, "delete", "table", t[0], t[1]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		errs = append(errs, deleteChains(ctx, ipt))
	}
	errs = append(errs, c.deleteNewEmptyTables(ctx, b))
	return errors.Join(errs...)
}

// ourNFTables are the (family, name) nftables tables of the node.
var ourNFTables = [][2]string{{"inet", NFTable}, {"ip", "kube-proxy"}, {"ip6", "kube-proxy"}}

// ourChain tells whether an iptables chain is the node's.
func ourChain(name string) bool {
	return strings.HasPrefix(name, "CNI-") || strings.HasPrefix(name, "KUBE-")
}

// deleteChains removes, in every table, the rules that jump to our chains
// and then the chains themselves.
func deleteChains(ctx context.Context, ipt string) error {
	save, err := lookPath(ipt + "-save")
	if err != nil {
		return nil // no iptables, no chains
	}
	bin, err := lookPath(ipt)
	if err != nil {
		return nil
	}
	out, err := run(ctx, save)
	if err != nil {
		return err
	}
	var errs []error
	table := ""
	var chains []string
	flush := func() {
		for _, ch := range chains {
			_, _ = run(ctx, bin, "-t", table, "-F", ch)
		}
		for _, ch := range chains {
			if _, err := run(ctx, bin, "-t", table, "-X", ch); err != nil {
				errs = append(errs, err)
			}
		}
		chains = nil
	}
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case strings.HasPrefix(l, ":"):
			if name := strings.Fields(l[1:])[0]; ourChain(name) {
				chains = append(chains, name)
			}
		case strings.HasPrefix(l, "-A "):
			f := strings.Fields(l)
			if len(f) > 1 && !ourChain(f[1]) && jumpsToOurs(f) {
				args := append([]string{"-t", table, "-D"}, f[1:]...)
				if _, err := run(ctx, bin, args...); err != nil {
					errs = append(errs, err)
				}
			}
		case l == "COMMIT":
			flush()
		}
	}
	return errors.Join(errs...)
}

func jumpsToOurs(f []string) bool {
	for i, w := range f {
		if (w == "-j" || w == "-g") && i+1 < len(f) && ourChain(f[i+1]) {
			return true
		}
	}
	return false
}

// cgroupRoots are the mounted cgroup hierarchies (v1 controllers and the
// unified v2 tree).
func cgroupRoots() []string {
	ms, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var roots []string
	for _, l := range strings.Split(string(ms), "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && (f[2] == "cgroup" || f[2] == "cgroup2") {
			roots = append(roots, f[1])
		}
	}
	return roots
}

// removeCgroups removes the kubelet's kubepods trees, deepest first (a
// cgroup can only be removed once empty; the processes are gone by now).
func removeCgroups() error {
	var errs []error
	for _, root := range cgroupRoots() {
		top := filepath.Join(root, "kubepods")
		if _, err := os.Stat(top); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
		for _, d := range dirs {
			var err error
			for range 20 { // a cgroup empties a moment after its last process dies
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what of a node is still on the host: its processes,
// mounts under the run dir and of pods' network namespaces, the bridge,
// veths on it and the guard link, its nftables tables and iptables chains,
// and kubepods cgroups. Empty after Down.
func Leftovers(ctx context.Context, cfg Config) ([]string, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var left []string
	for _, n := range order {
		if pid, ok := c.running(n); ok {
			left = append(left, fmt.Sprintf("process %s (pid %d)", n, pid))
		}
	}
	for _, pid := range c.strays() {
		left = append(left, fmt.Sprintf("process %d (%s)", pid, exeOf(pid)))
	}
	ms, err := mountsUnder(c.RunDir)
	if err != nil {
		return left, err
	}
	for _, m := range ms {
		left = append(left, "mount "+m)
	}
	for _, m := range c.ourNetns() {
		left = append(left, "mount "+m)
	}
	for _, l := range []string{Bridge, GuardLink} {
		if _, err := os.Stat(filepath.Join("/sys/class/net", l)); err == nil {
			left = append(left, "link "+l)
		}
	}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			if master, err := os.Readlink(filepath.Join("/sys/class/net", e.Name(), "master")); err == nil && filepath.Base(master) == Bridge {
				left = append(left, "link "+e.Name()+" (on "+Bridge+")")
			}
		}
	}
	if nft, err := lookPath("nft"); err == nil {
		out, err := run(ctx, nft, "list", "tables")
		if err != nil {
			return left, err
		}
		for _, t := range ourNFTables {
			if slices.Contains(strings.Split(strings.TrimSpace(out), "\n"), "table "+t[0]+" "+t[1]) {
				left = append(left, "nftables table "+t[0]+" "+t[1])
			}
		}
	}
	for _, ipt := range []string{"iptables-save", "ip6tables-save"} {
		save, err := lookPath(ipt)
		if err != nil {
			continue
		}
		out, err := run(ctx, save)
		if err != nil {
			return left, err
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, ":") && ourChain(strings.Fields(l[1:])[0]) {
				left = append(left, ipt+" chain "+strings.Fields(l[1:])[0])
			}
		}
	}
	if target, err := os.Readlink(cadvisorSocket); err == nil && target == c.containerdSock() {
		left = append(left, "link "+cadvisorSocket+" -> "+target)
	}
	for _, root := range cgroupRoots() {
		if _, err := os.Stat(filepath.Join(root, "kubepods")); err == nil {
			left = append(left, "cgroup "+filepath.Join(root, "kubepods"))
		}
	}
	return left, nil
}
