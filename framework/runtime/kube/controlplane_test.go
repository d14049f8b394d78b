package kube_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vecrosim/vecro/framework/toolcache"
	"github.com/vecrosim/vecro/internal/childproc"
	"github.com/vecrosim/vecro/internal/testutil"
)

// The control plane of the envtest suite: Debian's etcd, and kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok as `make tools` builds
// them (mk/kube.mk). It is started once for the package and stopped by
// TestMain.
const (
	kubeVersion = toolcache.KubeVersion
	kwokVersion = toolcache.KwokVersion
	// promOperatorModule holds the prometheus-operator CRDs in
	// example/prometheus-operator-crd. v0.85.0 is the newest release of the
	// root module on the module proxy this was built against; the API
	// types (pkg/apis/monitoring) are v0.95.2, and the ServiceMonitor test
	// checks that every field vecro sets survives the older schema.
	promOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
	// nodeCount fake nodes, each with nodeCPU cores: the social system
	// requests 5.5 cores in all.
	nodeCount = 2
	nodeCPU   = "8"
)

// fakeNodeAnnotation marks the nodes kwok manages.
const fakeNodeAnnotation = "kwok.x-k8s.io/node"

type controlPlane struct {
	env      *envtest.Environment
	cfg      *rest.Config
	cs       kubernetes.Interface
	dyn      dynamic.Interface
	dir      string
	kwokPort int
	procs    []*proc
}

// proc is a component process with its log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

var (
	cpOnce sync.Once
	cp     *controlPlane
	cpSkip string
	cpErr  error
)

func TestMain(m *testing.M) {
	if parent := os.Getenv(guardEnv); parent != "" {
		guard(parent)
		return
	}
	g := startGuard()
	code := m.Run()
	if cp != nil {
		cp.stop()
	}
	if g != nil {
		g.Process.Kill()
		g.Wait()
	}
	os.Exit(code)
}

// guardEnv makes the test binary a guard of the process named in it.
const guardEnv = "VECRO_ENVTEST_GUARD_PARENT"

// startGuard runs this binary again as a guard of this process: envtest
// starts etcd and kube-apiserver in their own process groups without a
// parent-death signal, so a test binary killed by `go test -timeout` would
// leave them running.
func startGuard() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	g := exec.Command(exe)
	g.Env = append(os.Environ(), guardEnv+"="+strconv.Itoa(os.Getpid()))
	g.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if g.Start() != nil {
		return nil
	}
	return g
}

// guard notes the control plane processes parent starts and kills them
// once parent is gone.
func guard(parent string) {
	type child struct{ pid, start string }
	seen := map[child]bool{}
	for {
		if _, err := os.Stat("/proc/" + parent); err != nil {
			break
		}
		for _, c := range childrenOf(parent) {
			seen[child{c[0], c[1]}] = true
		}
		time.Sleep(300 * time.Millisecond)
	}
	for c := range seen {
		// Only the same process: its pid may have been reused.
		if st, ok := procStat(c.pid); ok && st[2] == c.start {
			if pid, err := strconv.Atoi(c.pid); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if pid, err := strconv.Atoi(parent); err == nil {
		dirs, _ := filepath.Glob(filepath.Join("/dev/shm", etcdDirPrefix(pid)+"*"))
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
}

// etcdDirPrefix names the etcd data dirs of test process pid.
func etcdDirPrefix(pid int) string { return "vecro-etcd-" + strconv.Itoa(pid) + "-" }

// childrenOf lists parent's etcd and kube-apiserver children as
// (pid, start time).
func childrenOf(parent string) [][2]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out [][2]string
	for _, e := range entries {
		st, ok := procStat(e.Name())
		if ok && st[1] == parent && (st[0] == "etcd" || st[0] == "kube-apiserver") {
			out = append(out, [2]string{e.Name(), st[2]})
		}
	}
	return out
}

// procStat reads /proc/PID/stat: command name, parent pid, start time.
func procStat(pid string) ([3]string, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return [3]string{}, false
	}
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return [3]string{}, false
	}
	f := strings.Fields(s[j+1:])
	// After the name: state, ppid, …, starttime is field 22 of the line,
	// index 19 here.
	if len(f) < 20 {
		return [3]string{}, false
	}
	return [3]string{s[i+1 : j], f[1], f[19]}, true
}

