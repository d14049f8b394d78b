package kubenode

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vecrosim/vecro/framework/toolcache"
)

// Versions of what the node runs. The Kubernetes binaries come from
// tools/kube (mk/kube.mk), CoreDNS and crictl from tools/coredns and
// tools/crictl (mk/kubenode.mk), FerretDB from tools/ferretdb.
const (
	KubeVersion     = toolcache.KubeVersion
	CoreDNSVersion  = toolcache.CoreDNSVersion
	CrictlVersion   = toolcache.CrictlVersion
	FerretDBVersion = toolcache.FerretDBVersion
)

// The node's networks and addresses: what a workload on it can rely on.
const (
	// NodeName is the name the kubelet registers.
	NodeName = "vecro-node"
	// ServiceCIDR holds every ClusterIP; APIServiceIP and DNSServiceIP
	// are its first and tenth addresses, as kubeadm places them.
	ServiceCIDR  = "10.96.0.0/16"
	APIServiceIP = "10.96.0.1"
	DNSServiceIP = "10.96.0.10"
	// ClusterCIDR is kube-controller-manager's --cluster-cidr; the node is
	// given its first /24, PodCIDR, which the CNI bridge serves.
	ClusterCIDR = "10.244.0.0/16"
	PodCIDR     = "10.244.0.0/24"
	PodGateway  = "10.244.0.1"
	// ClusterDomain is the DNS suffix of Services.
	ClusterDomain = "cluster.local"
	// Bridge is the CNI bridge; GuardLink the dummy link that swallows
	// traffic to cluster addresses nobody translated (see setGuard).
	Bridge    = "cni0"
	GuardLink = "vecro-guard0"
	// NFTable is the node's own nftables table (inet family).
	NFTable = "vecro-kubenode"
)

// Fixed ports of the single node. etcd is off its default ports so that it
// never meets another etcd of the machine.
const (
	APIServerPort = 6443
	EtcdPort      = 12379
	EtcdPeerPort  = 12380
	KubeletPort   = 10250
	KubeletHealth = 10248
	ProxyHealth   = 10256
	ProxyMetrics  = 10249
	CMPort        = 10257
	SchedulerPort = 10259
)

// Config says where the node keeps its state and finds its programs.
type Config struct {
	// RunDir holds all of the node's state: certificates, kubeconfigs,
	// logs, PID files, containerd's and the kubelet's directories, etcd's
	// data (on a tmpfs mounted there). Default $VECRO_CACHE/kubenode-run.
	RunDir string
	// ModuleDir is the vecro module's root, where the node's own images
	// (images/pause, test/kubenode/probe) are built. Default: found by
	// walking up from the working directory to vecro's go.mod.
	ModuleDir string
	// NodeIP is the address the API server advertises and the kubelet
	// registers; default the address of the interface of the default route
	// (the API server refuses a loopback address for its endpoint).
	NodeIP string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// withDefaults fills in c's defaults and checks what it can.
func (c Config) withDefaults() (Config, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := ResolveRunDir(c)
	if err != nil {
		return c, fmt.Errorf("kube node config: run dir %s: %w", c.RunDir, err)
	}
	c.RunDir = abs
	if c.ModuleDir == "" {
		d, err := findModule()
		if err != nil {
			return c, err
		}
		c.ModuleDir = d
	}
	if c.NodeIP == "" {
		ip, err := defaultRouteIP()
		if err != nil {
			return c, err
		}
		c.NodeIP = ip
	}
	if ip := net.ParseIP(c.NodeIP); ip == nil || ip.To4() == nil || ip.IsLoopback() {
		return c, fmt.Errorf("kube node config: node IP %q is not a non-loopback IPv4 address", c.NodeIP)
	}
	return c, nil
}

// path joins elements under the run dir.
func (c Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.RunDir}, elem...)...)
}

// Paths of the node's files under the run dir.
func (c Config) pkiDir() string         { return c.path("pki") }
func (c Config) logDir() string         { return c.path("logs") }
func (c Config) pidDir() string         { return c.path("pids") }
func (c Config) kubeletDir() string     { return c.path("kubelet") }
func (c Config) containerdDir() string  { return c.path("containerd") }
func (c Config) containerdSock() string { return c.path("containerd", "containerd.sock") }
func (c Config) etcdDir() string        { return c.path("etcd") }
func (c Config) cniConfDir() string     { return c.path("cni", "net.d") }
func (c Config) imageDir() string       { return c.path("images") }
func (c Config) kubeconfig(n string) string {
	return c.path("kubeconfig", n+".kubeconfig")
}

