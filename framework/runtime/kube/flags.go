package kube

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vecrosim/vecro/framework/spec"
)

// Flags are the Kubernetes runtime's settings as command-line flags, defined
// once for every front end: the vecro CLI's deploy and run, and the
// scenario suite's VECRO_RUNTIME=kube (ParseFlags of VECRO_KUBE_FLAGS).
type Flags struct {
	Kind           bool
	KindName       string
	KindConfig     string
	KeepCluster    bool
	Kubeconfig     string
	Context        string
	Image          string
	Namespace      string
	Monitoring     string
	PromImage      string
	Registry       string
	Insecure       bool
	Containerd     string
	DBImages       []string
	CPURequest     string
	MemoryRequest  string
	RolloutTimeout time.Duration
	// LegacyMetrics is --original-metric-names, and Tracing --tracing,
	// which each command registers itself because they are not the kube
	// runtime's alone.
	LegacyMetrics bool
	Tracing       string
	JaegerImage   string
}

// AddFlags registers the flags on f, all but --kubeconfig, which the CLI's
// commands register themselves (the seed's spelling, shared with the
// commands' other runtimes).
func (k *Flags) AddFlags(f *pflag.FlagSet) {
	f.BoolVar(&k.Kind, "kind", false, "kube runtime: provision a kind cluster from --kind-config (or use it if it exists) and load a freshly built service image into it")
	f.StringVar(&k.KindName, "kind-name", DefaultKindName, "kube runtime: name of the kind cluster")
	f.StringVar(&k.KindConfig, "kind-config", "kind-config.yaml", "kube runtime: kind cluster config")
	f.BoolVar(&k.KeepCluster, "keep-cluster", false, "kube runtime: leave a kind cluster this command created running at the end")
	f.StringVar(&k.Context, "context", "", "kube runtime: kubeconfig context (default: the current one)")
	f.StringVar(&k.Image, "image", "", "kube runtime: service image the cluster can pull (default: built from images/service and loaded by --kind, --registry or --containerd-socket)")
	f.StringVar(&k.Namespace, "namespace", "", "kube runtime: namespace (default: the definition's, else the system's name)")
	f.StringVar(&k.Monitoring, "monitoring", string(MonitoringAuto), "kube runtime: auto (kube-prometheus if installed or fetchable, else standalone), kube-prometheus (install unless present), standalone (a Prometheus vecro deploys with the system: no internet needed), existing, or none")
	f.StringVar(&k.PromImage, "prometheus-image", "", "kube runtime: Prometheus image for standalone monitoring (default: the binary of make prometheus packed and loaded like the service image)")
	f.StringVar(&k.Registry, "registry", "", "kube runtime: push the images vecro builds to this registry/path, which the cluster pulls from")
	f.BoolVar(&k.Insecure, "registry-insecure", false, "kube runtime: --registry speaks plain HTTP")
	f.StringVar(&k.Containerd, "containerd-socket", "", "kube runtime: import the images vecro builds into the containerd at this socket (a single-node cluster on this machine)")
	f.StringArrayVar(&k.DBImages, "db-image", nil, "kube runtime: TYPE=IMAGE, the database image of a storage type (mongodb, redis, mysql) with the type's port and data dir and the image's own arguments, e.g. mongodb=vecro.local/ferretdb:v1.24.2 (repeatable)")
	f.StringVar(&k.CPURequest, "cpu-request", "", "kube runtime: CPU request of every container instead of the original's 200m (100m per database), e.g. 20m for the social system on a 2-core node")
	f.StringVar(&k.MemoryRequest, "memory-request", "", "kube runtime: memory request of every container instead of the original's 50Mi (128Mi per database)")
	f.StringVar(&k.JaegerImage, "jaeger-image", "", "kube runtime: Jaeger image for --tracing jaeger (default: the binary of make jaeger packed and loaded like the service image)")
	f.DurationVar(&k.RolloutTimeout, "rollout-timeout", DefaultRolloutTimeout, "kube runtime: how long the system's Deployments may take to be ready")
}

