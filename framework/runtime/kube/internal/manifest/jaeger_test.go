package manifest_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
)

// TestJaegerManifest: with a Jaeger image the system gets Jaeger (its
// configuration, one pod with a readiness probe on its query API, a
// Service for OTLP) and every service sends its spans there; without one,
// no service has an OTLP endpoint.
func TestJaegerManifest(t *testing.T) {
	sys := loadSystem(t, "social")
	o := manifestOptions()
	plain, err := manifest.Build(sys, o)
	if err != nil {
		t.Fatal(err)
	}
	o.JaegerImage, o.TraceSampleRatio = "vecro.local/jaeger:abc", 0.5
	m, err := manifest.Build(sys, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Objects) != len(plain.Objects)+3 {
		t.Errorf("%d objects with Jaeger, %d without: want 3 more", len(m.Objects), len(plain.Objects))
	}
	name := manifest.JaegerName("social")
	cm := decodeAs[corev1.ConfigMap](t, find(t, m, "ConfigMap", name))
	cfg := cm.Data["config.yaml"]
	for _, want := range []string{"endpoint: 0.0.0.0:4318", "endpoint: 0.0.0.0:16686", "max_traces: 20000", "level: none"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	d := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", name))
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "vecro.local/jaeger:abc" || strings.Join(c.Args, " ") != "--config /etc/jaeger/config.yaml" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/api/v3/services" || d.Spec.Template.Labels["vecro-sim/role"] != "jaeger" {
		t.Errorf("jaeger container %+v, labels %v", c, d.Spec.Template.Labels)
	}
	svc := decodeAs[corev1.Service](t, find(t, m, "Service", name))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != manifest.JaegerOTLPPort {
		t.Errorf("jaeger service ports %+v", svc.Spec.Ports)
	}

	endpoint := func(m *manifest.Manifest) (string, string) {
		d := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "social-follow-user"))
		env := envOf(d.Spec.Template.Spec.Containers[0])
		return env["VECRO_OTLP_ENDPOINT"].Value, env["VECRO_TRACE_SAMPLE"].Value
	}
	if ep, ratio := endpoint(m); ep != "http://social-vecro-jaeger:4318" || ratio != "0.5" {
		t.Errorf("with Jaeger: OTLP endpoint %q, sample ratio %q", ep, ratio)
	}
	if ep, _ := endpoint(plain); ep != "" {
		t.Errorf("without Jaeger: OTLP endpoint %q", ep)
	}
}
