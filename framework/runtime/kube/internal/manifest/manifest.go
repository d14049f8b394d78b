package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"

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
	SecretToken      = "token"
	SecretDBPassword = "db-password"
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

// Options are the inputs of Build besides the system.
type Options struct {
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
	// JaegerImage, when set, adds Jaeger v2 (that image) to the system and
	// points every service's span export at it; JaegerMaxTraces bounds its
	// store (0: DefaultJaegerMaxTraces).
	JaegerImage     string
	JaegerMaxTraces int
	// TraceSampleRatio is the share of new traces a service keeps; 0
	// keeps all.
	TraceSampleRatio float64
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

	// config is the apply configuration Body encodes, which picks the
	// typed client that applies and deletes the object.
	config any
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

// Build lays out sys as Kubernetes objects. It is a pure function of
// its inputs, so `vecro deploy --dry-run` prints exactly what Start applies.
func Build(sys *spec.System, o Options) (*Manifest, error) {
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
	if o.JaegerImage != "" {
		b.jaeger(o.JaegerImage, o.JaegerMaxTraces)
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
	o   Options
	m   *Manifest
	err error
}

func (b *builder) add(gvr schema.GroupVersionResource, kind, ns, name string, v any) {
	body, err := json.Marshal(v)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("encode %s %s: %w", kind, name, err)
	}
	b.m.Objects = append(b.m.Objects, Object{GVR: gvr, Kind: kind, Namespace: ns, Name: name, Body: body, config: v})
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

// SecretName holds the agents' token (and MariaDB's password).
func SecretName(system string) string { return system + "-vecro-agent" }

func (b *builder) secret() {
	data := map[string][]byte{SecretToken: []byte(b.o.Token)}
	if b.o.DBPassword != "" {
		data[SecretDBPassword] = []byte(b.o.DBPassword)
	}
	name := SecretName(b.sys.Name)
	b.add(gvrSecret, "Secret", b.ns, name, corev1ac.Secret(name, b.ns).
		WithLabels(b.labels()).
		WithType(corev1.SecretTypeOpaque).
		WithData(data))
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

// DecodeYAML reads a multi-document YAML (or JSON) stream of Kubernetes
// objects; a List is flattened into its items.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
			for j := range l.Items {
				out = append(out, &l.Items[j])
			}
			continue
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: no kind or apiVersion", i)
		}
		out = append(out, u)
	}
}

// ServiceSelector is the label selector of a service's pods.
func ServiceSelector(system, service string) string {
	return labels.Set{LabelSystem: system, LabelService: service}.AsSelector().String()
}