// ParseFlags reads the flags from args (a shell-like string split on
// spaces, as an environment variable holds them), --kubeconfig included.
func ParseFlags(args string) (Flags, error) {
	var k Flags
	fs := pflag.NewFlagSet("kube", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	k.AddFlags(fs)
	fs.StringVar(&k.Kubeconfig, "kubeconfig", "", "kubeconfig of an existing cluster")
	fs.StringVar(&k.Tracing, "tracing", "", "jaeger: deploy Jaeger with the system and collect spans")
	if err := fs.Parse(strings.Fields(args)); err != nil {
		return k, err
	}
	if fs.NArg() > 0 {
		return k, fmt.Errorf("unexpected arguments %q: only flags", fs.Args())
	}
	return k, nil
}

// Options turns the flags into the runtime's options.
func (k Flags) Options(seed int64, logger *slog.Logger) (Options, error) {
	if k.Monitoring == "" {
		k.Monitoring = string(MonitoringAuto)
	}
	mode, err := ParseMonitoring(k.Monitoring)
	if err != nil {
		return Options{}, fmt.Errorf("--monitoring: %w", err)
	}
	if k.Registry != "" && k.Containerd != "" {
		return Options{}, errors.New("--registry and --containerd-socket both say where built images go: pick one")
	}
	if k.Kind && (k.Kubeconfig != "" || k.Context != "") {
		return Options{}, errors.New("--kind provisions its own cluster: drop --kubeconfig/--context, or drop --kind to use that cluster")
	}
	cl := &Cluster{Kubeconfig: k.Kubeconfig, Context: k.Context, Logger: logger}
	if k.Kind {
		name := k.KindName
		if name == "" {
			name = DefaultKindName
		}
		cl = &Cluster{Kind: &Kind{Name: name, Config: k.KindConfig, Keep: k.KeepCluster}, Logger: logger}
	}
	o := Options{
		Cluster:        cl,
		Namespace:      k.Namespace,
		Image:          k.Image,
		Seed:           seed,
		Monitoring:     mode,
		Standalone:     Standalone{Image: k.PromImage},
		RolloutTimeout: k.RolloutTimeout,
		LegacyMetrics:  k.LegacyMetrics,
		Logger:         logger,
	}
	switch k.Tracing {
	case "":
		if k.JaegerImage != "" {
			return Options{}, errors.New("--jaeger-image without --tracing jaeger")
		}
	case "jaeger":
		o.Jaeger = &Jaeger{Image: k.JaegerImage}
	default:
		return Options{}, fmt.Errorf("--tracing %q: want jaeger (or leave it out)", k.Tracing)
	}
	if k.CPURequest != "" {
		if o.CPURequest, err = spec.ParseMilliCPU(k.CPURequest); err != nil || o.CPURequest <= 0 {
			return Options{}, fmt.Errorf("--cpu-request %q: want a positive CPU quantity such as 20m or 0.5%s", k.CPURequest, because(err))
		}
	}
	if k.MemoryRequest != "" {
		if o.MemoryRequest, err = spec.ParseSize(k.MemoryRequest); err != nil || o.MemoryRequest <= 0 {
			return Options{}, fmt.Errorf("--memory-request %q: want a positive size such as 32Mi%s", k.MemoryRequest, because(err))
		}
	}
	for _, d := range k.DBImages {
		t, img, ok := strings.Cut(d, "=")
		def, known := DefaultDBImages[spec.ServiceType(t)]
		if !ok || img == "" || !known {
			return Options{}, fmt.Errorf("--db-image %q: want TYPE=IMAGE with TYPE mongodb, redis or mysql", d)
		}
		if o.DBImages == nil {
			o.DBImages = map[spec.ServiceType]DBImage{}
		}
		// The default's arguments are the default image's flags.
		o.DBImages[spec.ServiceType(t)] = DBImage{Image: img, Port: def.Port, DataDir: def.DataDir}
	}
	switch {
	case k.Registry != "":
		o.Loader = Registry{Prefix: k.Registry, Insecure: k.Insecure}
	case k.Containerd != "":
		o.Loader = Containerd{Address: k.Containerd}
	}
	return o, nil
}

// because is ": err", or nothing for a nil error.
func because(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
