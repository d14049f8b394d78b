package kube_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/testutil"
)

const testImage = "vecro.local/service:envtest"

// TestSocialOnEnvtest deploys the 25-service social system to a real
// kube-apiserver with kube-controller-manager, kube-scheduler and kwok's fake
// nodes: every object is accepted, the rollout completes, a second apply
// changes nothing, agents and services are reached through port-forwards
// (kwok stands in for the kubelet and forwards to stand-in servers), the
// social delay schedule reaches the right agent, Prometheus answers through
// its port-forward, and teardown clears the faults and removes everything.
func TestSocialOnEnvtest(t *testing.T) {
	cp := sharedControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Log(cp.logs())
		}
	}()

	promAddr := newPrometheus(t)
	installFakeKubePrometheus(ctx, t, cp, promAddr)

	sys, err := spec.LoadSystem("../../../fixtures/systems/social.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := kube.New(kube.Options{
		Cluster:        &kube.Cluster{RESTConfig: cp.cfg},
		Image:          testImage,
		Monitoring:     kube.MonitoringKubePrometheus,
		RolloutTimeout: 2 * time.Minute,
		Logger:         testLogger(t),
	})
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			r.Stop(context.Background())
		}
	})

	// kube-prometheus is "there" (the stand-in install), so this only
	// waits for its Prometheus pod.
	if err := r.InstallMonitoring(ctx); err != nil {
		t.Fatalf("install monitoring: %v", err)
	}

	start := time.Now()
	dep, err := r.Deploy(ctx, sys)
	if err != nil {
		t.Fatalf("deploy social: %v", err)
	}
	t.Logf("social applied, rolled out under kwok and reached in %v", time.Since(start).Round(time.Millisecond))

	ns := dep.Namespace
	if ns != "social" || dep.Runtime != "kube" || dep.System != "social" {
		t.Fatalf("deployment %s/%s in namespace %q", dep.Runtime, dep.System, ns)
	}

	// Every Deployment is available, every pod Ready, and the pods carry
	// the original's labels.
	deps, err := cp.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != len(sys.Services) {
		t.Fatalf("%d deployments, want %d", len(deps.Items), len(sys.Services))
	}
	for _, d := range deps.Items {
		if d.Status.AvailableReplicas != 1 || !available(&d) {
			t.Errorf("deployment %s: %d available, conditions %v", d.Name, d.Status.AvailableReplicas, d.Status.Conditions)
		}
	}
	pods, err := cp.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector("social")})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != len(sys.Services) {
		t.Fatalf("%d pods, want %d", len(pods.Items), len(sys.Services))
	}
	podOf := map[string]string{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
			t.Errorf("pod %s: phase %s on node %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
		podOf[p.Labels[manifest.LabelService]] = p.Name
	}
	// The storage services run MongoDB as a native sidecar.
	db, err := cp.cs.CoreV1().Pods(ns).Get(ctx, podOf["posts-storage-db"], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Spec.InitContainers) != 1 || db.Spec.InitContainers[0].Image != "mongo:4.2" || len(db.Status.InitContainerStatuses) != 1 || !ptrTrue(db.Status.InitContainerStatuses[0].Started) {
		t.Errorf("posts-storage-db pod: init containers %+v, statuses %+v", db.Spec.InitContainers, db.Status.InitContainerStatuses)
	}

	// The ServiceMonitor kept every field vecro set (the CRD's schema
	// prunes fields it does not know).
	sm, err := cp.dyn.Resource(schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}).Namespace(ns).Get(ctx, "social", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 {
		t.Fatalf("servicemonitor endpoints %v", eps)
	}
	ep := eps[0].(map[string]any)
	if ep["port"] != "admin" || ep["interval"] != "1s" || ep["scrapeTimeout"] != "1s" || ep["path"] != "/metrics" {
		t.Errorf("servicemonitor endpoint %v", ep)
	}
	if role, _, _ := unstructured.NestedString(sm.Object, "spec", "selector", "matchLabels", manifest.LabelRole); role != "agents" {
		t.Errorf("servicemonitor selector %v", sm.Object["spec"])
	}

	// A second apply changes nothing: every object keeps its
	// resourceVersion.
	before := map[string]string{}
	m, _, err := r.Apply(ctx, sys)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	_ = m
	// Read the versions the objects had, then apply a third time and
	// compare: nothing may move between two applies of the same system.
	for _, o := range m.Objects {
		u, err := cp.dyn.Resource(o.GVR).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", o, err)
		}
		before[o.String()] = u.GetResourceVersion()
	}
	_, applied, err := r.Apply(ctx, sys)
	if err != nil {
		t.Fatalf("third apply: %v", err)
	}
	if len(applied) != len(m.Objects) {
		t.Fatalf("%d objects applied, manifest has %d", len(applied), len(m.Objects))
	}
	for _, a := range applied {
		if a.ResourceVersion != before[a.Object.String()] {
			t.Errorf("apply changed %s: resourceVersion %s → %s", a.Object, before[a.Object.String()], a.ResourceVersion)
		}
	}

	// Route every agent's and service's port (via kwok) to stand-ins.
	token := secretToken(ctx, t, cp, ns)
	agents := map[string]*standInAgent{}
	for _, s := range dep.Services {
		if len(s.Instances) != 1 || s.URL == "" {
			t.Fatalf("service %s: url %q, %d instances", s.Name, s.URL, len(s.Instances))
		}
		in := s.Instances[0]
		if in.Name != podOf[s.Name] || in.Agent.Token != token || in.Agent.Service != s.Name {
			t.Errorf("service %s: instance %+v, want pod %s and the secret's token", s.Name, in, podOf[s.Name])
		}
		a := newStandInAgent(t)
		agents[in.Name] = a
		if err := cp.forwardPodPorts(ctx, ns, in.Name, map[int]string{manifest.AdminPort: a.addr, manifest.ServicePort: newStandInService(t, in.Name)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range dep.Services {
		body := getEventually(ctx, t, s.URL+"/")
		if body != s.Instances[0].Name {
			t.Errorf("service %s through its port-forward answered %q, want its pod %s", s.Name, body, s.Instances[0].Name)
		}
	}

	// The social delay schedule reaches posts-storage-db's agent, and only
	// it, with the token from the Secret.
	ff, err := spec.LoadFaults("../../../fixtures/faults/social-delay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	targets := fault.Targets{}
	for _, s := range dep.Services {
		eps, _ := dep.AgentsOf(s.Name)
		targets[s.Name] = eps
	}
	t0 := time.Now().Add(time.Hour) // in the future: nothing switches on
	planned, err := fault.Plan(ff, targets, t0, *ff.Seed)
	if err != nil {
		t.Fatal(err)
	}
	var as []agent.Assignment
	for _, p := range planned {
		for _, ep := range p.Agents {
			as = append(as, agent.Assignment{Endpoint: ep, Fault: p.Wire()})
		}
	}
	if len(as) != 1 {
		t.Fatalf("%d assignments for social-delay, want 1", len(as))
	}
	sts, err := agent.PushAll(ctx, as)
	if err != nil {
		t.Fatalf("push the social-delay schedule: %v", err)
	}
	if len(sts) != 1 || sts[0].ID != "posts-storage-db-delay.net-delay" {
		t.Fatalf("statuses %+v", sts)
	}
	for pod, a := range agents {
		faults, tokens, _ := a.snapshot()
		if pod == podOf["posts-storage-db"] {
			f, ok := faults["posts-storage-db-delay.net-delay"]
			if !ok || !f.Start.Equal(t0.Add(30*time.Second)) || !f.End.Equal(t0.Add(time.Minute)) || !strings.Contains(string(f.Params), `"400ms"`) {
				t.Errorf("agent of %s has %+v", pod, faults)
			}
			if len(tokens) == 0 || slices.ContainsFunc(tokens, func(s string) bool { return s != token }) {
				t.Errorf("agent of %s saw tokens %v, want the secret's", pod, tokens)
			}
		} else if len(faults) != 0 {
			t.Errorf("agent of %s got faults %v", pod, faults)
		}
	}

	// Prometheus through its port-forward: the real server's query API.
	if dep.PrometheusURL == "" || dep.Metrics == nil {
		t.Fatalf("no prometheus: url %q", dep.PrometheusURL)
	}
	series, err := dep.Metrics.Query(ctx, "vector(42)", time.Now())
	if err != nil {
		t.Fatalf("query prometheus through %s: %v", dep.PrometheusURL, err)
	}
	if len(series) != 1 || len(series[0].Points) != 1 || series[0].Points[0].V != 42 {
		t.Errorf("vector(42) = %+v", series)
	}
	dep.Metrics.Close()

	// A container that exits and restarts is reported on Failures, naming
	// the pod and how it ended (kwok has no kubelet: the test writes the
	// status a kubelet would).
	victim, err := cp.cs.CoreV1().Pods(ns).Get(ctx, podOf["text"], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	victim.Status.ContainerStatuses[0].RestartCount = 1
	victim.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}
	if _, err := cp.cs.CoreV1().Pods(ns).UpdateStatus(ctx, victim, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ferr := <-dep.Failures:
		if msg := ferr.Error(); !strings.Contains(msg, "social/"+victim.Name+" container service exited 2 (Error) and was restarted (restart 1)") {
			t.Errorf("failure report: %v", msg)
		}
	case <-time.After(30 * time.Second):
		t.Error("no failure reported for a restarted container")
	}
	// So is a pod that starts terminating under the running system (an
	// eviction, a kubectl delete), although its Deployment replaces it. A
	// finalizer keeps the pod, and so its agent for Stop to clear, until
	// Stop deletes the system (its Deployment first).
	held := podOf["image"]
	const hold = `{"metadata":{"finalizers":["vecro.test/hold"]}}`
	if _, err := cp.cs.CoreV1().Pods(ns).Patch(ctx, held, types.MergePatchType, []byte(hold), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.cs.CoreV1().Pods(ns).Delete(ctx, held, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ferr := <-dep.Failures:
		if msg := ferr.Error(); !strings.Contains(msg, "pod social/"+held+" is being deleted") {
			t.Errorf("failure report for a deleted pod: %v", msg)
		}
	case <-time.After(30 * time.Second):
		t.Error("no failure reported for a pod being deleted")
	}
	release := make(chan struct{})
	go func() {
		defer close(release)
		for ctx.Err() == nil {
			if d, err := cp.cs.AppsV1().Deployments(ns).Get(ctx, "social-image", metav1.GetOptions{}); err != nil || d.DeletionTimestamp != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		cp.cs.CoreV1().Pods(ns).Patch(context.WithoutCancel(ctx), held, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	}()

	// Teardown: faults cleared first, then everything deleted.
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	<-release
	for pod, a := range agents {
		if faults, _, clears := a.snapshot(); clears != 1 || len(faults) != 0 {
			t.Errorf("agent of %s: %d clears, faults left %v", pod, clears, faults)
		}
	}
	if _, err := cp.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after stop: %v", ns, err)
	}
	left, err := cp.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector("social")})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("pods left after stop: %v %v", err, left)
	}
	if err := r.Stop(ctx); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// TestRolloutFailsClearly deploys to a cluster whose nodes are all tainted:
// the rollout wait gives up at its deadline and says which Deployment, and
// why, in the scheduler's words.
func TestRolloutFailsClearly(t *testing.T) {
	cp := sharedControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	taint := corev1.Taint{Key: "vecro.test/cordoned", Value: "yes", Effect: corev1.TaintEffectNoSchedule}
	setTaint(ctx, t, cp, &taint)
	t.Cleanup(func() { setTaint(context.Background(), t, cp, nil) })

	sys := &spec.System{Name: "broken", Services: []spec.Service{{Name: "front", Type: spec.TypeBase, Calls: []string{"back"}}, {Name: "back", Type: spec.TypeBase}}}
	r := kube.New(kube.Options{Cluster: &kube.Cluster{RESTConfig: cp.cfg}, Image: testImage, Monitoring: kube.MonitoringNone, RolloutTimeout: 8 * time.Second, Logger: testLogger(t)})
	began := time.Now()
	_, err := r.Start(ctx, sys)
	took := time.Since(began)
	if err == nil {
		r.Stop(ctx)
		t.Fatal("start succeeded on tainted nodes")
	}
	t.Logf("the report:\n%v", err)
	var re *kube.RolloutError
	if !errors.As(err, &re) {
		t.Fatalf("error %T is not a *RolloutError: %v", err, err)
	}
	if len(re.NotReady) != 2 || re.NotReady[0].Name != "broken-front" || re.NotReady[1].Name != "broken-back" {
		t.Fatalf("not ready: %+v", re.NotReady)
	}
	for _, d := range re.NotReady {
		if len(d.Pods) != 1 {
			t.Fatalf("deployment %s: pods %+v", d.Name, d.Pods)
		}
		p := d.Pods[0]
		if p.Phase != corev1.PodPending || !slices.ContainsFunc(p.Problems, func(s string) bool {
			return strings.Contains(s, "not scheduled (Unschedulable)") && strings.Contains(s, "untolerated taint")
		}) {
			t.Errorf("pod %s: %s, problems %q", p.Name, p.Phase, p.Problems)
		}
	}
	msg := err.Error()
	for _, want := range []string{"namespace broken", "2 deployment(s) not ready after 8", "(deadline of 8s passed)", "deployment broken-front: 1 wanted, 1 updated, 0 ready", "untolerated taint"} {
		if !strings.Contains(msg, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The time it says it waited is the time it waited, not the bound.
	if re.Waited < 8*time.Second || re.Waited > took {
		t.Errorf("says it waited %v: want from the 8 s bound to the %v Start took", re.Waited, took)
	}
	// Teardown after a failed start removes what was applied.
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("stop after failed start: %v", err)
	}
	if _, err := cp.cs.CoreV1().Namespaces().Get(ctx, "broken", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace broken after stop: %v", err)
	}
}

// installFakeKubePrometheus stands in for kube-prometheus: the Prometheus
// object its operator would manage and a pod with the operator's labels,
// made Ready by kwok and forwarded to a real Prometheus on this machine.
func installFakeKubePrometheus(ctx context.Context, t *testing.T, cp *controlPlane, promAddr string) {
	t.Helper()
	kp := kube.DefaultKubePrometheus
	if _, err := cp.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kp.Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	prom := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "Prometheus",
		"metadata":   map[string]any{"name": kp.Prometheus, "namespace": kp.Namespace},
		"spec":       map[string]any{"serviceAccountName": kp.ServiceAccount, "serviceMonitorSelector": map[string]any{}},
	}}
	if _, err := cp.dyn.Resource(schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}).Namespace(kp.Namespace).Create(ctx, prom, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-" + kp.Prometheus + "-0", Namespace: kp.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "prometheus", "prometheus": kp.Prometheus}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "prometheus", Image: "quay.io/prometheus/prometheus", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090}}}}},
	}
	if _, err := cp.cs.CoreV1().Pods(kp.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if err := cp.forwardPodPorts(ctx, kp.Namespace, pod.Name, map[int]string{9090: promAddr}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func setTaint(ctx context.Context, t testing.TB, cp *controlPlane, taint *corev1.Taint) {
	t.Helper()
	nodes, err := cp.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(x corev1.Taint) bool { return x.Key == "vecro.test/cordoned" })
		if taint != nil {
			n.Spec.Taints = append(n.Spec.Taints, *taint)
		}
		if _, err := cp.cs.CoreV1().Nodes().Update(ctx, &n, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("taint node %s: %v", n.Name, err)
		}
	}
}

func secretToken(ctx context.Context, t testing.TB, cp *controlPlane, ns string) string {
	t.Helper()
	secs, err := cp.cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector("social")})
	if err != nil || len(secs.Items) != 1 {
		t.Fatalf("agent secret: %v %v", err, secs)
	}
	tok := string(secs.Items[0].Data["token"])
	if len(tok) != 64 {
		t.Fatalf("token %q is not 32 random bytes in hex", tok)
	}
	return tok
}

