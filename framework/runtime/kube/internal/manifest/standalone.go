package manifest

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/yaml"
)

// PrometheusPort is the standalone Prometheus' HTTP port.
const PrometheusPort = 9090

// roleLabelPrometheus is LabelRole on the standalone Prometheus' pod.
const roleLabelPrometheus = "prometheus"

// Standalone configures MonitoringStandalone: a plain Prometheus (no
// operator, no CRDs, no image from the internet) deployed into the system's
// namespace with the system and deleted with it. It discovers the system's
// pods through the API server (kubernetes_sd) and scrapes their admin port,
// and scrapes every kubelet's cAdvisor endpoint, so that the dataset's
// resource families come from the same container_* series as with
// kube-prometheus.
type Standalone struct {
	// Image is a Prometheus image the cluster can pull. Empty: the runtime
	// packs Binary into an image (framework/image) and hands it to the
	// ImageLoader.
	Image string
	// Binary is a static linux Prometheus; default the tool cache's
	// PrometheusVersion (`make prometheus` builds it).
	Binary string
	// ScrapeInterval is how often the services' admin ports are scraped;
	// default 1s, as the ServiceMonitor of the kube-prometheus mode.
	ScrapeInterval time.Duration
	// KubeletInterval is how often the kubelets' cAdvisor endpoints are
	// scraped; default 2s, so that a 5 s rate window holds two samples.
	// cAdvisor refreshes a container's stats every kubelet
	// --housekeeping-interval (10 s by default; the offline test node uses
	// 1 s) and its samples carry that time: on a default kubelet the
	// resource families need windows of 30 s or more.
	KubeletInterval time.Duration
	// Timeout bounds the wait for Prometheus to be ready; default 3
	// minutes.
	Timeout time.Duration
}

func (s Standalone) WithDefaults() Standalone {
	if s.ScrapeInterval <= 0 {
		s.ScrapeInterval = time.Second
	}
	if s.KubeletInterval <= 0 {
		s.KubeletInterval = 2 * time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = 3 * time.Minute
	}
	return s
}

// prometheusName names the standalone Prometheus' objects in the system's
// namespace (ServiceAccount, Role, ConfigMap, Deployment).
func prometheusName(system string) string { return system + "-vecro-prometheus" }

// prometheusClusterName names its ClusterRole and ClusterRoleBinding: one
// per namespace, as two systems may share a cluster.
func prometheusClusterName(ns string) string { return "vecro-prometheus-" + ns }

// PrometheusSelector selects the standalone Prometheus' pod of system.
func PrometheusSelector(system string) string {
	return SystemSelector(system) + "," + LabelRole + "=" + roleLabelPrometheus
}

var (
	gvrServiceAccount     = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrConfigMap          = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrClusterRole        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	gvrClusterRoleBinding = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
)

