package kubenode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The host settings the node changes, each undone by Down.

// sysctls are the kernel settings the node needs or that its components
// change (the kubelet sets the vm.* and kernel.* ones to its defaults).
// Their values before the first Up are saved and restored by Down.
var sysctls = []string{
	"net.ipv4.ip_forward",
	"net.bridge.bridge-nf-call-iptables",
	"net.bridge.bridge-nf-call-ip6tables",
	"net.ipv4.conf.all.route_localnet",
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.panic",
	"kernel.panic_on_oops",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
}

// nodeSysctls are set by Up: forwarding between the bridge and the node,
// and bridged pod-to-pod traffic through netfilter, without which a reply
// from a Service's pod to a pod on the same bridge skips kube-proxy's
// reverse translation.
var nodeSysctls = map[string]string{
	"net.ipv4.ip_forward":                "1",
	"net.bridge.bridge-nf-call-iptables": "1",
}

func sysctlPath(k string) string { return filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")) }

func readSysctl(k string) (string, error) {
	b, err := os.ReadFile(sysctlPath(k))
	return strings.TrimSpace(string(b)), err
}

func writeSysctl(k, v string) error {
	if err := os.WriteFile(sysctlPath(k), []byte(v+"\n"), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
	}
	return nil
}

func (c Config) sysctlFile() string { return c.path("sysctl-before.json") }

// setSysctls saves the settings as they were (once: a second Up must not
// save the node's own values) and sets the node's.
func (c Config) setSysctls() error {
	if !fileExists(c.sysctlFile()) {
		saved := map[string]string{}
		for _, k := range sysctls {
			if v, err := readSysctl(k); err == nil {
				saved[k] = v
			}
		}
		b, err := json.Marshal(saved)
		if err != nil {
			return fmt.Errorf("save sysctls: %w", err)
		}
		if err := writeFileAtomic(c.sysctlFile(), b, 0o644); err != nil {
			return fmt.Errorf("save sysctls: %w", err)
		}
	}
	for k, v := range nodeSysctls {
		if err := writeSysctl(k, v); err != nil {
			return err
		}
	}
	return nil
}

// restoreSysctls puts back the saved settings.
func (c Config) restoreSysctls() error {
	b, err := os.ReadFile(c.sysctlFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore sysctls: %w", err)
	}
	saved := map[string]string{}
	if err := json.Unmarshal(b, &saved); err != nil {
		return fmt.Errorf("restore sysctls from %s: %w", c.sysctlFile(), err)
	}
	var errs []error
	for k, v := range saved {
		if cur, err := readSysctl(k); err == nil && cur == v {
			continue
		}
		errs = append(errs, writeSysctl(k, v))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore sysctls: %w", err)
	}
	return os.Remove(c.sysctlFile())
}

// guardRules is the node's nftables table: pods may reach each other, the
// node and Services, but nothing they send is forwarded off the machine
// (the sandbox's network is closed, and traffic to addresses outside it is
// flagged).
func guardRules() string {
	return fmt.Sprintf(`table inet %s {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr %s oifname != %q counter drop
	}
}
`, NFTable, ClusterCIDR, Bridge)
}

// setGuard routes the Service and cluster networks to a link that
// discards what it is given: a bridge with no ports (this kernel has no
// dummy links), where a packet waits for a neighbour that never answers. kube-proxy's translation happens before that
// route is used, so a synced Service works; an address nobody translated
// (kube-proxy down, a Service not yet synced) goes nowhere instead of out
// of the machine's default route, where a proxy of the sandbox answers
// with a 404 that looks like a working Service.
func (c Config) setGuard(ctx context.Context, b binaries) error {
	if _, err := run(ctx, b.ip, "link", "show", GuardLink); err != nil {
		if _, err := run(ctx, b.ip, "link", "add", GuardLink, "type", "bridge"); err != nil {
			return fmt.Errorf("network guard: %w", err)
		}
	}
	if _, err := run(ctx, b.ip, "link", "set", GuardLink, "up"); err != nil {
		return fmt.Errorf("network guard: %w", err)
	}
	for _, cidr := range []string{ServiceCIDR, ClusterCIDR} {
		if _, err := run(ctx, b.ip, "route", "replace", cidr, "dev", GuardLink); err != nil {
			return fmt.Errorf("network guard: %w", err)
		}
	}
	// Replace the table whole, so that a second Up does not add the rule
	// twice.
	_, _ = run(ctx, b.nft, "delete", "table", "inet", NFTable)
	cmd := fmt.Sprintf("nft -f %s", c.path("guard.nft"))
	if err := writeFileAtomic(c.path("guard.nft"), []byte(guardRules()), 0o644); err != nil {
		return fmt.Errorf("network guard: %w", err)
	}
	if _, err := run(ctx, b.nft, "-f", c.path("guard.nft")); err != nil {
		return fmt.Errorf("network guard: %s: %w", cmd, err)
	}
	return nil
}

func (c Config) nftBaselineFile() string { return c.path("nft-tables-before.txt") }

// nftTables lists the nftables tables as "family name".
func nftTables(ctx context.Context, b binaries) ([]string, error) {
	out, err := run(ctx, b.nft, "list", "tables")
	if err != nil {
		return nil, err
	}
	var ts []string
	for _, l := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "table "); ok {
			ts = append(ts, t)
		}
	}
	return ts, nil
}

