package kubenode

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
)

// fieldManager owns what the node applies.
const fieldManager = "vecro-kubenode"

// corefile serves the cluster's zone on 1053 (an unprivileged port, so
// CoreDNS runs as the image's non-root user without capabilities; the
// Service maps 53 to it). There is no forward: the machine has no
// upstream resolver to offer pods, so names outside the cluster fail fast.
const corefile = `.:1053 {
    errors
    health :8080
    ready :8181
    kubernetes ` + ClusterDomain + ` in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loop
    reload
}
`

// applyCoreDNS applies the cluster DNS: RBAC to read Services and
// EndpointSlices, the Corefile, one replica and the kube-dns Service at
// DNSServiceIP.
func applyCoreDNS(ctx context.Context, cs kubernetes.Interface, img string) error {
	const ns, name = "kube-system", "coredns"
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	labels := map[string]string{"k8s-app": "kube-dns"}
	fail := func(what string, err error) error { return fmt.Errorf("apply CoreDNS %s: %w", what, err) }

	if _, err := cs.CoreV1().ServiceAccounts(ns).Apply(ctx, corev1ac.ServiceAccount(name, ns), opts); err != nil {
		return fail("service account", err)
	}
	role := rbacv1ac.ClusterRole("system:coredns").WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("endpoints", "services", "pods", "namespaces").WithVerbs("list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups("discovery.k8s.io").WithResources("endpointslices").WithVerbs("list", "watch"),
	)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, opts); err != nil {
		return fail("cluster role", err)
	}
	binding := rbacv1ac.ClusterRoleBinding("system:coredns").
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName("system:coredns")).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(ns))
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, binding, opts); err != nil {
		return fail("cluster role binding", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Apply(ctx, corev1ac.ConfigMap(name, ns).WithData(map[string]string{"Corefile": corefile}), opts); err != nil {
		return fail("config map", err)
	}
	httpGet := func(path string, port int) *corev1ac.ProbeApplyConfiguration {
		return corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromInt32(int32(port)))).
			WithPeriodSeconds(1).WithFailureThreshold(3)
	}
	container := corev1ac.Container().
		WithName("coredns").
		WithImage(img).
		WithImagePullPolicy(corev1.PullNever).
		WithArgs("-conf", "/etc/coredns/Corefile").
		WithPorts(
			corev1ac.ContainerPort().WithName("dns").WithContainerPort(1053).WithProtocol(corev1.ProtocolUDP),
			corev1ac.ContainerPort().WithName("dns-tcp").WithContainerPort(1053).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("health").WithContainerPort(8080).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("ready").WithContainerPort(8181).WithProtocol(corev1.ProtocolTCP),
		).
		WithReadinessProbe(httpGet("/ready", 8181)).
		WithLivenessProbe(httpGet("/health", 8080).WithInitialDelaySeconds(10).WithPeriodSeconds(10).WithFailureThreshold(5)).
		WithResources(corev1ac.ResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}).
			WithLimits(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")})).
		WithVolumeMounts(corev1ac.VolumeMount().WithName("config").WithMountPath("/etc/coredns").WithReadOnly(true)).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")))
	dep := appsv1ac.Deployment(name, ns).
		WithLabels(labels).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(1).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
			WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RecreateDeploymentStrategyType)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithSpec(corev1ac.PodSpec().
					WithServiceAccountName(name).
					WithPriorityClassName("system-cluster-critical").
					// The node's resolv.conf, not the cluster DNS itself.
					WithDNSPolicy(corev1.DNSDefault).
					WithContainers(container).
					WithVolumes(corev1ac.Volume().WithName("config").WithConfigMap(
						corev1ac.ConfigMapVolumeSource().WithName(name).WithItems(corev1ac.KeyToPath().WithKey("Corefile").WithPath("Corefile")))))))
	if _, err := cs.AppsV1().Deployments(ns).Apply(ctx, dep, opts); err != nil {
		return fail("deployment", err)
	}
	svc := corev1ac.Service("kube-dns", ns).
		WithLabels(labels).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(DNSServiceIP).
			WithSelector(labels).
			WithPorts(
				corev1ac.ServicePort().WithName("dns").WithPort(53).WithTargetPort(intstr.FromInt32(1053)).WithProtocol(corev1.ProtocolUDP),
				corev1ac.ServicePort().WithName("dns-tcp").WithPort(53).WithTargetPort(intstr.FromInt32(1053)).WithProtocol(corev1.ProtocolTCP),
			))
	if _, err := cs.CoreV1().Services(ns).Apply(ctx, svc, opts); err != nil {
		return fail("service", err)
	}
	return nil
}
