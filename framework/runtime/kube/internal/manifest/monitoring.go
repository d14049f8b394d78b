package manifest

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
)

// monitoring is the headless Service that lists every agent's admin port,
// the ServiceMonitor that scrapes it every second, and the Role that lets
// Prometheus discover them (kube-prometheus grants its Prometheus access to
// a few namespaces only).
func (b *builder) monitoring() {
	name := ObjectName(b.sys.Name, agentsServiceSuffix)
	l := b.labels()
	l[LabelRole] = "agents"
	b.add(gvrService, "Service", b.ns, name, corev1ac.Service(name, b.ns).
		WithLabels(l).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithSelector(b.labels()).
			// Scrape an agent whether or not its service is ready: a
			// service that fails its probe is when its metrics matter.
			WithPublishNotReadyAddresses(true).
			WithPorts(corev1ac.ServicePort().WithName("admin").WithPort(AdminPort).WithTargetPort(intstr.FromString("admin")).WithProtocol(corev1.ProtocolTCP))))

	sm := &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: metav1.ObjectMeta{Name: b.sys.Name, Namespace: b.ns, Labels: b.labels()},
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: l},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{b.ns}},
			Endpoints: []monitoringv1.Endpoint{{
				Port:          "admin",
				Path:          "/metrics",
				Interval:      "1s",
				ScrapeTimeout: "1s",
			}},
			// The services' duration histograms are native beside their
			// classic buckets: protobuf first and classic series kept, as
			// the embedded scraper and the standalone Prometheus do; the
			// Prometheus object itself switches native histograms on
			// (ParseRelease). Not scrapeNativeHistograms here: CRDs of
			// prometheus-operator v0.85 (kube-prometheus v0.16's era) lack
			// it, and server-side apply rejects a field its schema lacks
			// rather than dropping it (the envtest suite applies this
			// object to those CRDs).
			ScrapeProtocols: []monitoringv1.ScrapeProtocol{monitoringv1.PrometheusProto, monitoringv1.OpenMetricsText1_0_0,
				monitoringv1.OpenMetricsText0_0_1, monitoringv1.PrometheusText1_0_0, monitoringv1.PrometheusText0_0_4},
			NativeHistogramConfig: monitoringv1.NativeHistogramConfig{
				ScrapeClassicHistograms: new(true),
			},
		},
	}
	b.add(gvrServiceMonitor, monitoringv1.ServiceMonitorsKind, b.ns, b.sys.Name, serviceMonitorBody(sm))

	if b.o.Prometheus.Name == "" {
		return
	}
	role := b.sys.Name + "-vecro-prometheus"
	b.add(gvrRole, "Role", b.ns, role, rbacv1ac.Role(role, b.ns).
		WithLabels(b.labels()).
		WithRules(
			rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("services", "endpoints", "pods").WithVerbs("get", "list", "watch"),
			rbacv1ac.PolicyRule().WithAPIGroups("discovery.k8s.io").WithResources("endpointslices").WithVerbs("get", "list", "watch"),
		))
	b.add(gvrRoleBinding, "RoleBinding", b.ns, role, rbacv1ac.RoleBinding(role, b.ns).
		WithLabels(b.labels()).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(role)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithNamespace(b.o.Prometheus.Namespace).WithName(b.o.Prometheus.Name)))
}

// serviceMonitorBody drops the fields a typed object always carries but
// vecro must not own (an empty status, a null creationTimestamp).
func serviceMonitorBody(sm *monitoringv1.ServiceMonitor) map[string]any {
	return map[string]any{
		"apiVersion": sm.APIVersion,
		"kind":       sm.Kind,
		"metadata":   map[string]any{"name": sm.Name, "namespace": sm.Namespace, "labels": sm.Labels},
		"spec":       sm.Spec,
	}
}