// The standalone Prometheus' paths and its service account token.
const (
	promConfigDir = "/etc/prometheus"
	promDataDir   = "/prometheus"
	saTokenFile   = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// standalone adds the standalone Prometheus: its service account, the
// access it needs (pods of this namespace; nodes and their metrics
// cluster-wide, for the kubelets), its configuration and its Deployment.
func (b *builder) standalone(s Standalone, img string) {
	name := prometheusName(b.sys.Name)
	l := b.labels()
	l[LabelRole] = roleLabelPrometheus
	b.add(gvrServiceAccount, "ServiceAccount", b.ns, name, corev1ac.ServiceAccount(name, b.ns).WithLabels(l))
	b.add(gvrRole, "Role", b.ns, name, rbacv1ac.Role(name, b.ns).
		WithLabels(l).
		WithRules(rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("pods").WithVerbs("get", "list", "watch")))
	b.add(gvrRoleBinding, "RoleBinding", b.ns, name, rbacv1ac.RoleBinding(name, b.ns).
		WithLabels(l).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(name)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithNamespace(b.ns).WithName(name)))
	cluster := prometheusClusterName(b.ns)
	b.add(gvrClusterRole, "ClusterRole", "", cluster, rbacv1ac.ClusterRole(cluster).
		WithLabels(l).
		// The kubelet authorizes /metrics/cadvisor as nodes/metrics.
		WithRules(rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("nodes", "nodes/metrics").WithVerbs("get", "list", "watch")))
	b.add(gvrClusterRoleBinding, "ClusterRoleBinding", "", cluster, rbacv1ac.ClusterRoleBinding(cluster).
		WithLabels(l).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(cluster)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithNamespace(b.ns).WithName(name)))

	cfg, err := prometheusConfig(b.sys.Name, b.ns, s)
	if err != nil && b.err == nil {
		b.err = err
	}
	b.add(gvrConfigMap, "ConfigMap", b.ns, name, corev1ac.ConfigMap(name, b.ns).
		WithLabels(l).
		WithData(map[string]string{"prometheus.yml": cfg}))

	// A changed configuration must restart Prometheus: the pod template
	// carries its hash.
	tmpl := corev1ac.PodTemplateSpec().
		WithLabels(l).
		WithAnnotations(map[string]string{"vecro-sim/config-hash": strconv.FormatUint(fnv64(cfg), 16)}).
		WithSpec(corev1ac.PodSpec().
			WithServiceAccountName(name).
			WithSecurityContext(corev1ac.PodSecurityContext().WithRunAsNonRoot(true).WithFSGroup(agentUser)).
			WithContainers(corev1ac.Container().
				WithName("prometheus").
				WithImage(img).
				WithImagePullPolicy(pullPolicy(b.o.PullPolicy)).
				WithArgs(
					"--config.file="+promConfigDir+"/prometheus.yml",
					"--storage.tsdb.path="+promDataDir,
					// An experiment's data is read before the system is
					// deleted, and the TSDB goes with the pod.
					"--storage.tsdb.retention.time=1d",
					"--web.listen-address=:"+strconv.Itoa(PrometheusPort),
				).
				WithPorts(corev1ac.ContainerPort().WithName("web").WithContainerPort(PrometheusPort).WithProtocol(corev1.ProtocolTCP)).
				WithReadinessProbe(corev1ac.Probe().
					WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/-/ready").WithPort(intstr.FromString("web"))).
					WithPeriodSeconds(1).WithFailureThreshold(3)).
				WithResources(corev1ac.ResourceRequirements().
					WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}).
					WithLimits(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")})).
				WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(false).WithReadOnlyRootFilesystem(true)).
				WithVolumeMounts(
					corev1ac.VolumeMount().WithName("config").WithMountPath(promConfigDir).WithReadOnly(true),
					corev1ac.VolumeMount().WithName("data").WithMountPath(promDataDir),
				)).
			WithVolumes(
				corev1ac.Volume().WithName("config").WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(name)),
				corev1ac.Volume().WithName("data").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
			))
	b.onePod(name, l, tmpl)
}

// onePod adds the one-pod Deployment of a helper the runtime runs with the
// system (the standalone Prometheus, Jaeger). Never two at once: the old
// pod goes first on a rollout.
func (b *builder) onePod(name string, l map[string]string, tmpl *corev1ac.PodTemplateSpecApplyConfiguration) {
	b.add(gvrDeployment, "Deployment", b.ns, name, appsv1ac.Deployment(name, b.ns).
		WithLabels(l).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(1).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(l)).
			WithStrategy(appsv1ac.DeploymentStrategy().WithType("Recreate")).
			WithTemplate(tmpl)))
}