// saveNFTBaseline records the tables there were before the first Up: the
// kubelet's and the CNI plugins' iptables rules make iptables-nft create
// tables (ip filter, ip nat, …) that Down removes again if they were not
// there before and hold no rules any more.
func (c Config) saveNFTBaseline(ctx context.Context, b binaries) error {
	if fileExists(c.nftBaselineFile()) {
		return nil
	}
	ts, err := nftTables(ctx, b)
	if err != nil {
		return fmt.Errorf("record nftables tables: %w", err)
	}
	return writeFileAtomic(c.nftBaselineFile(), []byte(strings.Join(ts, "\n")+"\n"), 0o644)
}

// deleteNewEmptyTables deletes the tables that were not there before the
// first Up and have no rules left (another program's rules keep a table).
func (c Config) deleteNewEmptyTables(ctx context.Context, b binaries) error {
	before, err := os.ReadFile(c.nftBaselineFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read nftables baseline: %w", err)
	}
	had := strings.Split(strings.TrimSpace(string(before)), "\n")
	now, err := nftTables(ctx, b)
	if err != nil {
		return fmt.Errorf("list nftables tables: %w", err)
	}
	var errs []error
	for _, t := range now {
		if slices.Contains(had, t) {
			continue
		}
		fam, name, _ := strings.Cut(t, " ")
		out, err := run(ctx, b.nft, "-a", "list", "table", fam, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if nftRuleCount(out) > 0 {
			continue
		}
		if _, err := run(ctx, b.nft, "delete", "table", fam, name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(c.nftBaselineFile())
	}
	return errors.Join(errs...)
}

// nftRuleCount counts the rules in `nft -a list table` output: the lines
// with a handle that open neither a table nor a chain.
func nftRuleCount(listing string) int {
	n := 0
	for _, l := range strings.Split(listing, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "# handle") && !strings.HasPrefix(l, "table ") && !strings.HasPrefix(l, "chain ") {
			n++
		}
	}
	return n
}

func (c Config) netnsBaselineFile() string { return c.path("netns-before.txt") }

// cniNetns lists the pod network namespaces mounted under /run/netns
// (containerd's CRI names them cni-<uuid>).
func cniNetns() []string {
	var out []string
	for _, d := range []string{"/run/netns", "/var/run/netns"} {
		ms, _ := mountsUnder(d)
		for _, m := range ms {
			if strings.HasPrefix(filepath.Base(m), "cni-") && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// saveNetnsBaseline records the pod network namespaces that exist before
// a node starts: on a machine with another container runtime they are not
// the node's, and Down and Leftovers leave them alone.
func (c Config) saveNetnsBaseline() error {
	return writeFileAtomic(c.netnsBaselineFile(), []byte(strings.Join(cniNetns(), "\n")+"\n"), 0o644)
}

// ourNetns are the pod network namespaces that were not there before the
// node started.
func (c Config) ourNetns() []string {
	b, _ := os.ReadFile(c.netnsBaselineFile())
	before := strings.Split(string(b), "\n")
	var out []string
	for _, m := range cniNetns() {
		if !slices.Contains(before, m) {
			out = append(out, m)
		}
	}
	return out
}

// cadvisorSocket is where the kubelet's built-in cAdvisor looks for
// containerd: cAdvisor reads it from a global flag the kubelet does not
// expose. Without containerd there, cAdvisor sees the pods only as bare
// cgroups and /metrics/cadvisor has no pod, namespace or container labels,
// which every container_* query of a Prometheus needs.
const cadvisorSocket = "/run/containerd/containerd.sock"

// linkCadvisorSocket points cadvisorSocket at the node's containerd. A
// socket that is there and not ours (a host containerd) is left alone:
// cAdvisor then reads that one, and the node says so.
func (c Config) linkCadvisorSocket() error {
	target, err := os.Readlink(cadvisorSocket)
	switch {
	case err == nil && target == c.containerdSock():
		return nil
	case err == nil && !fileExists(target):
		// A link left by a node whose run dir has gone.
		if err := os.Remove(cadvisorSocket); err != nil {
			return fmt.Errorf("replace the stale link %s: %w", cadvisorSocket, err)
		}
	case err == nil || fileExists(cadvisorSocket):
		c.Logger.Warn("kube node: another containerd serves "+cadvisorSocket+"; the kubelet's cAdvisor reads that one, so container_* series will lack pod labels", "target", target)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(cadvisorSocket), 0o711); err != nil {
		return fmt.Errorf("link %s for cAdvisor: %w", cadvisorSocket, err)
	}
	if err := os.Symlink(c.containerdSock(), cadvisorSocket); err != nil {
		return fmt.Errorf("link %s for cAdvisor: %w", cadvisorSocket, err)
	}
	return nil
}

// unlinkCadvisorSocket removes the link if it is the node's.
func (c Config) unlinkCadvisorSocket() error {
	if target, err := os.Readlink(cadvisorSocket); err == nil && target == c.containerdSock() {
		if err := os.Remove(cadvisorSocket); err != nil {
			return fmt.Errorf("remove the cAdvisor link %s: %w", cadvisorSocket, err)
		}
	}
	return nil
}
