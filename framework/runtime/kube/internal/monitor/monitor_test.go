package monitor_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"
	"github.com/vecrosim/vecro/internal/testutil"
)

// kubePrometheusThere is what Installed looks for: the Prometheus CRD and
// the Prometheus object kp names.
func kubePrometheusThere(kp monitor.KubePrometheus) []runtime.Object {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName("prometheuses.monitoring.coreos.com")
	prom := &unstructured.Unstructured{}
	prom.SetAPIVersion("monitoring.coreos.com/v1")
	prom.SetKind("Prometheus")
	prom.SetNamespace(kp.Namespace)
	prom.SetName(kp.Prometheus)
	return []runtime.Object{crd, prom}
}

// TestMonitoringResolver walks the one resolver through every mode, with
// kube-prometheus installed or not, with and without an install, against
// a fake dynamic client (Resolve reads nothing else before it installs).
func TestMonitoringResolver(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	unreachable := closed.URL + "/{version}.tar.gz"
	closed.Close()
	kp := monitor.KubePrometheus{URL: unreachable, CacheDir: t.TempDir()}.WithDefaults()

	for _, tc := range []struct {
		mode      monitor.Mode
		installed bool
		install   bool
		want      monitor.Mode
		err       string
		log       string
	}{
		{mode: monitor.ModeNone, install: true, want: monitor.ModeNone},
		{mode: monitor.ModeStandalone, want: monitor.ModeStandalone},
		// Without an install, kube-prometheus is taken at its word.
		{mode: monitor.ModeKubePrometheus, want: monitor.ModeKubePrometheus},
		{mode: monitor.ModeKubePrometheus, install: true, err: "fetch kube-prometheus"},
		{mode: monitor.ModeKubePrometheus, installed: true, install: true, want: monitor.ModeKubePrometheus, log: "kube-prometheus is installed; not installing it"},
		{mode: monitor.ModeExisting, installed: true, want: monitor.ModeKubePrometheus},
		{mode: monitor.ModeExisting, err: "no Prometheus monitoring/k8s (prometheus-operator) in the cluster"},
		{mode: monitor.ModeExisting, install: true, err: "no Prometheus monitoring/k8s"},
		{mode: monitor.ModeAuto, installed: true, want: monitor.ModeKubePrometheus},
		{mode: monitor.ModeAuto, want: monitor.ModeStandalone},
		{mode: monitor.ModeAuto, install: true, want: monitor.ModeStandalone, log: "kube-prometheus cannot be fetched; deploying the standalone Prometheus"},
		{mode: "prometheus", err: `monitoring mode "prometheus": want one of auto,`},
	} {
		var objs []runtime.Object
		if tc.installed {
			objs = kubePrometheusThere(kp)
		}
		var logs testutil.SyncBuffer
		r := monitor.Resolver{
			Mode:            tc.mode,
			KubePrometheus:  kp,
			FetchTimeout:    5 * time.Second,
			Dynamic:         dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...),
			Log:             slog.New(slog.NewTextHandler(&logs, nil)),
			PrometheusImage: func(context.Context) (string, error) { return "vecro.local/prometheus:test", nil },
		}
		m, err := r.Resolve(context.Background(), tc.install)
		name := string(tc.mode)
		if tc.installed {
			name += " (installed)"
		}
		if tc.install {
			name += " with install"
		}
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error with %q", name, err, tc.err)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m.Mode() != tc.want {
			t.Errorf("%s: resolved to %s, want %s", name, m.Mode(), tc.want)
		}
		if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
			t.Errorf("%s: log lacks %q:\n%s", name, tc.log, logs.String())
		}
		if s, ok := m.(monitor.StandaloneMonitor); ok && s.Image != "vecro.local/prometheus:test" {
			t.Errorf("%s: standalone image %q", name, s.Image)
		}
	}
}

// TestMonitoringConfiguresManifest: each monitor puts its own objects in
// the system's manifest, and only those.
func TestMonitoringConfiguresManifest(t *testing.T) {
	kp := monitor.DefaultKubePrometheus
	var o manifest.Options
	monitor.None{}.Configure(&o)
	if o.Monitor || o.Standalone != nil {
		t.Errorf("none configured %+v", o)
	}
	monitor.KubePrometheusMonitor{Config: kp}.Configure(&o)
	if !o.Monitor || o.Prometheus != (manifest.ServiceAccountRef{Namespace: "monitoring", Name: "prometheus-k8s"}) || o.Standalone != nil {
		t.Errorf("kube-prometheus configured %+v", o)
	}
	o = manifest.Options{}
	monitor.StandaloneMonitor{Image: "p:1"}.Configure(&o)
	if o.Monitor || o.Standalone == nil || o.PrometheusImage != "p:1" {
		t.Errorf("standalone configured %+v", o)
	}
	// A standalone monitor without a way to its image says so.
	_, err := monitor.Resolver{Mode: monitor.ModeStandalone}.Resolve(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "standalone prometheus") {
		t.Errorf("standalone without an image: %v", err)
	}
	_, err = monitor.Resolver{Mode: monitor.ModeStandalone, PrometheusImage: func(context.Context) (string, error) {
		return "", errors.New("no prometheus binary")
	}}.Resolve(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "no prometheus binary") {
		t.Errorf("standalone image error: %v", err)
	}
}