// prometheusConfig is prometheus.yml of the standalone mode. Two jobs:
// every container port named "admin" of the system's service pods (their
// vecro_* series carry the system, service and instance labels
// themselves), and every kubelet's /metrics/cadvisor, as kube-prometheus
// scrapes it (HTTPS with the service account's token, its labels and
// timestamps kept), restricted to this namespace's containers.
func prometheusConfig(system, ns string, s Standalone) (string, error) {
	s = s.WithDefaults()
	dur := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
	timeout := func(d time.Duration) string { return dur(min(d, 10*time.Second)) }
	pods := map[string]any{
		"job_name":        "vecro-services",
		"scrape_interval": dur(s.ScrapeInterval),
		"scrape_timeout":  timeout(s.ScrapeInterval),
		// The services' duration histograms are native beside their
		// classic buckets: store both, as the embedded scraper does, so
		// that the quantile families read the native ones and the classic
		// series (_bucket, _sum, _count) stay.
		"scrape_native_histograms":         true,
		"always_scrape_classic_histograms": true,
		"scrape_protocols":                 nativeScrapeProtocols,
		"kubernetes_sd_configs": []any{map[string]any{
			"role":       "pod",
			"namespaces": map[string]any{"names": []string{ns}},
			"selectors":  []any{map[string]any{"role": "pod", "label": SystemSelector(system)}},
		}},
		"relabel_configs": []any{
			map[string]any{"source_labels": []string{"__meta_kubernetes_pod_container_port_name"}, "regex": "admin", "action": "keep"},
			map[string]any{"source_labels": []string{metaPodLabel(LabelService)}, "regex": ".+", "action": "keep"},
			map[string]any{"source_labels": []string{"__meta_kubernetes_namespace"}, "target_label": "namespace"},
			map[string]any{"source_labels": []string{"__meta_kubernetes_pod_name"}, "target_label": "pod"},
			map[string]any{"source_labels": []string{metaPodLabel(LabelService)}, "target_label": "service"},
		},
	}
	kubelet := map[string]any{
		"job_name":         "kubelet",
		"scrape_interval":  dur(s.KubeletInterval),
		"scrape_timeout":   timeout(s.KubeletInterval),
		"metrics_path":     "/metrics/cadvisor",
		"scheme":           "https",
		"honor_labels":     true,
		"honor_timestamps": true,
		// The kubelet's serving certificate is self-signed on most
		// clusters (kind's and kubeadm's included); kube-prometheus
		// skips verification too.
		"tls_config":            map[string]any{"insecure_skip_verify": true},
		"authorization":         map[string]any{"credentials_file": saTokenFile},
		"kubernetes_sd_configs": []any{map[string]any{"role": "node"}},
		"relabel_configs": []any{
			map[string]any{"source_labels": []string{"__meta_kubernetes_node_name"}, "target_label": "node"},
			map[string]any{"target_label": "metrics_path", "replacement": "/metrics/cadvisor"},
		},
		// A busy node has thousands of containers' series; only this
		// system's services are read. Prometheus' and Jaeger's own pods
		// are dropped: their names have the shape of a service's pod
		// (<system>-<name>-<hashes>), and they would show as services in
		// the dataset.
		"metric_relabel_configs": []any{
			map[string]any{"source_labels": []string{"namespace"}, "regex": regexp.QuoteMeta(ns), "action": "keep"},
			map[string]any{"source_labels": []string{"pod"}, "regex": "(" + regexp.QuoteMeta(prometheusName(system)) + "|" + regexp.QuoteMeta(JaegerName(system)) + ")-.*", "action": "drop"},
		},
	}
	cfg := map[string]any{
		"global": map[string]any{
			"scrape_interval":     dur(s.ScrapeInterval),
			"evaluation_interval": "1m",
			"external_labels":     map[string]any{"vecro_prometheus": ns},
		},
		"scrape_configs": []any{pods, kubelet},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("standalone prometheus config: %w", err)
	}
	return string(b), nil
}

// nativeScrapeProtocols is Prometheus' DefaultProtoFirstScrapeProtocols:
// protobuf, the only format that carries native histograms, first.
var nativeScrapeProtocols = []string{"PrometheusProto", "OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"}

// metaPodLabel is the kubernetes_sd meta label of a pod label: every
// character outside [a-zA-Z0-9_] becomes _.
func metaPodLabel(label string) string {
	var b strings.Builder
	b.WriteString("__meta_kubernetes_pod_label_")
	for _, r := range label {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// fnv64 hashes a configuration into the pod template.
func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
