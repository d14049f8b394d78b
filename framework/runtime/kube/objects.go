package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/spec"
)

// Labels of the original VECROsim's objects, kept so that dashboards and
// selectors written for it still match.
const (
	LabelSystem    = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelService   = "vecro-sim/service-name"
	// LabelRole tells the agents' headless Service (role "agents") from the
	// services' own.
	LabelRole = "vecro-sim/role"
	// ManagedBy is the value of LabelManagedBy on everything vecro applies.
	ManagedBy = "vecro-sim"
	// FieldManager owns every field vecro applies (server-side apply).
	FieldManager = "vecro"
)

// Ports of the service binary's contract (images/service).
const (
	// ServicePort is where the service listens (its fault agent's ingress
	// proxy owns it).
	ServicePort = 8080
	// AdminPort serves /metrics, /healthz and the fault API; it is in no
	// Service that callers use, so faults never delay scrapes or probes.
	AdminPort = 8081
	// ClusterPort is the Service port callers dial: http://<system>-<callee>.
	ClusterPort = 80
)

// agentsServiceSuffix names the headless Service that gives Prometheus the
// agents' admin ports: <system>-vecro-agents.
const agentsServiceSuffix = "vecro-agents"

// The original's requests; limits come from the definition (default 700m,
// 250Mi). A request never exceeds its limit.
const (
	requestCPU    spec.MilliCPU = 200
	requestMemory spec.Size     = 50 << 20
)

// Paths inside the service container.
const (
	tokenDir  = "/var/run/secrets/vecro"
	scratch   = "/tmp"
	agentUser = 65532 // the image's non-root user (as distroless "nonroot")
)

// Secret keys.
const (
	secretToken      = "token"
	secretDBPassword = "db-password"
)

// GVRs of what a system is made of.
var (
	gvrNamespace      = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrSecret         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrService        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrDeployment     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrRole           = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	gvrRoleBinding    = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	gvrServiceMonitor = schema.GroupVersionResource{Group: monitoringv1.SchemeGroupVersion.Group, Version: monitoringv1.Version, Resource: monitoringv1.ServiceMonitorName}
)

// DBImage is the database container beside the agent of a storage type.
type DBImage struct {
	Image string
	Port  int32
	// DataDir is the image's data directory (an emptyDir).
	DataDir string
	Args    []string
}

// DefaultDBImages are the databases of the storage types: the original's
// MongoDB 4.2, and the official Redis and MariaDB images.
var DefaultDBImages = map[spec.ServiceType]DBImage{
	// WiredTiger sizes its cache from the host's memory, not the container's
	// limit; pin it below the limit.
	spec.TypeMongoDB: {Image: "mongo:4.2", Port: 27017, DataDir: "/data/db", Args: []string{"--bind_ip", "127.0.0.1", "--wiredTigerCacheSizeGB", "0.25"}},
	// An in-memory cache, as the agent uses it: no snapshots, no AOF.
	spec.TypeRedis: {Image: "redis:7.4", Port: 6379, DataDir: "/data", Args: []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}},
	spec.TypeMySQL: {Image: "mariadb:11.4", Port: 3306, DataDir: "/var/lib/mysql", Args: []string{"--bind-address=127.0.0.1"}},
}

// dbRequests and dbLimits size the database containers.
var (
	dbRequests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	dbLimits   = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
)

