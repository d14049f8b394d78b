package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/portforward"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/rollout"
	"github.com/vecrosim/vecro/framework/runtime/local"
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
	// module containing the working directory.
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

	// RolloutTimeout bounds the wait for the system's Deployments;
	// default DefaultRolloutTimeout.
	RolloutTimeout time.Duration
	// DeleteTimeout bounds the wait for the namespace to be gone; default
	// 3 minutes.
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
	// mon is Options.Monitoring resolved, once InstallMonitoring (or
	// Deploy) ran; promImage is the standalone Prometheus' image once it
	// was made available.
	mon       monitor.Monitor
	promImage string
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
	if r.cfg != nil {
		return r.cfg, nil
	}
	cfg, err := r.opts.Cluster.Provision(ctx)
	if err != nil {
		return nil, err
	}
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

// standaloneImage makes the standalone Prometheus' image available: the
// given one, or the tool cache's binary packed and handed to the loader.
func (r *Runtime) standaloneImage(ctx context.Context) (string, error) {
	r.mu.Lock()
	done := r.promImage
	r.mu.Unlock()
	if done != "" {
		return done, nil
	}
	ref := r.opts.Standalone.Image
	if ref == "" {
		loader, err := r.loader()
		if err != nil {
			return "", fmt.Errorf("standalone prometheus image: %w; or pass one the cluster can pull (--prometheus-image)", err)
		}
		built, img, err := images.Prometheus(ctx, r.opts.Standalone.Binary, r.log)
		if err != nil {
			return "", err
		}
		r.log.Info("loading the standalone prometheus image", "image", built)
		if ref, err = loader.Load(ctx, built, img); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	r.promImage = ref
	r.mu.Unlock()
	return ref, nil
}

// loader is Options.Loader, or the kind cluster's.
func (r *Runtime) loader() (images.Loader, error) {
	if r.opts.Loader != nil {
		return r.opts.Loader, nil
	}
	if l := r.opts.Cluster.loader(); l != nil {
		return l, nil
	}
	return nil, errors.New("no way to hand a built image to this cluster: name a registry it pulls from (--registry) or, for a single node on this machine, its containerd (--containerd-socket)")
}

// Deploy applies sys to the connected cluster, waits for its rollout and
// opens the port-forwards. Call Connect (and InstallMonitoring) first.
func (r *Runtime) Deploy(ctx context.Context, sys *spec.System) (*runtime.Deployment, error) {
	if _, err := r.Connect(ctx); err != nil {
		return nil, err
	}
	m, _, err := r.Apply(ctx, sys)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(m.Deployments))
	for i, d := range m.Deployments {
		names[i] = d.Deployment
	}
	r.log.Info("waiting for rollout", "namespace", m.Namespace, "deployments", len(names), "timeout", r.opts.RolloutTimeout)
	if err := rollout.Wait(ctx, r.cs, m.Namespace, names, r.opts.RolloutTimeout); err != nil {
		return nil, err
	}
	// A second Deploy replaces the first one's port-forwards and watch.
	r.mu.Lock()
	stop, done := r.stopWatch, r.watchDone
	r.stopWatch = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	r.fwd.CloseAll()
	dep, err := r.reach(ctx, sys, m)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.dep = dep
	r.mu.Unlock()
	return dep, nil
}

// Apply builds sys's manifest with this runtime's options and applies it
// (server-side apply, field manager "vecro"). A second Apply of the same
// system changes nothing: the token is read back from the cluster.
func (r *Runtime) Apply(ctx context.Context, sys *spec.System) (*Manifest, []manifest.Applied, error) {
	if _, err := r.Connect(ctx); err != nil {
		return nil, nil, err
	}
	if sys == nil {
		return nil, nil, errors.New("kube runtime: no system")
	}
	ns := r.opts.Namespace
	if ns == "" {
		ns = sys.EffectiveNamespace()
	}
	owns, err := r.ownsNamespace(ctx, ns, sys.Name)
	if err != nil {
		return nil, nil, err
	}
	token, dbPassword, err := r.secrets(ctx, ns, sys)
	if err != nil {
		return nil, nil, err
	}
	image, err := r.image(ctx)
	if err != nil {
		return nil, nil, err
	}
	mon, err := r.monitor(ctx)
	if err != nil {
		return nil, nil, err
	}
	mo := manifest.Options{
		Namespace:       ns,
		Image:           image,
		PullPolicy:      r.opts.PullPolicy,
		Token:           token,
		DBPassword:      dbPassword,
		Seed:            r.opts.Seed,
		DBImages:        r.opts.DBImages,
		ManageNamespace: owns,
		CPURequest:      r.opts.CPURequest,
		MemoryRequest:   r.opts.MemoryRequest,
		LegacyMetrics:   r.opts.LegacyMetrics,
	}
	mon.Configure(&mo)
	m, err := manifest.Build(sys, mo)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	r.manifest, r.ownsNS = m, owns
	r.mu.Unlock()
	applied, err := manifest.Apply(ctx, r.dyn, m.Objects)
	if err != nil {
		return m, applied, fmt.Errorf("deploy %s: %w", sys.Name, err)
	}
	r.log.Info("applied", "system", sys.Name, "namespace", ns, "objects", len(applied))
	return m, applied, nil
}