// sharedControlPlane starts the control plane on first use.
func sharedControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	cpOnce.Do(func() { cp, cpSkip, cpErr = startControlPlane() })
	if cpSkip != "" {
		testutil.SkipOrFail(t, "%s", cpSkip)
	}
	if cpErr != nil {
		t.Fatalf("start the envtest control plane: %v", cpErr)
	}
	return cp
}

func startControlPlane() (c *controlPlane, skip string, err error) {
	bins := map[string]string{}
	for _, n := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		p, err := toolcache.Find(n, kubeVersion)
		if err != nil {
			return nil, err.Error(), nil
		}
		bins[n] = p
	}
	kwok, err := toolcache.Find("kwok", kwokVersion)
	if err != nil {
		return nil, err.Error(), nil
	}
	kwokDir := filepath.Dir(kwok)
	stages := filepath.Join(kwokDir, "stages.yaml")
	kwokCRD := filepath.Join(kwokDir, "crds", "kwok.x-k8s.io_portforwards.yaml")
	for _, f := range []string{stages, kwokCRD} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Sprintf("kwok's assets are missing (%v); run `make tools`", err), nil
		}
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		return nil, "etcd is not installed (Debian package etcd-server; `make deps` installs it)", nil
	}
	promCRDs, err := promOperatorCRDs()
	if err != nil {
		return nil, "", err
	}

	dir, err := os.MkdirTemp("", "vecro-envtest-")
	if err != nil {
		return nil, "", err
	}
	c = &controlPlane{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
			c = nil
		}
	}()
	// etcd 3.4 cannot skip fsync; a tmpfs keeps it fast.
	etcdDir := dir
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if etcdDir, err = os.MkdirTemp("/dev/shm", etcdDirPrefix(os.Getpid())); err != nil {
			return c, "", err
		}
	}
	c.env = &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer: &envtest.APIServer{Path: bins["kube-apiserver"]},
			Etcd:      &envtest.Etcd{Path: etcd, DataDir: etcdDir},
		},
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              append(promCRDs, kwokCRD),
			ErrorIfPathMissing: true,
		},
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	api := c.env.ControlPlane.GetAPIServer().Configure()
	// kwok's fake kubelet listens on 127.0.0.1; the node names resolve to
	// nothing.
	api.Set("kubelet-preferred-address-types", "InternalIP")
	if c.cfg, err = c.env.Start(); err != nil {
		return c, "", fmt.Errorf("envtest: %w", err)
	}
	if c.cs, err = kubernetes.NewForConfig(c.cfg); err != nil {
		return c, "", err
	}
	if c.dyn, err = dynamic.NewForConfig(c.cfg); err != nil {
		return c, "", err
	}
	user, err := c.env.ControlPlane.AddUser(envtest.User{Name: "vecro-envtest-components", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return c, "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return c, "", err
	}
	kubeconfig := filepath.Join(dir, "components.kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return c, "", err
	}

	if err := c.start("kube-controller-manager", bins["kube-controller-manager"],
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		// What a Deployment's life needs, and namespace deletion; the node
		// lifecycle controller lifts the not-ready taint once kwok says
		// Ready.
		"--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller,node-lifecycle-controller,serviceaccount-controller,endpointslice-controller",
		// kwok renews its nodes' leases every 10 s from a cache fed by
		// watches that this API server keeps ending (kwok's client-go asks
		// for watch-list streams, which need progress notifications this
		// etcd 3.4 lacks: "RequestWatchProgress is disabled"). Renewals
		// came later than the default 50 s grace three times in CI, and
		// every node went not-Ready with its pods (TestSocialOnEnvtest's
		// Prometheus never became Ready). No test here is about node
		// failure: a late lease waits.
		"--node-monitor-grace-period=5m",
	); err != nil {
		return c, "", err
	}
	if err := c.start("kube-scheduler", bins["kube-scheduler"],
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	); err != nil {
		return c, "", err
	}

	certFile, keyFile, err := selfSignedCert(dir)
	if err != nil {
		return c, "", err
	}
	if c.kwokPort, err = freePort(); err != nil {
		return c, "", err
	}
	if err := c.start("kwok", kwok,
		"--kubeconfig="+kubeconfig,
		"--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+fakeNodeAnnotation+"=fake",
		"--node-ip=127.0.0.1",
		"--node-port="+strconv.Itoa(c.kwokPort),
		"--server-address=127.0.0.1:"+strconv.Itoa(c.kwokPort),
		"--tls-cert-file="+certFile,
		"--tls-private-key-file="+keyFile,
		"--enable-crds=PortForward",
	); err != nil {
		return c, "", err
	}
	if err := c.createNodes(); err != nil {
		return c, "", err
	}
	return c, "", nil
}

