package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/runtime"
)

// TestSeedCommands runs the seed document's three commands as it writes
// them — single dashes, -deffile, the quoted URL list, -duration — against
// the embedded runtime, in a directory of their own so that the default
// state file is the one they share. Only the paths and the durations are
// this test's.
func TestSeedCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a real system")
	}
	sys, err := filepath.Abs(fx + "/systems/simple.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// ./deploy -deffile your-system.yaml
	_, dep, _ := startDeployIn(t, dir, filepath.Join(dir, runtime.DefaultStateFile), "deploy", "-deffile", sys)
	t.Chdir(dir)

	// ./load -delay 100ms -duration 2h -users 5 -url "http://localhost:8080 http://localhost:8081 http://localhost:8082"
	var urls []string
	for _, s := range dep.Services {
		urls = append(urls, s.URL)
	}
	out, err := vecro(t, "load", "-delay", "100ms", "-duration", "2s", "-users", "5", "-url", strings.Join(urls, " "), "-body", "hi")
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	if want := "Closed loop 2s, 5 users, one request to each of the 3 URLs per 100ms each"; !strings.Contains(out, want) {
		t.Errorf("load report lacks %q:\n%s", want, out)
	}

	// ./inject -deffile social-delay.yaml -duration 30m, with a schedule
	// that outlasts -duration: the second fault is left out, the first cut.
	faults := filepath.Join(dir, "simple-delay.yaml")
	if err := os.WriteFile(faults, []byte(`name: simple-delay
namespace: simple
faults:
  - name: backend-delay
    target: backend
    start: 1s
    duration: 1min
    behaviors:
      net-delay: {time: 50ms}
  - name: late-abort
    target: frontend
    start: 10s
    duration: 5s
    behaviors:
      http-abort: {percent: 100}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	out, err = vecro(t, "inject", "-deffile", faults, "-duration", "3s")
	took := time.Since(t0)
	if err != nil {
		t.Fatalf("inject: %v\n%s", err, out)
	}
	for _, want := range []string{
		"fault backend-delay (1m0s from 1s) outlasts --duration 3s: it ends at 3s",
		"fault late-abort starts at 10s, not before --duration 3s: left out",
		"pushed backend-delay.net-delay to 1 instance(s) of backend",
		"backend-delay  net-delay",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inject output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pushed late-abort") {
		t.Errorf("a fault after -duration was pushed:\n%s", out)
	}
	// It runs for -duration (after the 1 s lead), not for the fault file's minute.
	if took < 4*time.Second || took > 20*time.Second {
		t.Errorf("inject -duration 3s took %v", took)
	}

	// Ctrl-C clears the faults before their end.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	var sink strings.Builder
	err = run(ctx, []string{"inject", "-deffile", faults, "-duration", "1m"}, streams{In: strings.NewReader(""), Out: &sink, Err: &sink})
	if err == nil || !strings.Contains(err.Error(), "interrupted: faults cleared") {
		t.Fatalf("inject interrupted: %v\n%s", err, sink.String())
	}
	out, err = vecro(t, "faults", "list")
	if err != nil || strings.Contains(out, "active") {
		t.Errorf("faults after Ctrl-C: %v\n%s", err, out)
	}
}

// TestSeedKubeconfig: -kubeconfig selects the Kubernetes runtime for deploy
// and inject, and an unreachable cluster is an error that names it, at once.
func TestSeedKubeconfig(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "-deffile", fx + "/systems/simple.yaml", "-kubeconfig", kc}, "--kubeconfig " + kc + ": connect to the cluster at https://127.0.0.1:1"},
		{[]string{"inject", "-deffile", fx + "/faults/social-delay.yaml", "-duration", "30m", "-kubeconfig", kc},
			"inject through --kubeconfig " + kc + ": connect to the cluster at https://127.0.0.1:1"},
		{[]string{"inject", "-deffile", fx + "/faults/social-delay.yaml", "--namespace", "x"}, "--context and --namespace are for --kubeconfig"},
		{[]string{"deploy", "-deffile", fx + "/systems/simple.yaml", "-kubeconfig", kc, "--runtime", "local"}, "--kind, --kubeconfig and --dry-run are for --runtime kube"},
	} {
		t0 := time.Now()
		out, err := vecro(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("vecro %s: %v, want an error with %q\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
		if d := time.Since(t0); d > 30*time.Second {
			t.Errorf("vecro %s took %v", strings.Join(c.args, " "), d)
		}
	}
}

// TestOriginalMetricNames: with --original-metric-names an instance serves
// the original's series beside vecro's.
func TestOriginalMetricNames(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a real system")
	}
	_, dep, _ := startDeploy(t, "--original-metric-names", fx+"/systems/simple.yaml")
	front, _ := dep.Service("frontend")
	if code := getStatus(t, front.URL); code != http.StatusOK {
		t.Fatalf("frontend answers %d", code)
	}
	resp, err := http.Get(front.Instances[0].Agent.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`vecro_base_simple_request_count{`,
		"vecro_base_simple_latency_histogram_bucket",
		"vecro_base_simple_throughput",
		"vecro_http_requests_total",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(string(body), `vecrosim_service_name="frontend"`) {
		t.Errorf("/metrics lacks the original's label vecrosim_service_name")
	}
}

// TestOriginalMetricNamesKube: on Kubernetes the flag reaches the service
// container's environment (the service reads VECRO_LEGACY_METRICS).
func TestOriginalMetricNamesKube(t *testing.T) {
	for _, flag := range []bool{true, false} {
		args := []string{"deploy", "--runtime", "kube", "--dry-run", fx + "/systems/simple.yaml"}
		if flag {
			args = append(args, "--original-metric-names")
		}
		out, err := vecro(t, args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if n := strings.Count(out, "name: VECRO_LEGACY_METRICS"); (n == 3) != flag || (n == 0) == flag {
			t.Errorf("--original-metric-names=%v: %d containers with VECRO_LEGACY_METRICS, want %d", flag, n, map[bool]int{true: 3}[flag])
		}
	}
}