// ownsNamespace: vecro manages the namespace (creates it, deletes it at
// Stop) unless it existed before without vecro's labels; then only
// vecro's own objects in it are touched.
func (r *Runtime) ownsNamespace(ctx context.Context, ns, system string) (bool, error) {
	got, err := r.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("look up namespace %s: %w", ns, err)
	}
	l := got.Labels
	owned := l[manifest.LabelManagedBy] == manifest.ManagedBy && l[manifest.LabelSystem] == system
	if !owned {
		r.log.Info("namespace exists and is not vecro's: deploying into it, deleting only vecro's objects at the end", "namespace", ns)
	}
	return owned, nil
}

// secrets reads the token (and MariaDB password) of an earlier deploy, so
// that applying again changes nothing, or makes new ones.
func (r *Runtime) secrets(ctx context.Context, ns string, sys *spec.System) (token, dbPassword string, err error) {
	s, err := r.cs.CoreV1().Secrets(ns).Get(ctx, manifest.SecretName(sys.Name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return "", "", fmt.Errorf("read agent secret %s/%s: %w", ns, manifest.SecretName(sys.Name), err)
	default:
		token, dbPassword = string(s.Data[manifest.SecretToken]), string(s.Data[manifest.SecretDBPassword])
	}
	if token == "" {
		if token, err = randomHex(32); err != nil {
			return "", "", err
		}
	}
	needDB := slices.ContainsFunc(sys.Services, func(s spec.Service) bool { return s.Type == spec.TypeMySQL })
	if needDB && dbPassword == "" {
		if dbPassword, err = randomHex(16); err != nil {
			return "", "", err
		}
	}
	if !needDB {
		dbPassword = ""
	}
	return token, dbPassword, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// image is the service image: the given one, or (kind) one built from
// source by framework/image (go-containerregistry, no Docker) and loaded
// into the nodes.
func (r *Runtime) image(ctx context.Context) (string, error) {
	if r.opts.Image != "" {
		return r.opts.Image, nil
	}
	loader, err := r.loader()
	if err != nil {
		return "", fmt.Errorf("service image: %w; or pass an image the cluster can pull (--image)", err)
	}
	dir := r.opts.ModuleDir
	if dir == "" {
		// The same lookup as the local runtime's service build: the
		// working directory's module, else the one this was compiled in.
		if dir, err = local.FindModule(); err != nil {
			return "", fmt.Errorf("service image: %w; or pass an image the cluster can pull (--image)", err)
		}
	}
	built, img, err := images.Service(ctx, dir, r.log)
	if err != nil {
		return "", err
	}
	r.log.Info("loading the service image", "image", built)
	ref, err := loader.Load(ctx, built, img)
	if err != nil {
		return "", err
	}
	r.opts.Image = ref
	return ref, nil
}

// reach opens a port-forward to every pod's admin port, to one pod of every
// service's port and to Prometheus, and fills in the Deployment.
func (r *Runtime) reach(ctx context.Context, sys *spec.System, m *Manifest) (*runtime.Deployment, error) {
	token, _, err := r.secrets(ctx, m.Namespace, sys)
	if err != nil {
		return nil, err
	}
	mon, err := r.monitor(ctx)
	if err != nil {
		return nil, err
	}
	dep := &runtime.Deployment{
		Runtime:   Name,
		System:    sys.Name,
		Namespace: m.Namespace,
		Created:   time.Now().UTC(),
		PID:       os.Getpid(),
		Services:  make([]runtime.Service, len(m.Deployments)),
	}
	// Every forward is its own streaming connection through the API server;
	// open them a few at a time. They live until Stop, not until ctx ends
	// (errgroup cancels gctx as soon as Wait returns).
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	live := context.WithoutCancel(ctx)
	for i, d := range m.Deployments {
		pods, err := r.cs.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifest.ServiceSelector(sys.Name, d.Service)})
		if err != nil {
			return nil, fmt.Errorf("list pods of %s: %w", d.Deployment, err)
		}
		var ready []string
		for j := range pods.Items {
			if p := &pods.Items[j]; p.Namespace == m.Namespace && rollout.PodReady(p) && p.DeletionTimestamp == nil {
				ready = append(ready, p.Name)
			}
		}
		slices.Sort(ready)
		if len(ready) == 0 {
			return nil, fmt.Errorf("service %s: no ready pod after rollout", d.Service)
		}
		svc := &dep.Services[i]
		svc.Name, svc.Type = d.Service, d.Type
		svc.Instances = make([]runtime.Instance, len(ready))
		for j, pod := range ready {
			g.Go(func() error {
				f, err := portforward.Open(live, r.cfg, m.Namespace, pod, manifest.AdminPort, r.log)
				if err != nil {
					return fmt.Errorf("reach the agent of %s: %w", pod, err)
				}
				r.fwd.Add(f)
				svc.Instances[j] = runtime.Instance{Name: pod, Agent: agent.Endpoint{Instance: pod, Service: d.Service, URL: f.URL(), Token: token}}
				return nil
			})
		}
		// The load generator reaches a service through one of its pods,
		// as `kubectl port-forward svc/...` does.
		g.Go(func() error {
			f, err := portforward.Open(live, r.cfg, m.Namespace, ready[0], manifest.ServicePort, r.log)
			if err != nil {
				return fmt.Errorf("reach service %s: %w", d.Service, err)
			}
			r.fwd.Add(f)
			svc.URL = f.URL()
			return nil
		})
	}
	g.Go(func() error {
		ns, pod, err := mon.Prometheus(gctx, m)
		if err != nil || pod == "" {
			return err
		}
		f, err := portforward.Open(live, r.cfg, ns, pod, manifest.PrometheusPort, r.log)
		if err != nil {
			return fmt.Errorf("reach prometheus: %w", err)
		}
		r.fwd.Add(f)
		dep.PrometheusURL = f.URL()
		return nil
	})
	if err := g.Wait(); err != nil {
		r.fwd.CloseAll()
		return nil, err
	}
	if dep.PrometheusURL != "" {
		src, err := metrics.NewHTTP(dep.PrometheusURL, metrics.WithLogger(r.log))
		if err != nil {
			r.fwd.CloseAll()
			return nil, err
		}
		dep.Metrics, dep.Monitoring = src, string(mon.Mode())
	}
	failures := make(chan error, 64)
	dep.Failures = failures
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.mu.Lock()
	r.stopWatch, r.watchDone = cancel, make(chan struct{})
	done := r.watchDone
	r.mu.Unlock()
	go func() {
		defer close(done)
		r.watch(wctx, m, failures)
	}()
	return dep, nil
}

