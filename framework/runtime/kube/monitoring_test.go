package kube_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"
)

// A release laid out as kube-prometheus' GitHub archive is: manifests/setup
// (namespace, CRDs) and manifests/ (objects of those kinds and others).
var testRelease = map[string]string{
	"README.md": "not a manifest",
	"manifests/setup/0namespace-namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: kp-test
`,
	"manifests/setup/0widgetCustomResourceDefinition.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.vecro.dev
spec:
  group: test.vecro.dev
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`,
	"manifests/widget.yaml": `apiVersion: test.vecro.dev/v1
kind: Widget
metadata:
  name: w1
  namespace: kp-test
spec:
  size: 3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: widget-config
  namespace: kp-test
data:
  a: b
`,
	"manifests/serviceaccounts.yaml": `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: sa1, namespace: kp-test}
`,
	"manifests/grafana/ignored.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nested}\n",
}

func releaseTarball(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "kube-prometheus-0.0.0-test/", Typeflag: tar.TypeDir, Mode: 0o755})
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "kube-prometheus-0.0.0-test/" + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func releaseServer(t testing.TB, data []byte) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v0.0.0-test.tar.gz" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestFetchRelease: downloaded once, cached with its checksum, read from
// the cache afterwards, and refused when it does not match.
func TestFetchRelease(t *testing.T) {
	data := releaseTarball(t, testRelease)
	sum := sha256.Sum256(data)
	srv, hits := releaseServer(t, data)
	kp := kube.KubePrometheus{Version: "v0.0.0-test", URL: srv.URL + "/{version}.tar.gz", CacheDir: t.TempDir()}
	ctx := context.Background()

	rel, err := monitor.FetchRelease(ctx, kp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rel.SHA256 != hex.EncodeToString(sum[:]) || hits.Load() != 1 {
		t.Errorf("sha %s after %d downloads", rel.SHA256, hits.Load())
	}
	var setup, rest []string
	for _, o := range rel.Setup {
		setup = append(setup, o.GetKind()+"/"+o.GetName())
	}
	for _, o := range rel.Rest {
		rest = append(rest, o.GetKind()+"/"+o.GetName())
	}
	if got := strings.Join(setup, " "); got != "Namespace/kp-test CustomResourceDefinition/widgets.test.vecro.dev" {
		t.Errorf("setup %s", got)
	}
	// File-name order; the List flattened; the nested folder left out.
	if got := strings.Join(rest, " "); got != "ServiceAccount/sa1 Widget/w1 ConfigMap/widget-config" {
		t.Errorf("rest %s", got)
	}
	recorded, err := os.ReadFile(filepath.Join(kp.CacheDir, "v0.0.0-test", "kube-prometheus.tar.gz.sha256"))
	if err != nil || strings.TrimSpace(string(recorded)) != rel.SHA256 {
		t.Errorf("recorded checksum %q %v", recorded, err)
	}

	// From the cache: no download, even with the server gone.
	srv.Close()
	again, err := monitor.FetchRelease(ctx, kp, nil)
	if err != nil || again.SHA256 != rel.SHA256 || hits.Load() != 1 {
		t.Fatalf("cached fetch: %v (%d downloads)", err, hits.Load())
	}

	// A cached tarball that changed is refused.
	cached := filepath.Join(kp.CacheDir, "v0.0.0-test", "kube-prometheus.tar.gz")
	os.WriteFile(cached, releaseTarball(t, map[string]string{"manifests/setup/x.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}\n", "manifests/y.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n"}), 0o644)
	if _, err := monitor.FetchRelease(ctx, kp, nil); err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("tampered cache: %v", err)
	}

	// A pinned checksum is checked at download.
	srv2, _ := releaseServer(t, data)
	pinned := kube.KubePrometheus{Version: "v0.0.0-test", URL: srv2.URL + "/{version}.tar.gz", CacheDir: t.TempDir(), SHA256: strings.Repeat("0", 64)}
	if _, err := monitor.FetchRelease(ctx, pinned, nil); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("wrong pin: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pinned.CacheDir, "v0.0.0-test", "kube-prometheus.tar.gz")); !os.IsNotExist(err) {
		t.Errorf("a tarball that failed its pin was cached: %v", err)
	}
	pinned.SHA256 = rel.SHA256
	if _, err := monitor.FetchRelease(ctx, pinned, nil); err != nil {
		t.Errorf("right pin: %v", err)
	}

	// Not a kube-prometheus tarball.
	if _, err := monitor.ParseRelease(releaseTarball(t, map[string]string{"README.md": "x"})); err == nil || !strings.Contains(err.Error(), "no manifests/setup") {
		t.Errorf("empty release: %v", err)
	}
	if _, err := monitor.ParseRelease([]byte("not gzip")); err == nil {
		t.Error("garbage accepted")
	}
}

