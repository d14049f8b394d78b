package manifest

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/spec"
)

func (b *builder) service(s spec.Service) {
	name := ObjectName(b.sys.Name, s.Name)
	sel := map[string]string{LabelSystem: b.sys.Name, LabelService: s.Name}
	b.add(gvrService, "Service", b.ns, name, corev1ac.Service(name, b.ns).
		WithLabels(b.serviceLabels(s.Name)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(sel).
			WithPorts(corev1ac.ServicePort().WithName("http").WithPort(ClusterPort).WithTargetPort(intstr.FromString("http")).WithProtocol(corev1.ProtocolTCP))))

	replicas := int32(b.sys.ReplicasOf(s.Name))
	pod := corev1ac.PodSpec().
		// 25 services would put ~150 *_SERVICE_* variables in every
		// container; callers use DNS names.
		WithEnableServiceLinks(false).
		WithAutomountServiceAccountToken(false).
		WithTerminationGracePeriodSeconds(10).
		WithContainers(b.agentContainer(s)).
		WithVolumes(
			corev1ac.Volume().WithName("token").WithSecret(corev1ac.SecretVolumeSource().
				WithSecretName(SecretName(b.sys.Name)).
				WithItems(corev1ac.KeyToPath().WithKey(SecretToken).WithPath(SecretToken)).
				// The agent runs as a non-root user without an fsGroup.
				WithDefaultMode(0o444)),
			corev1ac.Volume().WithName("scratch").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
		)
	if s.Type.IsStorage() {
		db, _ := dbImage(b.o, s.Type)
		pod.WithInitContainers(b.dbContainer(s, db)).
			WithVolumes(corev1ac.Volume().WithName("db-data").WithEmptyDir(corev1ac.EmptyDirVolumeSource()))
	}
	b.add(gvrDeployment, "Deployment", b.ns, name, appsv1ac.Deployment(name, b.ns).
		WithLabels(b.serviceLabels(s.Name)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas).
			WithRevisionHistoryLimit(2).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(sel)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(b.serviceLabels(s.Name)).
				WithSpec(pod))))
	b.m.Deployments = append(b.m.Deployments, ServiceDeployment{Service: s.Name, Type: s.Type, Deployment: name, Replicas: replicas})
}

// agentContainer is the service binary: the service contract as VECRO_*
// env, but the calls as --call flags so that their order is visible in the
// pod spec.
func (b *builder) agentContainer(s spec.Service) *corev1ac.ContainerApplyConfiguration {
	if s.Type == "" {
		s.Type = spec.TypeBase
	}
	// Instance stays empty: the binary takes its pod's name (from the
	// downward API below), and mixes it into the run's seed, so replicas
	// draw differently.
	in := runtime.Contract(b.sys.Name, &s, b.o.Seed, b.o.LegacyMetrics)
	in.Listen, in.AdminListen = ":"+strconv.Itoa(ServicePort), ":"+strconv.Itoa(AdminPort)
	in.TokenFile, in.DataDir = tokenDir+"/"+SecretToken, scratch
	if b.o.JaegerImage != "" {
		in.OTLPEndpoint, in.TraceSampleRatio = jaegerOTLPEndpoint(b.sys.Name), b.o.TraceSampleRatio
	}
	var env []*corev1ac.EnvVarApplyConfiguration
	if s.Type.IsStorage() {
		db, _ := dbImage(b.o, s.Type)
		in.DB = dbURL(s.Type, db.Port)
		if s.Type == spec.TypeMySQL {
			// Declared first so that $(DB_PASSWORD) expands in VECRO_DB.
			env = append(env, secretEnv("DB_PASSWORD", SecretName(b.sys.Name), SecretDBPassword))
		}
	}
	env = append(env, corev1ac.EnvVar().WithName(service.EnvName("instance")).WithValueFrom(corev1ac.EnvVarSource().
		WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("metadata.name"))))
	for _, v := range in.Env() {
		env = append(env, envVar(v.Name, v.Value))
	}
	var args []string
	for _, callee := range s.Calls {
		args = append(args, "--call", callee+"=http://"+ObjectName(b.sys.Name, callee))
	}

	lim := s.Limits()
	cpu, mem := lim.CPU, lim.Memory
	c := corev1ac.Container().
		WithName("service").
		WithImage(b.o.Image).
		WithImagePullPolicy(pullPolicy(b.o.PullPolicy)).
		WithEnv(env...).
		WithPorts(
			corev1ac.ContainerPort().WithName("http").WithContainerPort(ServicePort).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("admin").WithContainerPort(AdminPort).WithProtocol(corev1.ProtocolTCP),
		).
		WithResources(corev1ac.ResourceRequirements().
			WithRequests(corev1.ResourceList{
				corev1.ResourceCPU:    milliCPU(min(orDefault(b.o.CPURequest, requestCPU), cpu)),
				corev1.ResourceMemory: bytesQ(min(orDefault(b.o.MemoryRequest, requestMemory), mem)),
			}).
			WithLimits(corev1.ResourceList{
				corev1.ResourceCPU:    milliCPU(cpu),
				corev1.ResourceMemory: bytesQ(mem),
			})).
		// No liveness probe: a cpu-stress or net-delay fault must slow a
		// service down, not get it restarted.
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("admin"))).
			WithPeriodSeconds(2).
			WithTimeoutSeconds(2).
			WithFailureThreshold(3)).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName("token").WithMountPath(tokenDir).WithReadOnly(true),
			corev1ac.VolumeMount().WithName("scratch").WithMountPath(scratch),
		).
		WithSecurityContext(corev1ac.SecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(agentUser).
			WithRunAsGroup(agentUser).
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
	if len(args) > 0 {
		c.WithArgs(args...)
	}
	return c
}