// ManifestOptions are the inputs of BuildManifest besides the system.
type ManifestOptions struct {
	// Namespace overrides the system's namespace (default: the definition's
	// namespace, else the system's name).
	Namespace string
	// Image is the service image (images/service). Required.
	Image string
	// PullPolicy of the service image; default IfNotPresent (an image loaded
	// into kind's nodes must not be pulled).
	PullPolicy corev1.PullPolicy
	// Token is the agents' bearer token. Required.
	Token string
	// DBPassword is MariaDB's password for the mysql type; required when
	// the system has one.
	DBPassword string
	// Seed seeds every random draw; each service gets its own seed from it.
	Seed int64
	// DBImages override DefaultDBImages per type.
	DBImages map[spec.ServiceType]DBImage
	// ManageNamespace applies the Namespace object (and Teardown deletes
	// it). Off when the namespace existed before vecro: then only vecro's own
	// objects in it are applied and deleted.
	ManageNamespace bool
	// Monitor adds a ServiceMonitor and lets Prometheus' service account
	// discover the system's pods. Needs the prometheus-operator CRDs.
	Monitor bool
	// Prometheus is the service account the Prometheus server runs as
	// (kube-prometheus: monitoring/prometheus-k8s).
	Prometheus ServiceAccountRef
	// Standalone adds the standalone Prometheus (MonitoringStandalone) to
	// the system, running PrometheusImage.
	Standalone      *Standalone
	PrometheusImage string
	// CPURequest and MemoryRequest replace the original's requests of
	// every container (200m and 50Mi per service, 100m and 128Mi per
	// database) when set: 25 services ask for 5.5 cores, more than a small
	// node has. Limits are unchanged.
	CPURequest    spec.MilliCPU
	MemoryRequest spec.Size
	// LegacyMetrics makes every service also expose the original's
	// vecro_base_<system>_* series, for the original's dashboards and scripts.
	LegacyMetrics bool
}

// ServiceAccountRef names a service account.
type ServiceAccountRef struct {
	Namespace, Name string
}

// Object is one Kubernetes object of a system, as a server-side apply body.
type Object struct {
	GVR schema.GroupVersionResource
	// Kind is the object's kind, e.g. "Deployment".
	Kind string
	// Namespace is empty for a cluster-scoped object.
	Namespace string
	Name      string
	// Body is the object as JSON: an apply configuration holding only the
	// fields vecro owns.
	Body []byte
}

// String names the object as kubectl does: deployment.apps/social-text.
func (o Object) String() string {
	kind := strings.ToLower(o.Kind)
	if o.GVR.Group != "" {
		kind += "." + o.GVR.Group
	}
	if o.Namespace != "" {
		return o.Namespace + "/" + kind + "/" + o.Name
	}
	return kind + "/" + o.Name
}

// Manifest is every object of one system, in apply order: namespace,
// secret, access for Prometheus, then per service its Service and
// Deployment.
type Manifest struct {
	System    string
	Namespace string
	Objects   []Object
	// Deployments names the Deployment of each service, in definition order.
	Deployments []ServiceDeployment
}

// ServiceDeployment ties a service to its Deployment.
type ServiceDeployment struct {
	Service    string
	Type       spec.ServiceType
	Deployment string
	Replicas   int32
}

// ObjectName is the name of a service's Deployment and Service.
func ObjectName(system, service string) string { return system + "-" + service }

// SystemSelector selects every pod of a system.
func SystemSelector(system string) string {
	return LabelSystem + "=" + system + "," + LabelManagedBy + "=" + ManagedBy
}

// BuildManifest lays out sys as Kubernetes objects. It is a pure function of
// its inputs, so `vecro deploy --dry-run` prints exactly what Start applies.
func BuildManifest(sys *spec.System, o ManifestOptions) (*Manifest, error) {
	if sys == nil {
		return nil, fmt.Errorf("build manifest: no system")
	}
	ns := o.Namespace
	if ns == "" {
		ns = sys.EffectiveNamespace()
	}
	where := sys.Name
	if sys.File != "" {
		where = sys.File
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return nil, fmt.Errorf("build manifest for %s: namespace %q: %s", where, ns, strings.Join(errs, "; "))
	}
	if o.Image == "" {
		return nil, fmt.Errorf("build manifest for %s: no service image", where)
	}
	if o.Token == "" {
		return nil, fmt.Errorf("build manifest for %s: no agent token", where)
	}
	if o.Standalone != nil && o.PrometheusImage == "" {
		return nil, fmt.Errorf("build manifest for %s: standalone monitoring without a Prometheus image", where)
	}
	for _, s := range sys.Services {
		name := ObjectName(sys.Name, s.Name)
		if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
			return nil, fmt.Errorf("build manifest for %s: service %q: Kubernetes name %q: %s", where, s.Name, name, strings.Join(errs, "; "))
		}
		if s.Name == agentsServiceSuffix {
			return nil, fmt.Errorf("build manifest for %s: service name %q is taken by vecro's agents Service", where, s.Name)
		}
		if s.Type == spec.TypeMySQL && o.DBPassword == "" {
			return nil, fmt.Errorf("build manifest for %s: service %q is mysql but no database password was given", where, s.Name)
		}
		if s.Type.IsStorage() {
			if _, ok := dbImage(o, s.Type); !ok {
				return nil, fmt.Errorf("build manifest for %s: service %q: no database image for type %q", where, s.Name, s.Type)
			}
		}
	}

	b := &builder{sys: sys, ns: ns, o: o, m: &Manifest{System: sys.Name, Namespace: ns}}
	if o.ManageNamespace {
		b.add(gvrNamespace, "Namespace", "", ns, corev1ac.Namespace(ns).WithLabels(b.labels()))
	}
	b.secret()
	if o.Monitor {
		b.monitoring()
	}
	if o.Standalone != nil {
		b.standalone(*o.Standalone, o.PrometheusImage)
	}
	for _, s := range sys.Services {
		b.service(s)
	}
	return b.m, b.err
}

