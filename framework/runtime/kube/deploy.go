package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/portforward"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/rollout"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
)

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
	if r.opts.Jaeger != nil {
		names = append(names, manifest.JaegerName(sys.Name))
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
func (r *Runtime) Apply(ctx context.Context, sys *spec.System) (*Manifest, []Applied, error) {
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
	if r.opts.Jaeger != nil {
		if mo.JaegerImage, err = r.jaegerImage(ctx); err != nil {
			return nil, nil, err
		}
		mo.JaegerMaxTraces, mo.TraceSampleRatio = r.opts.Jaeger.MaxTraces, r.opts.TraceSampleRatio
	}
	m, err := manifest.Build(sys, mo)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	r.manifest, r.ownsNS = m, owns
	r.mu.Unlock()
	applied, err := manifest.Apply(ctx, r.clients(), m.Objects)
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
		if dir, err = build.FindModule(); err != nil {
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
				url, err := r.forward(ctx, m.Namespace, pod, manifest.AdminPort)
				if err != nil {
					return fmt.Errorf("reach the agent of %s: %w", pod, err)
				}
				svc.Instances[j] = runtime.Instance{Name: pod, Agent: agent.Endpoint{Instance: pod, Service: d.Service, URL: url, Token: token}}
				return nil
			})
		}
		// The load generator reaches a service through one of its pods,
		// as `kubectl port-forward svc/...` does.
		g.Go(func() error {
			url, err := r.forward(ctx, m.Namespace, ready[0], manifest.ServicePort)
			if err != nil {
				return fmt.Errorf("reach service %s: %w", d.Service, err)
			}
			svc.URL = url
			return nil
		})
	}
	g.Go(func() error {
		ns, pod, err := mon.Prometheus(gctx, m)
		if err != nil || pod == "" {
			return err
		}
		url, err := r.forward(ctx, ns, pod, manifest.PrometheusPort)
		if err != nil {
			return fmt.Errorf("reach prometheus: %w", err)
		}
		dep.PrometheusURL = url
		return nil
	})
	if r.opts.Jaeger != nil {
		g.Go(func() error { return r.reachJaeger(ctx, sys, m.Namespace, dep) })
	}
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
	var pods []string
	for _, s := range dep.Services {
		for _, in := range s.Instances {
			pods = append(pods, in.Name)
		}
	}
	failures := make(chan error, 64)
	dep.Failures = failures
	// The pod watch and the log followers run until Stop.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	lp, err := followLogs(wctx, r.cs, m.Namespace, pods)
	if err != nil {
		cancel()
		r.fwd.CloseAll()
		return nil, err
	}
	dep.Logs = lp
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

// standaloneImage makes the standalone Prometheus' image available: the
// given one, or the tool cache's binary packed and handed to the loader.
func (r *Runtime) standaloneImage(ctx context.Context) (string, error) {
	return r.helperImage(ctx, &r.promImage, r.opts.Standalone.Image, "standalone prometheus", "--prometheus-image",
		func() (string, v1.Image, error) { return images.Prometheus(ctx, r.opts.Standalone.Binary, r.log) })
}

// jaegerImage makes Jaeger's image available: Options.Jaeger.Image, or
// the tool cache's binary packed and handed to the loader.
func (r *Runtime) jaegerImage(ctx context.Context) (string, error) {
	return r.helperImage(ctx, &r.jaegerRef, r.opts.Jaeger.Image, "jaeger", "--jaeger-image",
		func() (string, v1.Image, error) { return images.Jaeger(ctx, r.opts.Jaeger.Binary, r.log) })
}

// helperImage makes the image of a helper the runtime deploys with the
// system available once: given, when set, else the image pack builds,
// handed to the loader. The reference is kept in *cached (guarded by
// r.mu); what names the helper and the flag that gives one are for errors.
func (r *Runtime) helperImage(ctx context.Context, cached *string, given, what, flag string, pack func() (string, v1.Image, error)) (string, error) {
	r.mu.Lock()
	done := *cached
	r.mu.Unlock()
	if done != "" {
		return done, nil
	}
	ref := given
	if ref == "" {
		loader, err := r.loader()
		if err != nil {
			return "", fmt.Errorf("%s image: %w; or pass one the cluster can pull (%s)", what, err, flag)
		}
		built, img, err := pack()
		if err != nil {
			return "", err
		}
		r.log.Info("loading the "+what+" image", "image", built)
		if ref, err = loader.Load(ctx, built, img); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	*cached = ref
	r.mu.Unlock()
	return ref, nil
}

// reachJaeger opens port-forwards to Jaeger's query API, which the
// Deployment's Traces read, and to its OTLP port, where the load
// generator's root spans go.
func (r *Runtime) reachJaeger(ctx context.Context, sys *spec.System, ns string, dep *runtime.Deployment) error {
	pods, err := r.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: manifest.JaegerSelector(sys.Name)})
	if err != nil {
		return fmt.Errorf("list jaeger's pod: %w", err)
	}
	var pod string
	for i := range pods.Items {
		if p := &pods.Items[i]; rollout.PodReady(p) && p.DeletionTimestamp == nil {
			pod = p.Name
			break
		}
	}
	if pod == "" {
		return fmt.Errorf("jaeger (%s): no ready pod after rollout", manifest.JaegerName(sys.Name))
	}
	query, err := r.forward(ctx, ns, pod, manifest.JaegerQueryPort)
	if err != nil {
		return fmt.Errorf("reach jaeger's query API: %w", err)
	}
	otlp, err := r.forward(ctx, ns, pod, manifest.JaegerOTLPPort)
	if err != nil {
		return fmt.Errorf("reach jaeger's OTLP receiver: %w", err)
	}
	dep.JaegerURL, dep.OTLPEndpoint = query, otlp
	dep.Traces = &traces.Jaeger{URL: query}
	return nil
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

// forward opens a port-forward to port of pod that lives until Stop (or
// Detach), not until ctx ends, and returns its local URL.
func (r *Runtime) forward(ctx context.Context, ns, pod string, port int) (string, error) {
	r.mu.Lock()
	cfg := r.cfg
	r.mu.Unlock()
	f, err := portforward.Open(context.WithoutCancel(ctx), cfg, ns, pod, port, r.log)
	if err != nil {
		return "", err
	}
	r.fwd.Add(f)
	return f.URL(), nil
}