// promOperatorCRDs are the ServiceMonitor and Prometheus CRDs, read from
// the prometheus-operator module in the module cache (downloaded on first
// use through the module proxy).
func promOperatorCRDs() ([]string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", promOperatorModule).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return nil, fmt.Errorf("go mod download %s: %w: %s%s", promOperatorModule, err, out, msg)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: no module directory in %s", promOperatorModule, out)
	}
	dir := filepath.Join(m.Dir, "example", "prometheus-operator-crd")
	return []string{
		filepath.Join(dir, "monitoring.coreos.com_servicemonitors.yaml"),
		filepath.Join(dir, "monitoring.coreos.com_prometheuses.yaml"),
	}, nil
}

// start runs a component; it dies with the test process.
func (c *controlPlane) start(name, path string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return nil
}

// checkProcs fails when a component died, quoting its log.
func (c *controlPlane) checkProcs() error {
	for _, p := range c.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s %s exited (%v); last log lines:\n%s", p.name, strings.Join(p.cmd.Args[1:], " "), p.err, tail(p.log, 30))
		default:
		}
	}
	return nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return childproc.LastLines(string(b), n)
}

// createNodes registers the fake nodes, each pointing its kubelet endpoint
// at kwok's server, and waits until they are Ready and schedulable.
func (c *controlPlane) createNodes() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(nodeCPU),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	for i := range nodeCount {
		name := "kwok-node-" + strconv.Itoa(i)
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{fakeNodeAnnotation: "fake"},
				Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
			},
			Status: corev1.NodeStatus{
				Capacity:        capacity,
				Allocatable:     capacity,
				Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: name}},
				DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(c.kwokPort)}},
			},
		}
		if _, err := c.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	for {
		nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		var state []string
		if err == nil {
			for _, n := range nodes.Items {
				ok := len(n.Spec.Taints) == 0
				for _, cond := range n.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
						ok = false
					}
				}
				if ok && len(n.Status.Conditions) > 0 {
					ready++
				}
				state = append(state, fmt.Sprintf("%s taints=%v conditions=%d", n.Name, n.Spec.Taints, len(n.Status.Conditions)))
			}
		}
		if ready == nodeCount {
			return nil
		}
		if err := c.checkProcs(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fake nodes not ready and untainted (%v): %s", err, strings.Join(state, "; "))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (c *controlPlane) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if c.env != nil {
		_ = c.env.Stop()
		if d := c.env.ControlPlane.Etcd.DataDir; strings.HasPrefix(d, "/dev/shm/") {
			os.RemoveAll(d)
		}
	}
	if os.Getenv("VECRO_KEEP_ENVTEST_LOGS") == "" {
		os.RemoveAll(c.dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// selfSignedCert is kwok's serving certificate: the API server does not
// verify kubelets' certificates unless told a CA.
func selfSignedCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kwok"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "kwok.crt"), filepath.Join(dir, "kwok.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

var gvrPortForward = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}

// forwardPodPorts tells kwok where a fake pod's ports lead: each port to an
// address on this machine (a stand-in server).
func (c *controlPlane) forwardPodPorts(ctx context.Context, namespace, pod string, targets map[int]string) error {
	var fwds []any
	for port, addr := range targets {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return err
		}
		pn, _ := strconv.Atoi(p)
		fwds = append(fwds, map[string]any{"ports": []any{int64(port)}, "target": map[string]any{"address": host, "port": int64(pn)}})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "PortForward",
		"metadata":   map[string]any{"name": pod, "namespace": namespace},
		"spec":       map[string]any{"forwards": fwds},
	}}
	_, err := c.dyn.Resource(gvrPortForward).Namespace(namespace).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("kwok port-forward for %s/%s: %w", namespace, pod, err)
	}
	return nil
}

// logs is every component's log tail, for a failing test.
func (c *controlPlane) logs() string {
	var b bytes.Buffer
	for _, p := range c.procs {
		fmt.Fprintf(&b, "--- %s\n%s\n", p.name, tail(p.log, 15))
	}
	return b.String()
}