// TestReleaseScrapesNativeHistograms checks that ParseRelease switches a
// release's Prometheus to storing native histograms beside the classic
// ones, keeping the features the release enabled, and leaves other
// objects alone.
func TestReleaseScrapesNativeHistograms(t *testing.T) {
	files := map[string]string{
		"manifests/setup/0namespace-namespace.yaml": testRelease["manifests/setup/0namespace-namespace.yaml"],
		"manifests/prometheus-prometheus.yaml": `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: k8s
  namespace: monitoring
spec:
  enableFeatures: [memory-snapshot-on-shutdown]
  replicas: 2
`,
		"manifests/widget.yaml": testRelease["manifests/widget.yaml"],
	}
	rel, err := monitor.ParseRelease(releaseTarball(t, files))
	if err != nil {
		t.Fatal(err)
	}
	var prom map[string]any
	for _, o := range rel.Rest {
		switch o.GetKind() {
		case "Prometheus":
			prom = o.Object["spec"].(map[string]any)
		default:
			if _, ok, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "scrapeNativeHistograms"); ok {
				t.Errorf("%s %s patched too", o.GetKind(), o.GetName())
			}
		}
	}
	if prom == nil {
		t.Fatal("no Prometheus in the release")
	}
	if prom["scrapeNativeHistograms"] != true || prom["scrapeClassicHistograms"] != true || fmt.Sprint(prom["replicas"]) != "2" {
		t.Errorf("prometheus spec %v: want native and classic histograms scraped, the rest as released", prom)
	}
	if f, _ := prom["enableFeatures"].([]any); len(f) != 2 || f[0] != "memory-snapshot-on-shutdown" || f[1] != "native-histograms" {
		t.Errorf("enableFeatures %v: want the release's, then native-histograms", prom["enableFeatures"])
	}
}

// TestInstallRelease applies a release to the envtest API server: setup,
// CRDs established, then objects of the new kind.
func TestInstallRelease(t *testing.T) {
	cp := sharedControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rel, err := monitor.ParseRelease(releaseTarball(t, testRelease))
	if err != nil {
		t.Fatal(err)
	}
	rel.Version = "v0.0.0-test"
	if err := monitor.InstallRelease(ctx, cp.cfg, rel, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cp.cs.CoreV1().Namespaces().Delete(context.Background(), "kp-test", metav1.DeleteOptions{})
		cp.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).Delete(context.Background(), "widgets.test.vecro.dev", metav1.DeleteOptions{})
	})
	w, err := cp.dyn.Resource(schema.GroupVersionResource{Group: "test.vecro.dev", Version: "v1", Resource: "widgets"}).Namespace("kp-test").Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mf := w.GetManagedFields(); len(mf) != 1 || mf[0].Manager != kube.FieldManager || mf[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("widget managed fields %+v", mf)
	}
	if _, err := cp.cs.CoreV1().ServiceAccounts("kp-test").Get(ctx, "sa1", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	if err := monitor.WaitCRDEstablished(ctx, cp.dyn, "widgets.test.vecro.dev", time.Second); err != nil {
		t.Error(err)
	}
	// Applying again is a no-op; the release is not kube-prometheus itself.
	if err := monitor.InstallRelease(ctx, cp.cfg, rel, nil); err != nil {
		t.Fatal(err)
	}
	w2, _ := cp.dyn.Resource(schema.GroupVersionResource{Group: "test.vecro.dev", Version: "v1", Resource: "widgets"}).Namespace("kp-test").Get(ctx, "w1", metav1.GetOptions{})
	if w2.GetResourceVersion() != w.GetResourceVersion() {
		t.Errorf("second install changed the widget: %s → %s", w.GetResourceVersion(), w2.GetResourceVersion())
	}
	if err := monitor.WaitCRDEstablished(ctx, cp.dyn, "nothings.test.vecro.dev", 500*time.Millisecond); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing CRD: %v", err)
	}
}
