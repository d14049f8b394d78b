package kubenode_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/vecrosim/vecro/framework/image"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/test/kubenode"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestNode brings the node up, runs a 2-pod Deployment behind a ClusterIP
// Service, reaches it from the host through kube-proxy and from a pod by
// its DNS name, brings the node down, and checks that the host is as it
// was: no process, mount, link, nftables table, iptables chain, cgroup or
// changed sysctl of the node is left.
func TestNode(t *testing.T) {
	if os.Getenv("VECRO_KUBE_NODE") != "1" && os.Getenv("CI") != "true" {
		t.Skip("the node rewires the host's networking; run it with VECRO_KUBE_NODE=1 (make test-kube-node)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the node needs root")
	}
	cfg := kubenode.Config{RunDir: os.Getenv("VECRO_KUBE_NODE_DIR"), Logger: testLogger(t)}
	st, err := kubenode.Status(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if strings.Contains(s, "running") {
			t.Fatalf("a node is already up (%s); this test brings its own up and down: run `make kube-node-down` first", strings.Join(st, "; "))
		}
	}
	before := snapshot(t)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	downDone := false
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("VECRO_KUBE_NODE_KEEP") == "1" {
			t.Logf("VECRO_KUBE_NODE_KEEP=1: the node stays up for a look (make kube-node-down)")
			return
		}
		if !downDone {
			if err := kubenode.Down(context.Background(), cfg); err != nil {
				t.Errorf("down after failure: %v", err)
			}
		}
	})
	start := time.Now()
	node, err := kubenode.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("node up in %s (run dir %s)", time.Since(start).Round(time.Millisecond), node.RunDir)

	// A second Up finds everything running and changes nothing.
	start = time.Now()
	again, err := kubenode.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if again.Images != node.Images {
		t.Errorf("second up: images %+v, first %+v", again.Images, node.Images)
	}
	t.Logf("second up (everything running) in %s", time.Since(start).Round(time.Millisecond))

	cs := client(t, node.Kubeconfig)
	t.Logf("control plane RSS: %s", rssReport(node.RunDir))

	ns := "kubenode-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: node.Images.Probe, ImagePullPolicy: corev1.PullNever,
					Args:           []string{"serve", ":8080"},
					Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
				}}},
			},
		},
	}
	// FerretDB, packed from the tool cache's binary, as the database
	// container of a storage service runs: non-root, data in an emptyDir.
	ferret := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ferretdb", Namespace: ns},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), FSGroup: ptr.To[int64](65532)},
			Containers: []corev1.Container{{
				Name: "db", Image: node.Images.FerretDB, ImagePullPolicy: corev1.PullNever,
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(27017)}}, PeriodSeconds: 1},
				VolumeMounts:   []corev1.VolumeMount{{Name: "state", MountPath: "/state"}},
			}},
			Volumes: []corev1.Volume{{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, ferret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The service binary (images/service) packed by framework/image and
	// loaded as the e2e suite loads it: a pod that starts as the image's
	// non-root user and whose agent answers /healthz on the admin port.
	svcBin, err := build.Service(ctx, moduleRoot(t), build.Linux("amd64"), nil)
	if err != nil {
		t.Fatal(err)
	}
	svcImg, err := image.Build(ctx, image.Spec{Binary: svcBin, Path: "/service", Ports: []int{8080, 8081}})
	if err != nil {
		t.Fatal(err)
	}
	svcRef, err := image.ContentRef("vecro.local/service", svcImg)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "service.tar")
	if err := image.WriteTarball(archive, svcRef, svcImg); err != nil {
		t.Fatal(err)
	}
	if err := kubenode.LoadImage(ctx, cfg, archive); err != nil {
		t.Fatal(err)
	}
	agent := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "service", Namespace: ns},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			Containers: []corev1.Container{{
				Name: "service", Image: svcRef, ImagePullPolicy: corev1.PullIfNotPresent,
				Args:           []string{"--system", "kubenode", "--service", "svc", "--type", "base", "--token", "t"},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8081)}}, PeriodSeconds: 1},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, agent, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "Deployment web: 2 ready replicas", 3*time.Minute, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 2 {
			return fmt.Errorf("%d ready replicas", d.Status.ReadyReplicas)
		}
		return nil
	})
	t.Logf("2-pod Deployment ready in %s", time.Since(start).Round(time.Millisecond))
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	eventually(t, ctx, "2 ready endpoints of Service web", time.Minute, func() error {
		ss, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
		if err != nil {
			return err
		}
		n := 0
		for _, s := range ss.Items {
			for _, e := range s.Endpoints {
				if ptr.Deref(e.Conditions.Ready, false) {
					n++
				}
			}
		}
		if n != 2 {
			return fmt.Errorf("%d ready endpoints", n)
		}
		return nil
	})

	// From the host to the ClusterIP: only kube-proxy's translation gets
	// there, and each answer names the pod that sent it.
	ip := svc.Spec.ClusterIP
	var podIPs []string
	for _, p := range pods.Items {
		podIPs = append(podIPs, p.Status.PodIP)
	}
	eventually(t, ctx, "kube-proxy's nftables rules for "+ip+" to "+strings.Join(podIPs, ","), 30*time.Second, func() error {
		return kubenode.ProxySynced(ctx, ip, podIPs...)
	})
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	seen := map[string]int{}
	eventually(t, ctx, "an answer from a web pod at "+ip, 30*time.Second, func() error {
		pod, err := getPod(ctx, hc, "http://"+ip+"/")
		if err != nil {
			return err
		}
		seen[pod]++
		return nil
	})
	// kube-proxy picks an endpoint at random per connection: 60 new
	// connections all to one of two pods would happen with p = 2^-59.
	for i := 0; i < 60 && len(seen) < 2; i++ {
		pod, err := getPod(ctx, hc, "http://"+ip+"/")
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, ip, err)
		}
		seen[pod]++
	}
	for pod := range seen {
		if !slices.Contains(names, pod) {
			t.Errorf("answer from %q, which is not a pod of web (%v): something else answered", pod, names)
		}
	}
	if len(seen) != 2 {
		t.Errorf("answers came from %v; want both pods %v (kube-proxy balances new connections)", seen, names)
	}

	// From a pod: the Service's DNS name through CoreDNS, then the Service
	// through kube-proxy, with the short name too (search domains).
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "dns", Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{
					{Name: "fqdn", Image: node.Images.Probe, ImagePullPolicy: corev1.PullNever, Args: []string{"get", "http://web." + ns + ".svc." + node.ClusterDomain + "/"}},
					{Name: "short", Image: node.Images.Probe, ImagePullPolicy: corev1.PullNever, Args: []string{"get", "http://web/"}},
				},
			}},
		},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "Job dns to complete", 2*time.Minute, func() error {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "dns", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if j.Status.Failed > 0 {
			return fmt.Errorf("failed: %s", jobLogs(ctx, cs, ns))
		}
		if j.Status.Succeeded != 1 {
			return fmt.Errorf("%d succeeded", j.Status.Succeeded)
		}
		return nil
	})
	logs := jobLogs(ctx, cs, ns)
	for _, want := range []string{"resolved web." + ns + ".svc." + node.ClusterDomain + " to " + ip, "resolved web to " + ip, "200 OK pod=web-"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the dns Job's output lacks %q:\n%s", want, logs)
		}
	}

	// The FerretDB pod stores and returns a document, reached from the
	// host at its pod IP (the bridge routes the pod network to the node).
	var podIP string
	eventually(t, ctx, "FerretDB pod ready", 2*time.Minute, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "ferretdb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				podIP = p.Status.PodIP
				return nil
			}
		}
		return fmt.Errorf("phase %s", p.Status.Phase)
	})
	checkMongo(t, ctx, "mongodb://"+net.JoinHostPort(podIP, "27017")+"/vecro")
	eventually(t, ctx, "service pod ready", 2*time.Minute, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "service", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		var why []string
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Waiting != nil {
				why = append(why, c.State.Waiting.Reason+": "+c.State.Waiting.Message)
			}
		}
		return fmt.Errorf("phase %s %v", p.Status.Phase, why)
	})

	start = time.Now()
	downDone = true
	if err := kubenode.Down(ctx, cfg); err != nil {
		t.Fatalf("down: %v", err)
	}
	t.Logf("node down in %s", time.Since(start).Round(time.Millisecond))
	after := snapshot(t)
	after.diff(t, before, node.RunDir)
	// Down twice is harmless.
	if err := kubenode.Down(ctx, cfg); err != nil {
		t.Errorf("second down: %v", err)
	}
}

