package kubenode

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vecrosim/vecro/framework/toolcache"
	"github.com/vecrosim/vecro/internal/mountinfo"
)

// Node is what a running node offers a workload or a test.
type Node struct {
	// RunDir holds the node's state, logs (logs/<component>.log) and PID
	// files.
	RunDir string `json:"runDir"`
	// Kubeconfig is a cluster-admin kubeconfig (credentials embedded).
	Kubeconfig string `json:"kubeconfig"`
	// Server is the API server's URL.
	Server string `json:"server"`
	// NodeName is the one node's name; NodeIP its address.
	NodeName string `json:"nodeName"`
	NodeIP   string `json:"nodeIP"`
	// ServiceCIDR, DNSServiceIP, ClusterDomain, PodCIDR: see the constants.
	ServiceCIDR   string `json:"serviceCIDR"`
	DNSServiceIP  string `json:"dnsServiceIP"`
	ClusterDomain string `json:"clusterDomain"`
	PodCIDR       string `json:"podCIDR"`
	// ContainerdSocket is where `ctr --address` (and LoadImage) reach the
	// node's containerd; images live in its "k8s.io" namespace.
	ContainerdSocket string `json:"containerdSocket"`
	// Images are the preloaded images.
	Images Images `json:"images"`
	// UpTook is how long the last Up took.
	UpTook Duration `json:"upTook"`
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// MarshalJSON writes d as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// InfoFile is where Up writes the Node as JSON, in runDir.
func InfoFile(runDir string) string { return filepath.Join(runDir, "node.json") }

// ReadInfo reads what the last Up wrote in runDir.
func ReadInfo(runDir string) (*Node, error) {
	b, err := os.ReadFile(InfoFile(runDir))
	if err != nil {
		return nil, fmt.Errorf("read kube node info: %w (is the node up? make kube-node-up)", err)
	}
	var n Node
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("read kube node info %s: %w", InfoFile(runDir), err)
	}
	return &n, nil
}