// getEventually GETs url until it answers 200: kwok learns of a new
// PortForward object through a watch.
func getEventually(ctx context.Context, t testing.TB, url string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// TestAutoMonitoringFallsBack: with no kube-prometheus in the cluster and
// its release unreachable (a closed port stands in for GitHub without
// internet), auto monitoring says so and applies the standalone Prometheus
// with the system — every object accepted by the real API server, its
// cluster-wide access included — and deleting the system (as `vecro delete`
// does after the deploying process was killed) removes the cluster-scoped
// objects too.
func TestAutoMonitoringFallsBack(t *testing.T) {
	cp := sharedControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	var logs testutil.SyncBuffer
	sys := &spec.System{Name: "offline", Services: []spec.Service{{Name: "front", Type: spec.TypeBase, Calls: []string{"back"}}, {Name: "back", Type: spec.TypeBase}}}
	r := kube.New(kube.Options{
		Cluster: &kube.Cluster{RESTConfig: cp.cfg}, Image: testImage, Monitoring: kube.MonitoringAuto,
		// Names no other test's stand-in uses, so that Installed is false
		// whatever ran before on the shared control plane.
		KubePrometheus: kube.KubePrometheus{URL: url + "/{version}.tar.gz", CacheDir: t.TempDir(), Namespace: "no-monitoring", Prometheus: "none"},
		Standalone:     kube.Standalone{Image: "vecro.local/prometheus:envtest"},
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err := r.InstallMonitoring(ctx); err != nil {
		t.Fatalf("auto monitoring without kube-prometheus: %v", err)
	}
	t.Logf("log:\n%s", logs.String())
	if !strings.Contains(logs.String(), "kube-prometheus cannot be fetched; deploying the standalone Prometheus") {
		t.Errorf("the fallback was not said:\n%s", logs.String())
	}
	m, applied, err := r.Apply(ctx, sys)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	kinds := map[string]bool{}
	for _, a := range applied {
		kinds[a.Object.Kind+"/"+a.Object.Name] = true
	}
	for _, want := range []string{"ClusterRole/vecro-prometheus-offline", "ClusterRoleBinding/vecro-prometheus-offline", "ConfigMap/offline-vecro-prometheus", "Deployment/offline-vecro-prometheus", "ServiceAccount/offline-vecro-prometheus"} {
		if !kinds[want] {
			t.Errorf("applied lacks %s: %v", want, kinds)
		}
	}
	if kinds["ServiceMonitor/offline"] {
		t.Error("a ServiceMonitor was applied in standalone mode")
	}
	if _, err := cp.cs.RbacV1().ClusterRoles().Get(ctx, "vecro-prometheus-offline", metav1.GetOptions{}); err != nil {
		t.Fatalf("cluster role: %v", err)
	}
	if m.Namespace != "offline" {
		t.Errorf("namespace %q", m.Namespace)
	}
	// The deploying process is gone (SIGKILL): a new runtime, as `vecro
	// delete` makes, finds and removes what it left.
	r2 := kube.New(kube.Options{Cluster: &kube.Cluster{RESTConfig: cp.cfg}, Logger: testLogger(t)})
	if err := r2.Delete(ctx, sys); err != nil {
		t.Fatalf("delete leftovers: %v", err)
	}
	// The first runtime's own teardown still works on nothing.
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("delete after delete: %v", err)
	}
	if _, err := cp.cs.RbacV1().ClusterRoles().Get(ctx, "vecro-prometheus-offline", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster role after delete: %v", err)
	}
	if _, err := cp.cs.RbacV1().ClusterRoleBindings().Get(ctx, "vecro-prometheus-offline", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster role binding after delete: %v", err)
	}
	if _, err := cp.cs.CoreV1().Namespaces().Get(ctx, "offline", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after delete: %v", err)
	}
}
