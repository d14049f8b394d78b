package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/vecrosim/vecro/framework/runtime/kube"
)

// deployWithKube is deploy's flag set around a stand-in local RunE, with
// the kube runtime added as newDeployCmd adds it.
func deployWithKube(o *deployOptions, localRan *bool) *cobra.Command {
	cmd := &cobra.Command{Use: "deploy", Args: cobra.MaximumNArgs(1), SilenceUsage: true, SilenceErrors: true,
		RunE: func(*cobra.Command, []string) error { *localRan = true; return nil }}
	cmd.Flags().String("deffile", "", "")
	stateFlag(cmd, &o.state)
	cmd.Flags().StringVar(&o.runtime, "runtime", "local", "")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "")
	cmd.Flags().Int64Var(&o.seed, "seed", 1, "")
	return withKube(cmd, o)
}

func runDeployArgs(t *testing.T, args ...string) (out string, localRan bool, err error) {
	t.Helper()
	var o deployOptions
	cmd := deployWithKube(&o, &localRan)
	var buf, errBuf bytes.Buffer
	cmd.SetOut(&buf)
	cmd.SetErr(&errBuf)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return buf.String(), localRan, err
}

func TestDeployKubeDryRun(t *testing.T) {
	out, localRan, err := runDeployArgs(t, "--runtime", "kube", "--dry-run", "../../fixtures/systems/social.yaml")
	if err != nil || localRan {
		t.Fatalf("dry run: %v (local ran: %v)", err, localRan)
	}
	objs, err := decodeObjects([]byte(out))
	if err != nil {
		t.Fatalf("the dry run's YAML does not parse: %v\n%s", err, out)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	if kinds["Deployment"] != 25 || kinds["Service"] != 26 || kinds["Namespace"] != 1 || kinds["ServiceMonitor"] != 1 || kinds["Secret"] != 1 {
		t.Errorf("kinds %v", kinds)
	}
	for _, want := range []string{"# vecro deploy --runtime kube: social (25 services) into namespace social, 56 objects", "image: vecro.local/service:dev", "name: social-posts-storage-db", "image: mongo:4.2", "--call"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	if strings.Contains(out, "kind: Pod\n") {
		t.Error("dry run has pods")
	}

	// --dry-run alone means the kube runtime; options shape the output.
	out, _, err = runDeployArgs(t, "--dry-run", "--monitoring", "none", "--image", "registry.example/vecro/service:1", "--namespace", "exp1", "../../fixtures/systems/simple.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "ServiceMonitor") || !strings.Contains(out, "namespace: exp1") || !strings.Contains(out, "image: registry.example/vecro/service:1") || strings.Contains(out, kube.DryRunImage) {
		t.Errorf("dry run with options:\n%s", out)
	}

	// Standalone Monitoring: Prometheus comes with the system, with access
	// to the system's pods and the nodes' metrics, and no ServiceMonitor.
	out, _, err = runDeployArgs(t, "--dry-run", "--monitoring", "standalone", "../../fixtures/systems/simple.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err = decodeObjects([]byte(out))
	if err != nil {
		t.Fatalf("the dry run's YAML does not parse: %v\n%s", err, out)
	}
	names := map[string]bool{}
	for _, o := range objs {
		names[o.GetKind()+"/"+o.GetName()] = true
	}
	for _, want := range []string{"ServiceAccount/simple-vecro-prometheus", "Role/simple-vecro-prometheus", "RoleBinding/simple-vecro-prometheus", "ClusterRole/vecro-prometheus-simple", "ClusterRoleBinding/vecro-prometheus-simple", "ConfigMap/simple-vecro-prometheus", "Deployment/simple-vecro-prometheus"} {
		if !names[want] {
			t.Errorf("standalone dry run lacks %s (has %v)", want, names)
		}
	}
	if strings.Contains(out, "ServiceMonitor") || !strings.Contains(out, "image: "+kube.DryRunPrometheusImage) || !strings.Contains(out, "/metrics/cadvisor") {
		t.Errorf("standalone dry run:\n%s", out)
	}
}

func TestDeployKubeDispatch(t *testing.T) {
	if _, localRan, err := runDeployArgs(t, "../../fixtures/systems/simple.yaml"); err != nil || !localRan {
		t.Errorf("default runtime: %v, local ran %v", err, localRan)
	}
	_, localRan, err := runDeployArgs(t, "--runtime", "local", "--kind", "../../fixtures/systems/simple.yaml")
	if err == nil || localRan || !strings.Contains(err.Error(), "are for --runtime kube") {
		t.Errorf("--runtime local --kind: %v", err)
	}
	_, _, err = runDeployArgs(t, "--runtime", "kube", "--dry-run", "--monitoring", "prometheus", "../../fixtures/systems/simple.yaml")
	if err == nil || !strings.Contains(err.Error(), `monitoring mode "prometheus": want one of auto,`) {
		t.Errorf("bad --Monitoring: %v", err)
	}
	_, _, err = runDeployArgs(t, "--kind", "--kubeconfig", "/nonexistent", "../../fixtures/systems/simple.yaml")
	if err == nil || !strings.Contains(err.Error(), "--kind provisions its own cluster") {
		t.Errorf("--kind with --kubeconfig: %v", err)
	}
	// An existing cluster that is not there: the error names the kubeconfig.
	_, _, err = runDeployArgs(t, "--kubeconfig", "/nonexistent/kubeconfig", "--state", t.TempDir()+"/state.json", "../../fixtures/systems/simple.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kubeconfig") {
		t.Errorf("missing kubeconfig: %v", err)
	}
}

// TestDeleteErrors: delete needs a system file and a reachable cluster, and
// says which kubeconfig it could not use. (It deletes for real in
// framework/runtime/kube's envtest suite, TestAutoMonitoringFallsBack.)
func TestDeleteErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"delete", "--kubeconfig", "/nonexistent/kubeconfig", "../../fixtures/systems/social.yaml"}, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if err == nil || !strings.Contains(err.Error(), "delete social: kubeconfig /nonexistent/kubeconfig") {
		t.Errorf("missing kubeconfig: %v", err)
	}
	err = run(context.Background(), []string{"delete", "../../fixtures/invalid/does-not-exist.yaml"}, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("missing system file: %v", err)
	}
}

// TestKubeOptions: the flags that shape a cluster's images and requests,
// and their errors.
func TestKubeOptions(t *testing.T) {
	o, err := kubeOptions(kubeFlags{Monitoring: "auto", Containerd: "/run/k/containerd.sock", CPURequest: "20m", MemoryRequest: "32Mi", DBImages: []string{"mongodb=vecro.local/ferretdb:v1.24.2"}}, "", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := o.Loader.(kube.Containerd); !ok || c.Address != "/run/k/containerd.sock" {
		t.Errorf("loader %#v", o.Loader)
	}
	if o.CPURequest != 20 || o.MemoryRequest != 32<<20 {
		t.Errorf("requests %v, %v", o.CPURequest, o.MemoryRequest)
	}
	if db := o.DBImages["mongodb"]; db.Image != "vecro.local/ferretdb:v1.24.2" || db.Port != 27017 || len(db.Args) != 0 {
		t.Errorf("mongodb image %+v", db)
	}
	o, err = kubeOptions(kubeFlags{Monitoring: "standalone", Registry: "reg.example/vecro", Insecure: true, PromImage: "reg.example/prom:3"}, "", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := o.Loader.(kube.Registry); !ok || r.Prefix != "reg.example/vecro" || !r.Insecure || o.Standalone.Image != "reg.example/prom:3" || o.Monitoring != kube.MonitoringStandalone {
		t.Errorf("options %+v", o)
	}
	for _, tc := range []struct {
		k    kubeFlags
		want string
	}{
		{kubeFlags{Monitoring: "auto", Registry: "r", Containerd: "s"}, "--registry and --containerd-socket both say where built images go"},
		{kubeFlags{Monitoring: "auto", CPURequest: "lots"}, `--cpu-request "lots": want a positive CPU quantity such as 20m or 0.5: `},
		{kubeFlags{Monitoring: "auto", CPURequest: "0"}, `--cpu-request "0": want a positive CPU quantity such as 20m or 0.5`},
		{kubeFlags{Monitoring: "auto", MemoryRequest: "-1Mi"}, `--memory-request "-1Mi": want a positive size`},
		{kubeFlags{Monitoring: "auto", DBImages: []string{"postgres=pg:16"}}, `--db-image "postgres=pg:16": want TYPE=IMAGE with TYPE mongodb, redis or mysql`},
		{kubeFlags{Monitoring: "auto", DBImages: []string{"mongodb"}}, `--db-image "mongodb": want TYPE=IMAGE`},
	} {
		_, err := kubeOptions(tc.k, "", 1, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.k, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "<nil>") {
			t.Errorf("%+v: %v", tc.k, err)
		}
	}
}

// decodeObjects reads a multi-document YAML stream of Kubernetes objects,
// as kubectl would read the dry run's output; each must have a kind and an
// apiVersion.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: no kind or apiVersion", i)
		}
		out = append(out, u)
	}
}