// order is the components' start order; Down stops them in reverse.
var order = []string{"etcd", "containerd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// Up brings the node up, or completes a node that is partly up: running
// components are kept, missing ones started, and each is waited for until
// it is ready. It returns once the node is Ready, kube-proxy has synced
// and CoreDNS answers for the cluster's names.
func Up(ctx context.Context, cfg Config) (*Node, error) {
	start := time.Now()
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("kube node up: needs root (containerd, the kubelet and the pod network change the host)")
	}
	b, err := findBinaries()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{c.RunDir, c.logDir(), c.pidDir(), c.etcdDir(), c.kubeletDir(), c.containerdDir(), c.cniConfDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("kube node up: %w", err)
		}
	}
	c.Logger.Info("kube node: preparing", "run dir", c.RunDir, "node IP", c.NodeIP)
	if err := c.ensurePKI(); err != nil {
		return nil, err
	}
	if err := c.setSysctls(); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	fresh := true
	for _, n := range order {
		if _, ok := c.running(n); ok {
			fresh = false
		}
	}
	if fresh {
		if err := c.saveNetnsBaseline(); err != nil {
			return nil, fmt.Errorf("kube node up: %w", err)
		}
	}
	if err := c.saveNFTBaseline(ctx, b); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	if err := c.setGuard(ctx, b); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	imgs, archives, err := c.buildImages(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	files := map[string]string{
		c.path("containerd", "config.toml"):                c.containerdConfig(b, imgs.Pause),
		filepath.Join(c.cniConfDir(), "10-vecro.conflist"): c.cniConfig(),
		c.path("kubelet-config.yaml"):                      c.kubeletConfig(),
		c.path("kube-proxy-config.yaml"):                   c.kubeProxyConfig(),
		// Pods with dnsPolicy Default (CoreDNS) get this; the node offers
		// no upstream resolver.
		c.path("resolv.conf"): "",
	}
	for p, content := range files {
		if err := writeFileAtomic(p, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("kube node up: %w", err)
		}
	}
	// etcd 3.4 cannot skip fsync; on a tmpfs its writes cost nothing.
	if !isMountPoint(c.etcdDir()) {
		if err := syscall.Mount("tmpfs", c.etcdDir(), "tmpfs", 0, "size=1g,mode=0700"); err != nil {
			return nil, fmt.Errorf("kube node up: mount a tmpfs for etcd at %s: %w", c.etcdDir(), err)
		}
	}
	comps := c.components(b)
	startAll := func(names ...string) error {
		for _, n := range names {
			if _, err := c.start(comps[n]); err != nil {
				return fmt.Errorf("kube node up: %w", err)
			}
		}
		return nil
	}
	if err := startAll("etcd", "containerd"); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "etcd", "etcd", time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/health", EtcdPort), `"health":"true"`)
	}); err != nil {
		return nil, err
	}
	if err := startAll("kube-apiserver"); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "containerd", "containerd", time.Minute, func(ctx context.Context) error {
		_, err := run(ctx, b.ctr, "--address", c.containerdSock(), "version")
		return err
	}); err != nil {
		return nil, err
	}
	if err := c.importImages(ctx, b, imgs, archives); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	cs, err := c.client()
	if err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "kube-apiserver", "kube-apiserver", 2*time.Minute, func(ctx context.Context) error {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%w: %s", err, body)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := c.linkCadvisorSocket(); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	if err := startAll("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"); err != nil {
		return nil, err
	}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed health endpoints on loopback
	for _, hc := range []struct {
		name, url string
		client    *http.Client
	}{
		{"kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d/healthz", CMPort), insecure},
		{"kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d/healthz", SchedulerPort), insecure},
		{"kubelet", fmt.Sprintf("http://127.0.0.1:%d/healthz", KubeletHealth), http.DefaultClient},
	} {
		if err := c.waitFor(ctx, hc.name, hc.name, 2*time.Minute, func(ctx context.Context) error {
			return httpOK(ctx, hc.client, hc.url, "ok")
		}); err != nil {
			return nil, err
		}
	}
	if err := c.waitFor(ctx, "node "+NodeName+" Ready with pod CIDR "+PodCIDR, "kubelet", 2*time.Minute, func(ctx context.Context) error {
		return nodeReady(ctx, cs)
	}); err != nil {
		return nil, err
	}
	if err := applyCoreDNS(ctx, cs, imgs.CoreDNS); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	if err := c.waitFor(ctx, "kube-proxy", "kube-proxy", 2*time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/healthz", ProxyHealth), "")
	}); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "CoreDNS answering on "+DNSServiceIP, "", 3*time.Minute, func(ctx context.Context) error {
		return dnsAnswers(ctx, cs)
	}); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, podReport(ctx, cs, "kube-system"))
	}
	n := &Node{
		RunDir: c.RunDir, Kubeconfig: c.kubeconfig("admin"), Server: fmt.Sprintf("https://%s:%d", c.NodeIP, APIServerPort),
		NodeName: NodeName, NodeIP: c.NodeIP, ServiceCIDR: ServiceCIDR, DNSServiceIP: DNSServiceIP,
		ClusterDomain: ClusterDomain, PodCIDR: PodCIDR, ContainerdSocket: c.containerdSock(), Images: imgs,
		UpTook: Duration(time.Since(start).Round(time.Millisecond)),
	}
	b2, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	if err := writeFileAtomic(InfoFile(c.RunDir), append(b2, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("kube node up: %w", err)
	}
	c.Logger.Info("kube node: up", "took", time.Duration(n.UpTook), "kubeconfig", n.Kubeconfig)
	return n, nil
}

// client is a clientset of the admin kubeconfig.
func (c Config) client() (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig("admin"))
	if err != nil {
		return nil, fmt.Errorf("kube node: kubeconfig %s: %w", c.kubeconfig("admin"), err)
	}
	rc.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube node: client: %w", err)
	}
	return cs, nil
}

// httpOK GETs url and wants 200 and, if want is set, a body containing it.
func httpOK(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || (want != "" && !strings.Contains(string(body), want)) {
		return fmt.Errorf("GET %s: %s %q", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// nodeReady wants the node registered, Ready, and given its pod CIDR.
func nodeReady(ctx context.Context, cs kubernetes.Interface) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if n.Spec.PodCIDR != PodCIDR {
		return fmt.Errorf("pod CIDR %q, want %s (kube-controller-manager --allocate-node-cidrs)", n.Spec.PodCIDR, PodCIDR)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			if cond.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("condition Ready=%s: %s: %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	return errors.New("no Ready condition yet")
}

// dnsAnswers asks the cluster DNS, through its Service (so through
// kube-proxy), for the API server's Service name, and wants its ClusterIP.
func dnsAnswers(ctx context.Context, cs kubernetes.Interface) error {
	if err := endpointsReady(ctx, cs, "kube-system", "kube-dns", 1); err != nil {
		return err
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(DNSServiceIP, "53"))
	}}
	name := "kubernetes.default.svc." + ClusterDomain
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		return fmt.Errorf("look up %s at %s: %w", name, DNSServiceIP, err)
	}
	if !slices.Contains(addrs, APIServiceIP) {
		return fmt.Errorf("look up %s at %s: %v, want %s", name, DNSServiceIP, addrs, APIServiceIP)
	}
	return nil
}

// endpointsReady wants at least n ready endpoints in the Service's
// EndpointSlices.
func endpointsReady(ctx context.Context, cs kubernetes.Interface, ns, svc string, n int) error {
	slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
	if err != nil {
		return err
	}
	ready := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
	}
	if ready < n {
		return fmt.Errorf("service %s/%s has %d ready endpoints, want %d", ns, svc, ready, n)
	}
	return nil
}

