package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/portforward"
	"github.com/vecrosim/vecro/framework/spec"
)

// Name is the runtime's name (runtime.Runtime.Name, metrics.FlavorKube).
const Name = "kube"

// Options configure the Kubernetes runtime.
type Options struct {
	// Cluster is where the system runs; nil is kubectl's current cluster.
	// The runtime provisions it if that was not done, but never deletes
	// it: see Cluster.Delete.
	Cluster *Cluster

	// Namespace overrides the system's namespace.
	Namespace string
	// Image is the service image. Empty: built from ModuleDir and handed
	// to Loader (a kind cluster's nodes by default).
	Image      string
	PullPolicy corev1.PullPolicy
	// ModuleDir is the vecro module to build the image from; default: the
	// one the local runtime builds its service binary from (the working
	// directory's module, else the source vecro was compiled from).
	ModuleDir string
	// Loader makes the images the runtime builds (the service image unless
	// Image is set, the standalone Prometheus unless its Image is set)
	// available to the cluster: Registry, Containerd, or nil for a kind
	// Cluster's own.
	Loader ImageLoader
	// Seed seeds the services' random draws.
	Seed int64
	// DBImages override DefaultDBImages.
	DBImages map[spec.ServiceType]DBImage
	// CPURequest and MemoryRequest replace the original's requests of
	// every container (200m and 50Mi per service, 100m and 128Mi per
	// database) when set: 25 services ask for 5.5 cores, more than a small
	// node has. Limits are unchanged.
	CPURequest    spec.MilliCPU
	MemoryRequest spec.Size
	// LegacyMetrics makes every service also expose the original's
	// vecro_base_<system>_* series, for the original's dashboards and
	// scripts.
	LegacyMetrics bool

	// Monitoring is how a Prometheus is found; default MonitoringAuto.
	Monitoring     Monitoring
	KubePrometheus KubePrometheus
	// Standalone configures MonitoringStandalone (and MonitoringAuto's
	// fallback).
	Standalone Standalone
	// FetchTimeout bounds MonitoringAuto's attempt to fetch kube-prometheus
	// before it falls back to the standalone Prometheus; default 30s.
	FetchTimeout time.Duration

	// Jaeger, when set, deploys Jaeger v2 with the system (its in-memory
	// store, in the system's namespace) and points every service's span
	// export at it; the Deployment then reads spans back through its
	// query API (Deployment.Traces, a traces.Jaeger) and the load
	// generator's root spans reach it through a port-forward
	// (Deployment.OTLPEndpoint). Without it the services make no spans.
	Jaeger *Jaeger
	// TraceSampleRatio is the share of new traces a service keeps; 0
	// keeps all.
	TraceSampleRatio float64

	// RolloutTimeout bounds the wait for the system's Deployments;
	// default DefaultRolloutTimeout.
	RolloutTimeout time.Duration
	// DeleteTimeout bounds a teardown's waits, for the system's pods and
	// then its namespace to be gone; default 3 minutes.
	DeleteTimeout time.Duration

	Logger *slog.Logger
}

// Runtime runs a system on Kubernetes: it applies the system's objects with
// server-side apply, waits for them, and reaches every agent and Prometheus
// through port-forwards.
type Runtime struct {
	opts Options
	log  *slog.Logger

	mu  sync.Mutex
	cfg *rest.Config
	// clusterGen is the Cluster's generation cfg belongs to.
	clusterGen int
	// mon is Options.Monitoring resolved, once InstallMonitoring (or
	// Deploy) ran; promImage is the standalone Prometheus' image once it
	// was made available.
	mon       monitor.Monitor
	promImage string
	// jaegerRef is Jaeger's image once it was made available.
	jaegerRef string
	dyn       dynamic.Interface
	cs        kubernetes.Interface
	manifest  *Manifest
	ownsNS    bool
	fwd       portforward.Set
	dep       *runtime.Deployment
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

var _ runtime.Runtime = (*Runtime)(nil)

// discardLogger is the default logger: library code says nothing unless
// asked.
var discardLogger = slog.New(slog.DiscardHandler)

// New returns a runtime; nothing is contacted before Start (or Connect).
func New(opts Options) *Runtime {
	if opts.Logger == nil {
		opts.Logger = discardLogger
	}
	if opts.Cluster == nil {
		opts.Cluster = &Cluster{Logger: opts.Logger}
	}
	if opts.Monitoring == "" {
		opts.Monitoring = MonitoringAuto
	}
	opts.KubePrometheus = opts.KubePrometheus.WithDefaults()
	opts.Standalone = opts.Standalone.WithDefaults()
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 30 * time.Second
	}
	if opts.RolloutTimeout <= 0 {
		opts.RolloutTimeout = DefaultRolloutTimeout
	}
	if opts.DeleteTimeout <= 0 {
		opts.DeleteTimeout = 3 * time.Minute
	}
	return &Runtime{opts: opts, log: opts.Logger}
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return Name }

