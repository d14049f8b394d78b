package manifest

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/vecrosim/vecro/framework/traces"
)

// Jaeger's ports: OTLP/HTTP, where the services send their spans, and the
// query service's HTTP API, where the runtime reads them back.
const (
	JaegerOTLPPort  = 4318
	JaegerQueryPort = 16686
	jaegerGRPCPort  = 16685
)

// DefaultJaegerMaxTraces bounds the in-cluster Jaeger's in-memory store:
// about 15 spans a trace of the social system, some 20 KB, so ~400 MB.
const DefaultJaegerMaxTraces = 20_000

const (
	roleLabelJaeger = "jaeger"
	jaegerConfigDir = "/etc/jaeger"
)

// JaegerName names the in-cluster Jaeger's objects in the system's
// namespace (ConfigMap, Deployment, Service).
func JaegerName(system string) string { return system + "-vecro-jaeger" }

// JaegerSelector selects the in-cluster Jaeger's pod of system.
func JaegerSelector(system string) string {
	return SystemSelector(system) + "," + LabelRole + "=" + roleLabelJaeger
}

// jaegerOTLPEndpoint is where the services send their spans: the Jaeger
// Service of their own namespace.
func jaegerOTLPEndpoint(system string) string {
	return "http://" + JaegerName(system) + ":" + strconv.Itoa(JaegerOTLPPort)
}

// jaeger adds Jaeger v2 with its in-memory store: a ConfigMap with its
// collector configuration, a one-pod Deployment and a Service for the
// services' OTLP exports. It is deleted with the system, traces and all:
// an experiment reads them before.
func (b *builder) jaeger(img string, maxTraces int) {
	if maxTraces <= 0 {
		maxTraces = DefaultJaegerMaxTraces
	}
	name := JaegerName(b.sys.Name)
	l := b.labels()
	l[LabelRole] = roleLabelJaeger
	cfg := jaegerConfig(maxTraces)
	b.add(gvrConfigMap, "ConfigMap", b.ns, name, corev1ac.ConfigMap(name, b.ns).
		WithLabels(l).
		WithData(map[string]string{"config.yaml": cfg}))
	tmpl := corev1ac.PodTemplateSpec().
		WithLabels(l).
		WithAnnotations(map[string]string{"vecro-sim/config-hash": strconv.FormatUint(fnv64(cfg), 16)}).
		WithSpec(corev1ac.PodSpec().
			WithSecurityContext(corev1ac.PodSecurityContext().WithRunAsNonRoot(true)).
			WithContainers(corev1ac.Container().
				WithName("jaeger").
				WithImage(img).
				WithImagePullPolicy(pullPolicy(b.o.PullPolicy)).
				WithArgs("--config", jaegerConfigDir+"/config.yaml").
				WithPorts(
					corev1ac.ContainerPort().WithName("otlp-http").WithContainerPort(JaegerOTLPPort).WithProtocol(corev1.ProtocolTCP),
					corev1ac.ContainerPort().WithName("query").WithContainerPort(JaegerQueryPort).WithProtocol(corev1.ProtocolTCP),
				).
				WithReadinessProbe(corev1ac.Probe().
					WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/api/v3/services").WithPort(intstr.FromString("query"))).
					WithPeriodSeconds(1).WithFailureThreshold(3)).
				WithResources(corev1ac.ResourceRequirements().
					WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}).
					WithLimits(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")})).
				WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(false).WithReadOnlyRootFilesystem(true)).
				WithVolumeMounts(
					corev1ac.VolumeMount().WithName("config").WithMountPath(jaegerConfigDir).WithReadOnly(true),
					corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp"),
				)).
			WithVolumes(
				corev1ac.Volume().WithName("config").WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(name)),
				corev1ac.Volume().WithName("tmp").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
			))
	b.onePod(name, l, tmpl)
	b.add(gvrService, "Service", b.ns, name, corev1ac.Service(name, b.ns).
		WithLabels(l).
		WithSpec(corev1ac.ServiceSpec().
			WithSelector(l).
			WithPorts(corev1ac.ServicePort().WithName("otlp-http").WithPort(JaegerOTLPPort).WithTargetPort(intstr.FromString("otlp-http")).WithProtocol(corev1.ProtocolTCP))))
}

// jaegerConfig is the in-cluster Jaeger's configuration: the local
// runtime's, listening on every address.
func jaegerConfig(maxTraces int) string {
	all := func(port int) string { return "0.0.0.0:" + strconv.Itoa(port) }
	return traces.JaegerConfig(all(JaegerOTLPPort), all(JaegerQueryPort), all(jaegerGRPCPort), maxTraces)
}