// watchInterval is how often the pods are checked for restarts.
const watchInterval = 2 * time.Second

// watch reports every pod restart, pod loss and lost port-forward on
// failures until ctx ends.
func (r *Runtime) watch(ctx context.Context, m *Manifest, failures chan<- error) {
	restarts := map[string]int32{}
	reported := map[*portforward.Forward]bool{}
	// Pods by name as last listed: a pod that disappears or starts
	// terminating while the system should run (an eviction, a node lost, a
	// kubectl delete) is a failure like a restart, although its Deployment
	// will replace it; the watch ends before Stop deletes anything.
	live, gone := map[string]bool{}, map[string]bool{}
	send := func(err error) {
		select {
		case failures <- err:
		default:
			r.log.Error("deployment failure (channel full)", "err", err)
		}
	}
	sel := manifest.SystemSelector(m.System)
	first := true
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		pods, err := r.cs.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		listed := map[string]bool{}
		if err == nil {
			for _, p := range pods.Items {
				listed[p.Name] = true
				if p.DeletionTimestamp != nil && !gone[p.Name] {
					gone[p.Name] = true
					send(fmt.Errorf("pod %s/%s is being deleted (since %s): %s", p.Namespace, p.Name, p.DeletionTimestamp.UTC().Format(time.RFC3339), deletionReason(&p)))
				}
				for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
					key := p.Name + "/" + cs.Name
					if prev, ok := restarts[key]; ok && cs.RestartCount > prev || !ok && !first && cs.RestartCount > 0 {
						send(r.restartError(ctx, &p, cs))
					}
					restarts[key] = cs.RestartCount
				}
			}
			for name := range live {
				if !listed[name] && !gone[name] {
					gone[name] = true
					send(fmt.Errorf("pod %s/%s is gone: deleted while the system was running", m.Namespace, name))
				}
			}
			live = listed
		}
		first = false
		for _, f := range r.fwd.List() {
			if err := f.Err(); err != nil && !reported[f] {
				reported[f] = true
				send(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deletionReason says what the pod's status tells of why it goes: an
// eviction or a disruption condition, or nothing more than the deletion.
func deletionReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return fmt.Sprintf("%s: %s", c.Reason, c.Message)
		}
	}
	if p.Status.Reason != "" {
		return fmt.Sprintf("%s: %s", p.Status.Reason, p.Status.Message)
	}
	return "deleted while the system was running"
}