// hostState is what the test itself (not the package) reads of the host.
type hostState struct {
	links, nftTables, mounts, chains, cgroups, procs []string
	sysctls                                          map[string]string
}

func snapshot(t *testing.T) hostState {
	t.Helper()
	var s hostState
	out := func(name string, args ...string) string {
		b, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, b)
		}
		return string(b)
	}
	for _, l := range strings.Split(out("ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			s.links = append(s.links, strings.TrimSuffix(f[1], ":"))
		}
	}
	for _, l := range strings.Split(out("nft", "list", "tables"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			s.nftTables = append(s.nftTables, l)
		}
	}
	s.mounts = strings.Split(strings.TrimSpace(out("findmnt", "-rn", "-o", "TARGET")), "\n")
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		for _, l := range strings.Split(out(save), "\n") {
			if strings.HasPrefix(l, ":") {
				s.chains = append(s.chains, save+" "+strings.Fields(l[1:])[0])
			}
		}
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	cg2, _ := filepath.Glob("/sys/fs/cgroup/kubepods*")
	s.cgroups = append(cg, cg2...)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && len(b) > 0 {
			s.procs = append(s.procs, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	s.sysctls = map[string]string{}
	for _, k := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables", "vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"} {
		b, _ := os.ReadFile("/proc/sys/" + k)
		s.sysctls[k] = strings.TrimSpace(string(b))
	}
	return s
}