// AdminKubeconfig is the cluster-admin kubeconfig of the node in runDir.
func AdminKubeconfig(runDir string) string {
	return filepath.Join(runDir, "kubeconfig", "admin.kubeconfig")
}

// findModule walks up from the working directory to vecro's go.mod.
func findModule() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kube node config: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(firstLine(b), "module github.com/vecrosim/vecro") && !strings.Contains(firstLine(b), "/tools/") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("kube node config: no vecro go.mod above the working directory; set ModuleDir")
		}
		d = parent
	}
}

func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "//") {
			return l
		}
	}
	return ""
}

// defaultRouteIP is the IPv4 address of the interface that holds the
// default route, read from /proc/net/route.
func defaultRouteIP() (string, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", fmt.Errorf("kube node config: find the node IP: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 2 || f[1] != "00000000" {
			continue
		}
		ifc, err := net.InterfaceByName(f[0])
		if err != nil {
			return "", fmt.Errorf("kube node config: find the node IP: interface %s: %w", f[0], err)
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return "", fmt.Errorf("kube node config: find the node IP: addresses of %s: %w", f[0], err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String(), nil
			}
		}
	}
	return "", fmt.Errorf("kube node config: no interface with an IPv4 address holds the default route; set NodeIP")
}

// binaries are the programs the node runs, found in the tool cache or on
// PATH (Debian's packages).
type binaries struct {
	apiserver, controllerManager, scheduler, kubelet, proxy, crictl, coredns, ferretdb string
	etcd, containerd, runc, ctr, nft, iptables, ip, conntrack                          string
	cniBin                                                                             string
}

// findBinaries locates every program, and reports all that are missing at
// once with how to get them.
func findBinaries() (binaries, error) {
	var b binaries
	var missing []string
	cache := func(dst *string, name, version, how string) {
		p, err := toolcache.Find(name, version)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s %s (%s; expected %s)", name, version, how, toolcache.Path(name, version)))
			return
		}
		*dst = p
	}
	kube := "make kube-node-tools"
	cache(&b.apiserver, "kube-apiserver", KubeVersion, kube)
	cache(&b.controllerManager, "kube-controller-manager", KubeVersion, kube)
	cache(&b.scheduler, "kube-scheduler", KubeVersion, kube)
	cache(&b.kubelet, "kubelet", KubeVersion, kube)
	cache(&b.proxy, "kube-proxy", KubeVersion, kube)
	cache(&b.crictl, "crictl", CrictlVersion, "tools/crictl/build.sh")
	cache(&b.coredns, "coredns", CoreDNSVersion, "tools/coredns/build.sh")
	cache(&b.ferretdb, "ferretdb", FerretDBVersion, "tools/ferretdb/build.sh")
	path := func(dst *string, name, pkg string) {
		p, err := lookPath(name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", name, pkg))
			return
		}
		*dst = p
	}
	path(&b.etcd, "etcd", "etcd-server")
	path(&b.containerd, "containerd", "containerd")
	path(&b.ctr, "ctr", "containerd")
	path(&b.runc, "runc", "runc")
	path(&b.nft, "nft", "nftables")
	path(&b.iptables, "iptables", "iptables")
	path(&b.ip, "ip", "iproute2")
	path(&b.conntrack, "conntrack", "conntrack")
	b.cniBin = "/usr/lib/cni"
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join(b.cniBin, p)); err != nil {
			missing = append(missing, fmt.Sprintf("CNI plugin %s in %s (Debian package containernetworking-plugins)", p, b.cniBin))
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("kube node: missing programs (`make kube-node-deps` builds and installs them):\n  %s", strings.Join(missing, "\n  "))
	}
	return b, nil
}

// lookPath finds name on PATH or in the sbin directories, which a non-login
// root shell may not have on PATH.
func lookPath(name string) (string, error) {
	for _, d := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/sbin", "/sbin", "/usr/bin", "/bin") {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", name)
}