// restartError names the pod and container, how it ended and its last log
// lines.
func (r *Runtime) restartError(ctx context.Context, p *corev1.Pod, cs corev1.ContainerStatus) error {
	how := "restarted"
	if t := cs.LastTerminationState.Terminated; t != nil {
		how = fmt.Sprintf("exited %d (%s) and was restarted", t.ExitCode, t.Reason)
	}
	tail := int64(20)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	logs, err := r.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name, Previous: true, TailLines: &tail}).DoRaw(lctx)
	last := string(bytes.TrimSpace(logs))
	if err != nil {
		last = "(no log: " + err.Error() + ")"
	}
	return fmt.Errorf("pod %s/%s container %s %s (restart %d); last log lines:\n%s", p.Namespace, p.Name, cs.Name, how, cs.RestartCount, last)
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

// Delete removes what a deploy of sys left in the cluster when the process
// that deployed it could not (it was killed): the namespace if vecro created
// it, else vecro's objects in it, and the standalone Prometheus' cluster role
// and binding. The agents go with their pods, and any fault with them. It
// needs no earlier Start; nothing there is not an error.
func (r *Runtime) Delete(ctx context.Context, sys *spec.System) error {
	if _, err := r.Connect(ctx); err != nil {
		return err
	}
	if sys == nil {
		return errors.New("kube runtime: no system")
	}
	ns := r.opts.Namespace
	if ns == "" {
		ns = sys.EffectiveNamespace()
	}
	owns, err := r.ownsNamespace(ctx, ns, sys.Name)
	if err != nil {
		return err
	}
	kp := r.opts.KubePrometheus
	// Only the objects' names matter here: whatever mode deployed the
	// system, its objects are among the standalone Prometheus' and, where
	// the kind exists, kube-prometheus' ServiceMonitor.
	installed, err := kp.Installed(ctx, r.dyn)
	if err != nil {
		return err
	}
	mo := manifest.Options{
		Namespace:       ns,
		Image:           DryRunImage,
		Token:           DryRunSecret,
		DBPassword:      DryRunSecret,
		ManageNamespace: owns,
	}
	monitor.StandaloneMonitor{Config: r.opts.Standalone, Image: DryRunPrometheusImage}.Configure(&mo)
	if installed {
		monitor.KubePrometheusMonitor{Config: kp}.Configure(&mo)
	}
	m, err := manifest.Build(sys, mo)
	if err != nil {
		return err
	}
	return r.delete(ctx, m, owns)
}

// delete removes the system and waits until it is gone.
func (r *Runtime) delete(ctx context.Context, m *Manifest, owns bool) error {
	if owns {
		err := r.cs.CoreV1().Namespaces().Delete(ctx, m.Namespace, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete namespace %s: %w", m.Namespace, err)
		}
		gone := func(ctx context.Context) (bool, error) {
			_, err := r.cs.CoreV1().Namespaces().Get(ctx, m.Namespace, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		}
		if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, r.opts.DeleteTimeout, false, gone); err != nil {
			return fmt.Errorf("delete namespace %s: still there after %v (%s): %w", m.Namespace, r.opts.DeleteTimeout, r.namespaceState(ctx, m.Namespace), err)
		}
		r.log.Info("deleted", "namespace", m.Namespace)
		// The namespace took its objects; the cluster-scoped ones (the
		// standalone Prometheus' access to the nodes) are not in it.
		var errs []error
		for _, o := range slices.Backward(m.Objects) {
			if o.Namespace != "" || o.Kind == "Namespace" {
				continue
			}
			if err := r.dyn.Resource(o.GVR).Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
			}
		}
		return errors.Join(errs...)
	}
	bg := metav1.DeletePropagationBackground
	var errs []error
	for _, o := range slices.Backward(m.Objects) {
		var ri dynamic.ResourceInterface = r.dyn.Resource(o.GVR)
		if o.Namespace != "" {
			ri = r.dyn.Resource(o.GVR).Namespace(o.Namespace)
		}
		err := ri.Delete(ctx, o.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	left := 0
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, r.opts.DeleteTimeout, false, func(ctx context.Context) (bool, error) {
		pods, err := r.cs.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector(m.System)})
		if err != nil {
			return false, nil
		}
		left = len(pods.Items)
		return left == 0, nil
	}); err != nil {
		return fmt.Errorf("delete system %s in namespace %s: %d pod(s) left after %v: %w", m.System, m.Namespace, left, r.opts.DeleteTimeout, err)
	}
	return nil
}

// namespaceState says why a namespace is not gone: its phase and
// conditions (what the namespace controller could not delete).
func (r *Runtime) namespaceState(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ns, err := r.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "phase %s", ns.Status.Phase)
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			fmt.Fprintf(&b, "; %s: %s", c.Type, c.Message)
		}
	}
	return b.String()
}