// podReport describes the pods of ns: phase, container states and recent
// events, for an error that says why something is not ready.
func podReport(ctx context.Context, cs kubernetes.Interface, ns string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var b strings.Builder
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "pods of " + ns + ": " + err.Error()
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s/%s: %s", ns, p.Name, p.Status.Phase)
		for _, s := range p.Status.ContainerStatuses {
			switch {
			case s.State.Waiting != nil:
				fmt.Fprintf(&b, "; %s waiting: %s %s", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message)
			case s.State.Terminated != nil:
				fmt.Fprintf(&b, "; %s terminated: %s (exit %d)", s.Name, s.State.Terminated.Reason, s.State.Terminated.ExitCode)
			default:
				fmt.Fprintf(&b, "; %s running, ready=%v", s.Name, s.Ready)
			}
		}
		b.WriteString("\n")
	}
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		items := evs.Items
		if len(items) > 15 {
			items = items[len(items)-15:]
		}
		for _, e := range items {
			fmt.Fprintf(&b, "event %s %s: %s %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return b.String()
}

// isMountPoint tells whether p is a mount point, from /proc/self/mountinfo.
func isMountPoint(p string) bool {
	ms, err := mountsUnder(p)
	return err == nil && slices.Contains(ms, p)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := mountinfo.Unescape(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}

// ResolveRunDir is the run dir cfg names, with its default filled in.
func ResolveRunDir(cfg Config) (string, error) {
	if cfg.RunDir == "" {
		cfg.RunDir = filepath.Join(toolcache.Dir(), "kubenode-run")
	}
	return filepath.Abs(cfg.RunDir)
}

// Status describes each component: running with its PID, or stopped.
func Status(cfg Config) ([]string, error) {
	dir, err := ResolveRunDir(cfg)
	if err != nil {
		return nil, err
	}
	c := Config{RunDir: dir}
	var out []string
	for _, n := range order {
		if pid, ok := c.running(n); ok {
			out = append(out, fmt.Sprintf("%-24s running (pid %d)", n, pid))
		} else {
			out = append(out, fmt.Sprintf("%-24s stopped", n))
		}
	}
	return out, nil
}

// ProxySynced tells whether kube-proxy has programmed the node's nftables
// for the Service at serviceIP with every one of endpointIPs. A Service's
// endpoints are Ready in the API a moment before kube-proxy has synced
// them: until then a new Service refuses connections, or sends them all to
// the endpoints it knew before.
func ProxySynced(ctx context.Context, serviceIP string, endpointIPs ...string) error {
	nft, err := lookPath("nft")
	if err != nil {
		return fmt.Errorf("check kube-proxy's rules: %w", err)
	}
	out, err := run(ctx, nft, "list", "table", "ip", "kube-proxy")
	if err != nil {
		return fmt.Errorf("check kube-proxy's rules: %w", err)
	}
	if !strings.Contains(out, serviceIP) {
		return fmt.Errorf("kube-proxy has no rules for %s yet", serviceIP)
	}
	have := dnatTargets(out)
	for _, ip := range endpointIPs {
		if !have[ip] {
			return fmt.Errorf("kube-proxy does not send %s to endpoint %s yet (it translates to %v)", serviceIP, ip, slices.Sorted(maps.Keys(have)))
		}
	}
	return nil
}

// dnatTargets are the addresses kube-proxy's DNAT rules translate to:
// "dnat to IP:PORT" for one endpoint, a "numgen random mod N map { 0 : IP
// . PORT, … }" for several.
func dnatTargets(listing string) map[string]bool {
	have := map[string]bool{}
	for _, l := range strings.Split(listing, "\n") {
		if !strings.Contains(l, "dnat") {
			continue
		}
		for _, w := range strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == ',' || r == '{' || r == '}' }) {
			host, _, _ := strings.Cut(w, ":")
			if ip := net.ParseIP(host); ip != nil {
				have[ip.String()] = true
			}
		}
	}
	return have
}
