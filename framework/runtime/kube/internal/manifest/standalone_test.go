package manifest_test

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
)

// TestStandaloneManifest: the standalone Prometheus comes with the system,
// with access to the system's pods and the nodes' metrics only, and a
// configuration that scrapes the admin ports of the system's service pods
// and the kubelets' cAdvisor, keeping only the namespace's containers but
// not Prometheus' own.
func TestStandaloneManifest(t *testing.T) {
	o := manifestOptions()
	o.Namespace = "exp"
	o.Monitor = false // the runtime sets one or the other
	o.Standalone = &manifest.Standalone{}
	o.PrometheusImage = "vecro.local/prometheus:test"
	m, err := manifest.Build(loadSystem(t, "social"), o)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]manifest.Object{}
	for _, obj := range m.Objects {
		byName[obj.Kind+"/"+obj.Name] = obj
		if obj.Kind == "ServiceMonitor" {
			t.Error("standalone monitoring has a ServiceMonitor")
		}
	}
	get := func(key string, into any) {
		t.Helper()
		obj, ok := byName[key]
		if !ok {
			t.Fatalf("no %s among %d objects", key, len(m.Objects))
		}
		if err := json.Unmarshal(obj.Body, into); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	var cr rbacv1.ClusterRole
	get("ClusterRole/vecro-prometheus-exp", &cr)
	if byName["ClusterRole/vecro-prometheus-exp"].Namespace != "" || len(cr.Rules) != 1 || strings.Join(cr.Rules[0].Resources, ",") != "nodes,nodes/metrics" || strings.Join(cr.Rules[0].Verbs, ",") != "get,list,watch" {
		t.Errorf("cluster role: %+v", cr.Rules)
	}
	var crb rbacv1.ClusterRoleBinding
	get("ClusterRoleBinding/vecro-prometheus-exp", &crb)
	if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != "exp" || crb.Subjects[0].Name != "social-vecro-prometheus" {
		t.Errorf("cluster role binding subjects: %+v", crb.Subjects)
	}
	var role rbacv1.Role
	get("Role/social-vecro-prometheus", &role)
	if len(role.Rules) != 1 || strings.Join(role.Rules[0].Resources, ",") != "pods" {
		t.Errorf("role: %+v", role.Rules)
	}

	var d appsv1.Deployment
	get("Deployment/social-vecro-prometheus", &d)
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "social-vecro-prometheus" || len(pod.Containers) != 1 || pod.Containers[0].Image != o.PrometheusImage || pod.Containers[0].ReadinessProbe == nil {
		t.Errorf("prometheus deployment: %+v", pod)
	}
	if d.Spec.Template.Labels[manifest.LabelService] != "" {
		t.Error("the Prometheus pod carries a service label: it would be scraped and counted as a service")
	}

	var cm corev1.ConfigMap
	get("ConfigMap/social-vecro-prometheus", &cm)
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string           `json:"job_name"`
			MetricsPath   string           `json:"metrics_path"`
			Scheme        string           `json:"scheme"`
			SD            []map[string]any `json:"kubernetes_sd_configs"`
			Relabel       []map[string]any `json:"relabel_configs"`
			MetricRelabel []map[string]any `json:"metric_relabel_configs"`
			Native        *bool            `json:"scrape_native_histograms"`
			Classic       *bool            `json:"always_scrape_classic_histograms"`
			Protocols     []string         `json:"scrape_protocols"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["prometheus.yml"]), &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v\n%s", err, cm.Data["prometheus.yml"])
	}
	if len(cfg.ScrapeConfigs) != 2 {
		t.Fatalf("scrape configs: %+v", cfg.ScrapeConfigs)
	}
	svc, kubelet := cfg.ScrapeConfigs[0], cfg.ScrapeConfigs[1]
	text := cm.Data["prometheus.yml"]
	for _, want := range []string{"- exp\n", "__meta_kubernetes_pod_label_vecro_sim_service_name", "regex: admin", "app.kubernetes.io/name=social,app.kubernetes.io/managed-by=vecro-sim"} {
		if !strings.Contains(text, want) {
			t.Errorf("prometheus.yml lacks %q:\n%s", want, text)
		}
	}
	if svc.SD[0]["role"] != "pod" || kubelet.SD[0]["role"] != "node" || kubelet.MetricsPath != "/metrics/cadvisor" || kubelet.Scheme != "https" {
		t.Errorf("jobs: %+v / %+v", svc, kubelet)
	}
	// The services' native histograms are scraped (protobuf first) and
	// their classic series kept; cAdvisor's text format is left alone.
	if svc.Native == nil || !*svc.Native || svc.Classic == nil || !*svc.Classic || len(svc.Protocols) == 0 || svc.Protocols[0] != "PrometheusProto" {
		t.Errorf("services job: native %v, always classic %v, protocols %v; want true, true, PrometheusProto first", svc.Native, svc.Classic, svc.Protocols)
	}
	if kubelet.Native != nil || kubelet.Protocols != nil {
		t.Errorf("kubelet job: native %v, protocols %v; want Prometheus' defaults", kubelet.Native, kubelet.Protocols)
	}
	if len(kubelet.MetricRelabel) != 2 || kubelet.MetricRelabel[0]["regex"] != "exp" || kubelet.MetricRelabel[1]["regex"] != "(social-vecro-prometheus|social-vecro-jaeger)-.*" || kubelet.MetricRelabel[1]["action"] != "drop" {
		t.Errorf("kubelet metric relabelling: %+v", kubelet.MetricRelabel)
	}

	// Without an image the manifest is refused, not half-built.
	o.PrometheusImage = ""
	if _, err := manifest.Build(loadSystem(t, "social"), o); err == nil || !strings.Contains(err.Error(), "without a Prometheus image") {
		t.Errorf("no prometheus image: %v", err)
	}
}