// diff reports what s has that before had not, as far as it can be the
// node's (other programs of the machine come and go meanwhile).
func (s hostState) diff(t *testing.T, before hostState, runDir string) {
	t.Helper()
	for _, l := range s.links {
		if !slices.Contains(before.links, l) {
			t.Errorf("link left: %s", l)
		}
	}
	for _, tb := range s.nftTables {
		if !slices.Contains(before.nftTables, tb) {
			t.Errorf("nftables table left: %s", tb)
		}
	}
	for _, m := range s.mounts {
		if strings.HasPrefix(m, runDir) || strings.HasPrefix(m, "/var/lib/kubelet") ||
			strings.Contains(m, "/netns/") && !slices.Contains(before.mounts, m) {
			t.Errorf("mount left: %s", m)
		}
	}
	for _, c := range s.chains {
		if !slices.Contains(before.chains, c) {
			t.Errorf("iptables chain left: %s", c)
		}
	}
	for _, c := range s.cgroups {
		t.Errorf("cgroup left: %s", c)
	}
	for _, p := range s.procs {
		ours := strings.Contains(p, runDir) || strings.Contains(p, "containerd-shim") || strings.Contains(p, "/coredns") ||
			strings.Contains(p, "probe serve") || strings.Contains(p, "/pause")
		if ours && !slices.Contains(before.procs, p) {
			t.Errorf("process left: %s", p)
		}
	}
	for k, v := range before.sysctls {
		if s.sysctls[k] != v {
			t.Errorf("sysctl %s = %s after down, %s before up", k, s.sysctls[k], v)
		}
	}
}

// checkMongo inserts a document and reads it back.
func checkMongo(t *testing.T, ctx context.Context, uri string) {
	t.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	defer func() { _ = mc.Disconnect(context.WithoutCancel(ctx)) }()
	coll := mc.Database("vecro").Collection("kubenode")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "probe"}, {Key: "n", Value: 42}}); err != nil {
		t.Fatalf("insert into FerretDB at %s: %v", uri, err)
	}
	var got struct {
		N int `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "probe"}}).Decode(&got); err != nil || got.N != 42 {
		t.Fatalf("read back from FerretDB at %s: %+v, %v", uri, got, err)
	}
}

// moduleRoot is the repository root.
func moduleRoot(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func getPod(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	pod, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "pod=")
	if resp.StatusCode != http.StatusOK || !ok {
		return "", fmt.Errorf("GET %s: %s %q is not a probe's answer", url, resp.Status, b)
	}
	return pod, nil
}

func jobLogs(ctx context.Context, cs kubernetes.Interface, ns string) string {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=dns"})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		for _, c := range []string{"fqdn", "short"} {
			out, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c}).DoRaw(ctx)
			fmt.Fprintf(&b, "--- %s/%s (err %v)\n%s\n", p.Name, c, err, out)
		}
	}
	return b.String()
}

func client(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func eventually(t *testing.T, ctx context.Context, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rssReport sums the resident memory of the node's components.
func rssReport(runDir string) string {
	var total int
	var parts []string
	for _, n := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "containerd"} {
		b, err := os.ReadFile(filepath.Join(runDir, "pids", n+".pid"))
		if err != nil {
			continue
		}
		pid := strings.SplitN(string(b), "\n", 2)[0]
		st, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.Atoi(strings.Fields(v)[0])
				total += kb
				parts = append(parts, fmt.Sprintf("%s %d MB", n, kb/1024))
			}
		}
	}
	return fmt.Sprintf("%d MB (%s)", total/1024, strings.Join(parts, ", "))
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
