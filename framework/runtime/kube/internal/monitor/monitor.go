package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
)

// A Monitor is one way of getting the system's metrics into a Prometheus
// that the runtime then reads. The modes differ in what exists before the
// system (kube-prometheus' Prometheus), what the system's manifest carries
// (a ServiceMonitor, or a whole Prometheus) and where that Prometheus runs;
// everything else in the runtime is the same for all of them.
type Monitor interface {
	// Mode is what Deployment.Monitoring records; never auto or existing.
	Mode() Mode
	// Ready waits for what must be there before the system is applied.
	Ready(ctx context.Context) error
	// Configure adds the monitor's objects to a system's manifest.
	Configure(o *manifest.Options)
	// Prometheus waits for the Prometheus that scrapes the system of m
	// and returns its namespace and pod; an empty pod when there is none.
	Prometheus(ctx context.Context, m *manifest.Manifest) (ns, pod string, err error)
}

var (
	_ Monitor = KubePrometheusMonitor{}
	_ Monitor = StandaloneMonitor{}
	_ Monitor = None{}
)

// KubePrometheusMonitor reads kube-prometheus' Prometheus, which finds the
// system through its ServiceMonitor.
type KubePrometheusMonitor struct {
	Config KubePrometheus
	// Pods is where Prometheus' pod is waited for; only Configure works
	// without it.
	Pods kubernetes.Interface
}

func (KubePrometheusMonitor) Mode() Mode { return ModeKubePrometheus }

func (k KubePrometheusMonitor) Ready(ctx context.Context) error {
	_, _, err := k.Prometheus(ctx, nil)
	return err
}

func (k KubePrometheusMonitor) Configure(o *manifest.Options) {
	o.Monitor = true
	o.Prometheus = manifest.ServiceAccountRef{Namespace: k.Config.Namespace, Name: k.Config.ServiceAccount}
}

func (k KubePrometheusMonitor) Prometheus(ctx context.Context, _ *manifest.Manifest) (string, string, error) {
	pod, err := WaitPrometheus(ctx, k.Pods, k.Config)
	return k.Config.Namespace, pod, err
}

// StandaloneMonitor deploys a Prometheus with the system, in its namespace.
type StandaloneMonitor struct {
	Config manifest.Standalone
	// Image is the Prometheus image the cluster can start.
	Image string
	// Pods is where Prometheus' pod is waited for; only Configure works
	// without it.
	Pods kubernetes.Interface
}

func (StandaloneMonitor) Mode() Mode { return ModeStandalone }

// Ready has nothing to wait for: the Prometheus comes with the system.
func (StandaloneMonitor) Ready(context.Context) error { return nil }

func (s StandaloneMonitor) Configure(o *manifest.Options) {
	cfg := s.Config
	o.Standalone, o.PrometheusImage = &cfg, s.Image
}

func (s StandaloneMonitor) Prometheus(ctx context.Context, m *manifest.Manifest) (string, string, error) {
	pod, err := WaitStandalone(ctx, s.Pods, m.Namespace, m.System, s.Config.Timeout)
	return m.Namespace, pod, err
}

// None reads no metrics.
type None struct{}

func (None) Mode() Mode                  { return ModeNone }
func (None) Ready(context.Context) error { return nil }
func (None) Configure(*manifest.Options) {}
func (None) Prometheus(context.Context, *manifest.Manifest) (string, string, error) {
	return "", "", nil
}

// Resolver turns the mode a user chose into a Monitor against one
// cluster.
type Resolver struct {
	Mode           Mode
	KubePrometheus KubePrometheus
	Standalone     manifest.Standalone
	// FetchTimeout bounds auto's attempt to fetch kube-prometheus.
	FetchTimeout time.Duration
	// Config, Dynamic and Clientset reach the cluster: the first two to
	// find and install kube-prometheus, the last to wait for pods.
	Config    *rest.Config
	Dynamic   dynamic.Interface
	Clientset kubernetes.Interface
	Log       *slog.Logger
	// PrometheusImage makes the standalone Prometheus' image available to
	// the cluster and returns its reference.
	PrometheusImage func(ctx context.Context) (string, error)
}

// Resolve is the one place a mode becomes a Monitor. With install (the
// runtime's InstallMonitoring), kube-prometheus is installed when the mode
// asks for it and auto tries that before it falls back to the standalone
// Prometheus; without (Deploy or Apply alone) nothing is installed: auto and
// existing read an installed kube-prometheus, and auto otherwise gets the
// standalone Prometheus.
func (mr Resolver) Resolve(ctx context.Context, install bool) (Monitor, error) {
	mode, err := ParseMode(string(mr.Mode))
	if err != nil {
		return nil, err
	}
	if mr.Log == nil {
		mr.Log = discard
	}
	kp := mr.KubePrometheus
	kpm := KubePrometheusMonitor{Config: kp, Pods: mr.Clientset}
	switch {
	case mode == ModeNone:
		mr.logIf(install, "monitoring", "mode", mode)
		return None{}, nil
	case mode == ModeStandalone:
		mr.logIf(install, "monitoring", "mode", mode)
		return mr.standaloneMonitor(ctx)
	case mode == ModeKubePrometheus && !install:
		return kpm, nil
	}
	ok, err := kp.Installed(ctx, mr.Dynamic)
	switch {
	case err != nil:
		return nil, err
	case ok:
		mr.logIf(install, "monitoring: kube-prometheus is installed; not installing it", "mode", mode, "namespace", kp.Namespace, "prometheus", kp.Prometheus)
		return kpm, nil
	case mode == ModeExisting:
		return nil, errNoKubePrometheus(kp)
	case !install:
		return mr.standaloneMonitor(ctx)
	}
	fctx, cancel := context.WithTimeout(ctx, min(mr.FetchTimeout, kp.Timeout))
	rel, err := FetchRelease(fctx, kp, mr.Log)
	cancel()
	if err != nil {
		if mode == ModeAuto {
			mr.Log.Warn("monitoring: kube-prometheus cannot be fetched; deploying the standalone Prometheus with the system instead", "mode", ModeStandalone, "err", err)
			return mr.standaloneMonitor(ctx)
		}
		return nil, err
	}
	mr.Log.Info("monitoring: installing kube-prometheus", "mode", ModeKubePrometheus, "version", kp.Version)
	ictx, cancel := context.WithTimeout(ctx, kp.Timeout)
	defer cancel()
	if err := InstallRelease(ictx, mr.Config, rel, mr.Log); err != nil {
		return nil, err
	}
	return kpm, nil
}

// logIf logs what an install decided; a resolution without one (Deploy
// alone) stays quiet, as it did before there was one resolver.
func (mr Resolver) logIf(install bool, msg string, args ...any) {
	if install {
		mr.Log.Info(msg, args...)
	}
}

func (mr Resolver) standaloneMonitor(ctx context.Context) (Monitor, error) {
	if mr.PrometheusImage == nil {
		return nil, errors.New("standalone prometheus: no way to get its image")
	}
	img, err := mr.PrometheusImage(ctx)
	if err != nil {
		return nil, err
	}
	return StandaloneMonitor{Config: mr.Standalone, Image: img, Pods: mr.Clientset}, nil
}

func errNoKubePrometheus(kp KubePrometheus) error {
	return fmt.Errorf("monitoring: no Prometheus %s/%s (prometheus-operator) in the cluster; install kube-prometheus or use --monitoring=%s or %s", kp.Namespace, kp.Prometheus, ModeKubePrometheus, ModeStandalone)
}