// dbContainer runs the database as a native sidecar (an init container that
// keeps running): the kubelet starts the agent only once the database
// accepts connections, so the agent seeds its dataset on the first try.
func (b *builder) dbContainer(s spec.Service, db DBImage) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().
		WithName("db").
		WithImage(db.Image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithRestartPolicy(corev1.ContainerRestartPolicyAlways).
		WithPorts(corev1ac.ContainerPort().WithName("db").WithContainerPort(db.Port).WithProtocol(corev1.ProtocolTCP)).
		WithResources(corev1ac.ResourceRequirements().WithRequests(b.dbRequests()).WithLimits(dbLimits)).
		WithStartupProbe(corev1ac.Probe().
			WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromString("db"))).
			WithPeriodSeconds(1).
			WithFailureThreshold(180)).
		WithVolumeMounts(corev1ac.VolumeMount().WithName("db-data").WithMountPath(db.DataDir))
	if len(db.Args) > 0 {
		c.WithArgs(db.Args...)
	}
	if s.Type == spec.TypeMySQL {
		c.WithEnv(
			envVar("MARIADB_DATABASE", "vecro"),
			envVar("MARIADB_USER", "vecro"),
			secretEnv("MARIADB_PASSWORD", SecretName(b.sys.Name), SecretDBPassword),
			envVar("MARIADB_RANDOM_ROOT_PASSWORD", "1"),
		)
	}
	return c
}

// dbRequests are the database's requests, or the overrides.
func (b *builder) dbRequests() corev1.ResourceList {
	r := dbRequests.DeepCopy()
	if b.o.CPURequest > 0 {
		r[corev1.ResourceCPU] = milliCPU(b.o.CPURequest)
	}
	if b.o.MemoryRequest > 0 {
		r[corev1.ResourceMemory] = bytesQ(b.o.MemoryRequest)
	}
	return r
}

// orDefault is v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func dbImage(o Options, t spec.ServiceType) (DBImage, bool) {
	if db, ok := o.DBImages[t]; ok && db.Image != "" {
		return db, true
	}
	db, ok := DefaultDBImages[t]
	return db, ok
}

// dbURL is the agent's --db: the database beside it on loopback.
func dbURL(t spec.ServiceType, port int32) string {
	p := strconv.Itoa(int(port))
	switch t {
	case spec.TypeMongoDB:
		return "mongodb://127.0.0.1:" + p + "/vecro"
	case spec.TypeRedis:
		return "redis://127.0.0.1:" + p
	case spec.TypeMySQL:
		return "mysql://vecro:$(DB_PASSWORD)@127.0.0.1:" + p + "/vecro"
	}
	return ""
}

func envVar(name, value string) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValue(value)
}

func secretEnv(name, secret, key string) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
		WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(secret).WithKey(key)))
}

func pullPolicy(p corev1.PullPolicy) corev1.PullPolicy {
	if p == "" {
		return corev1.PullIfNotPresent
	}
	return p
}

func milliCPU(m spec.MilliCPU) resource.Quantity {
	return *resource.NewMilliQuantity(int64(m), resource.DecimalSI)
}

func bytesQ(n spec.Size) resource.Quantity {
	return *resource.NewQuantity(int64(n), resource.BinarySI)
}