// Start deploys sys: the cluster (Connect), monitoring (InstallMonitoring),
// then the system (Deploy). It returns once every Deployment is rolled out
// and every agent is reachable.
func (r *Runtime) Start(ctx context.Context, sys *spec.System) (*runtime.Deployment, error) {
	if _, err := r.Connect(ctx); err != nil {
		return nil, err
	}
	if err := r.InstallMonitoring(ctx); err != nil {
		return nil, err
	}
	return r.Deploy(ctx, sys)
}

// Connect provisions or opens the cluster (Cluster.Provision) and returns
// its REST config. It is idempotent.
func (r *Runtime) Connect(ctx context.Context) (*rest.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A cluster deleted since (Cluster.Delete) is provisioned again, as
	// when the runtime deleted its own cluster.
	if r.cfg != nil && r.clusterGen == r.opts.Cluster.generation() {
		return r.cfg, nil
	}
	cfg, err := r.opts.Cluster.Provision(ctx)
	if err != nil {
		return nil, err
	}
	r.clusterGen = r.opts.Cluster.generation()
	// Deploying 25 services is ~60 requests at once; client-go's default
	// 5 QPS would take seconds for nothing.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("connect to the cluster at %s: %w", cfg.Host, err)
	}
	r.cfg, r.dyn, r.cs = cfg, dyn, cs
	return cfg, nil
}

// clients are the connected cluster's, for the manifest.
func (r *Runtime) clients() manifest.Clients {
	r.mu.Lock()
	defer r.mu.Unlock()
	return manifest.Clients{Typed: r.cs, Dynamic: r.dyn}
}

// InstallMonitoring gets the cluster a Prometheus, per Options.Monitoring:
// kube-prometheus installed unless it is there (MonitoringKubePrometheus),
// found (MonitoringExisting), the standalone Prometheus' image made
// available (MonitoringStandalone; Deploy applies it with the system), or
// the first of these that works (MonitoringAuto). It waits until
// kube-prometheus' Prometheus is ready.
func (r *Runtime) InstallMonitoring(ctx context.Context) error {
	if _, err := r.Connect(ctx); err != nil {
		return err
	}
	mon, err := r.resolver().Resolve(ctx, true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.mon = mon
	r.mu.Unlock()
	return mon.Ready(ctx)
}

// monitor is the monitor InstallMonitoring resolved, or (Deploy or Apply
// alone) the one resolved without installing anything.
func (r *Runtime) monitor(ctx context.Context) (monitor.Monitor, error) {
	r.mu.Lock()
	mon := r.mon
	r.mu.Unlock()
	if mon != nil {
		return mon, nil
	}
	mon, err := r.resolver().Resolve(ctx, false)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.mon = mon
	r.mu.Unlock()
	return mon, nil
}

// resolver resolves Options.Monitoring against the connected cluster.
func (r *Runtime) resolver() monitor.Resolver {
	r.mu.Lock()
	defer r.mu.Unlock()
	return monitor.Resolver{
		Mode:            r.opts.Monitoring,
		KubePrometheus:  r.opts.KubePrometheus,
		Standalone:      r.opts.Standalone,
		FetchTimeout:    r.opts.FetchTimeout,
		Config:          r.cfg,
		Dynamic:         r.dyn,
		Clientset:       r.cs,
		Log:             r.log,
		PrometheusImage: r.standaloneImage,
	}
}

// Stop undoes Deploy and leaves the cluster (and monitoring) as it was:
// every agent's faults cleared first, then the port-forwards closed and
// what Deploy applied deleted (the namespace when vecro owns it), waiting
// until it is gone. A cluster Start provisioned stays: it is the
// Cluster's (Cluster.Delete). Safe to call twice and after a failed Start.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	dep, m, owns := r.dep, r.manifest, r.ownsNS
	stopWatch, watchDone := r.stopWatch, r.watchDone
	r.dep, r.manifest, r.stopWatch = nil, nil, nil
	r.mu.Unlock()

	var errs []error
	if stopWatch != nil {
		stopWatch()
		<-watchDone
	}
	if dep != nil {
		// Faults first: the agents drop them by their own clock anyway, but
		// a fault must not outlive the experiment by a second.
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := agent.ClearAll(cctx, dep.Agents()); err != nil {
			errs = append(errs, fmt.Errorf("clear faults: %w", err))
		}
		cancel()
	}
	r.fwd.CloseAll()
	if m != nil {
		if err := r.delete(ctx, m, owns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