// builder accumulates a manifest; the first marshalling error sticks.
type builder struct {
	sys *spec.System
	ns  string
	o   ManifestOptions
	m   *Manifest
	err error
}

func (b *builder) add(gvr schema.GroupVersionResource, kind, ns, name string, v any) {
	body, err := json.Marshal(v)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("encode %s %s: %w", kind, name, err)
	}
	b.m.Objects = append(b.m.Objects, Object{GVR: gvr, Kind: kind, Namespace: ns, Name: name, Body: body})
}

// labels are the system-wide labels; service adds the service's.
func (b *builder) labels() map[string]string {
	return map[string]string{LabelSystem: b.sys.Name, LabelManagedBy: ManagedBy}
}

func (b *builder) serviceLabels(svc string) map[string]string {
	l := b.labels()
	l[LabelService] = svc
	return l
}

// secretName holds the agents' token (and MariaDB's password).
func secretName(system string) string { return system + "-vecro-agent" }

func (b *builder) secret() {
	data := map[string][]byte{secretToken: []byte(b.o.Token)}
	if b.o.DBPassword != "" {
		data[secretDBPassword] = []byte(b.o.DBPassword)
	}
	name := secretName(b.sys.Name)
	b.add(gvrSecret, "Secret", b.ns, name, corev1ac.Secret(name, b.ns).
		WithLabels(b.labels()).
		WithType(corev1.SecretTypeOpaque).
		WithData(data))
}

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
				WithSecretName(secretName(b.sys.Name)).
				WithItems(corev1ac.KeyToPath().WithKey(secretToken).WithPath(secretToken)).
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
	in.TokenFile, in.DataDir = tokenDir+"/"+secretToken, scratch
	var env []*corev1ac.EnvVarApplyConfiguration
	if s.Type.IsStorage() {
		db, _ := dbImage(b.o, s.Type)
		in.DB = dbURL(s.Type, db.Port)
		if s.Type == spec.TypeMySQL {
			// Declared first so that $(DB_PASSWORD) expands in VECRO_DB.
			env = append(env, secretEnv("DB_PASSWORD", secretName(b.sys.Name), secretDBPassword))
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
			secretEnv("MARIADB_PASSWORD", secretName(b.sys.Name), secretDBPassword),
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

func dbImage(o ManifestOptions, t spec.ServiceType) (DBImage, bool) {
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

// YAML writes the manifest as one multi-document YAML stream, each document
// headed by a comment naming the object.
func (m *Manifest) YAML() ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range m.Objects {
		y, err := yaml.JSONToYAML(o.Body)
		if err != nil {
			return nil, fmt.Errorf("render %s as YAML: %w", o, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		fmt.Fprintf(&buf, "# %s\n", o)
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// ImageRepository names the service images vecro builds for kind; the tag
// is a content digest prefix, so a changed binary gets a new tag and a
// rollout.
const ImageRepository = "vecro.local/service"
