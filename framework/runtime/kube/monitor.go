package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
)

// Monitoring selects how the runtime gets a Prometheus.
type Monitoring string

// Monitoring modes.
const (
	// MonitoringKubePrometheus installs the pinned kube-prometheus release
	// unless it is there already (the default).
	MonitoringKubePrometheus Monitoring = "kube-prometheus"
	// MonitoringExisting uses the prometheus-operator and Prometheus that
	// are already installed (named as in KubePrometheus) and installs
	// nothing.
	MonitoringExisting Monitoring = "existing"
	// MonitoringStandalone deploys a plain Prometheus (built from the Go
	// module proxy, see Standalone) into the system's namespace: for
	// clusters with no internet, where kube-prometheus can be neither
	// fetched nor pulled.
	MonitoringStandalone Monitoring = "standalone"
	// MonitoringAuto (the default) uses kube-prometheus when it is
	// installed or can be fetched, and the standalone Prometheus otherwise;
	// it logs which.
	MonitoringAuto Monitoring = "auto"
	// MonitoringNone deploys no ServiceMonitor and reads no metrics.
	MonitoringNone Monitoring = "none"
)

// MonitoringModes lists the modes, for flags and errors.
var MonitoringModes = []Monitoring{MonitoringAuto, MonitoringKubePrometheus, MonitoringStandalone, MonitoringExisting, MonitoringNone}

// ParseMonitoring checks a mode's name.
func ParseMonitoring(s string) (Monitoring, error) {
	for _, m := range MonitoringModes {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(MonitoringModes))
	for i, m := range MonitoringModes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("monitoring mode %q: want one of %s", s, strings.Join(names, ", "))
}

// A monitor is one way of getting the system's metrics into a Prometheus
// that the runtime then reads. The modes differ in what exists before the
// system (kube-prometheus' Prometheus), what the system's manifest carries
// (a ServiceMonitor, or a whole Prometheus) and where that Prometheus runs;
// everything else in the runtime is the same for all of them.
type monitor interface {
	// mode is what Deployment.Monitoring records; never auto or existing.
	mode() Monitoring
	// ready waits for what must be there before the system is applied.
	ready(ctx context.Context) error
	// configure adds the monitor's objects to a system's manifest.
	configure(o *manifest.Options)
	// prometheus waits for the Prometheus that scrapes the system of m and
	// returns its namespace and pod; an empty pod when there is none.
	prometheus(ctx context.Context, m *Manifest) (ns, pod string, err error)
}

var (
	_ monitor = kubePrometheusMonitor{}
	_ monitor = standaloneMonitor{}
	_ monitor = noMonitor{}
)

// podsIn is a client whose lists stay in one namespace.
type podsIn func(ns string) (*resources.Resources, error)

// kubePrometheusMonitor reads kube-prometheus' Prometheus, which finds the
// system through its ServiceMonitor.
type kubePrometheusMonitor struct {
	kp   KubePrometheus
	pods podsIn
}

func (kubePrometheusMonitor) mode() Monitoring { return MonitoringKubePrometheus }

func (k kubePrometheusMonitor) ready(ctx context.Context) error {
	_, _, err := k.prometheus(ctx, nil)
	return err
}

func (k kubePrometheusMonitor) configure(o *manifest.Options) {
	o.Monitor = true
	o.Prometheus = manifest.ServiceAccountRef{Namespace: k.kp.Namespace, Name: k.kp.ServiceAccount}
}

func (k kubePrometheusMonitor) prometheus(ctx context.Context, _ *Manifest) (string, string, error) {
	res, err := k.pods(k.kp.Namespace)
	if err != nil {
		return "", "", err
	}
	pod, err := WaitPrometheus(ctx, res, k.kp)
	return k.kp.Namespace, pod, err
}

// standaloneMonitor deploys a Prometheus with the system, in its namespace.
type standaloneMonitor struct {
	cfg Standalone
	// image is the Prometheus image the cluster can start.
	image string
	pods  podsIn
}

func (standaloneMonitor) mode() Monitoring { return MonitoringStandalone }

// ready has nothing to wait for: the Prometheus comes with the system.
func (standaloneMonitor) ready(context.Context) error { return nil }

func (s standaloneMonitor) configure(o *manifest.Options) {
	cfg := s.cfg
	o.Standalone, o.PrometheusImage = &cfg, s.image
}

func (s standaloneMonitor) prometheus(ctx context.Context, m *Manifest) (string, string, error) {
	res, err := s.pods(m.Namespace)
	if err != nil {
		return "", "", err
	}
	pod, err := WaitStandalonePrometheus(ctx, res, m.System, s.cfg.Timeout)
	return m.Namespace, pod, err
}

// noMonitor reads no metrics.
type noMonitor struct{}

func (noMonitor) mode() Monitoring                                              { return MonitoringNone }
func (noMonitor) ready(context.Context) error                                   { return nil }
func (noMonitor) configure(*manifest.Options)                                   {}
func (noMonitor) prometheus(context.Context, *Manifest) (string, string, error) { return "", "", nil }

// monitorResolver turns Options.Monitoring into a monitor against one
// cluster.
type monitorResolver struct {
	mode         Monitoring
	kp           KubePrometheus
	standalone   Standalone
	fetchTimeout time.Duration
	cfg          *rest.Config
	dyn          dynamic.Interface
	pods         podsIn
	log          *slog.Logger
	// promImage makes the standalone Prometheus' image available and
	// returns its reference.
	promImage func(ctx context.Context) (string, error)
}

// resolve is the one place a mode becomes a monitor. With install (the
// runtime's InstallMonitoring), kube-prometheus is installed when the mode
// asks for it and auto tries that before it falls back to the standalone
// Prometheus; without (Deploy or Apply alone) nothing is installed: auto and
// existing read an installed kube-prometheus, and auto otherwise gets the
// standalone Prometheus.
func (mr monitorResolver) resolve(ctx context.Context, install bool) (monitor, error) {
	mode, err := ParseMonitoring(string(mr.mode))
	if err != nil {
		return nil, err
	}
	kp := mr.kp
	kpm := kubePrometheusMonitor{kp: kp, pods: mr.pods}
	switch {
	case mode == MonitoringNone:
		mr.logIf(install, "monitoring", "mode", mode)
		return noMonitor{}, nil
	case mode == MonitoringStandalone:
		mr.logIf(install, "monitoring", "mode", mode)
		return mr.standaloneMonitor(ctx)
	case mode == MonitoringKubePrometheus && !install:
		return kpm, nil
	}
	ok, err := kp.Installed(ctx, mr.dyn)
	switch {
	case err != nil:
		return nil, err
	case ok:
		mr.logIf(install, "monitoring: kube-prometheus is installed; not installing it", "mode", mode, "namespace", kp.Namespace, "prometheus", kp.Prometheus)
		return kpm, nil
	case mode == MonitoringExisting:
		return nil, errNoKubePrometheus(kp)
	case !install:
		return mr.standaloneMonitor(ctx)
	}
	fctx, cancel := context.WithTimeout(ctx, min(mr.fetchTimeout, kp.Timeout))
	rel, err := FetchRelease(fctx, kp, mr.log)
	cancel()
	if err != nil {
		if mode == MonitoringAuto {
			mr.log.Warn("monitoring: kube-prometheus cannot be fetched; deploying the standalone Prometheus with the system instead", "mode", MonitoringStandalone, "err", err)
			return mr.standaloneMonitor(ctx)
		}
		return nil, err
	}
	mr.log.Info("monitoring: installing kube-prometheus", "mode", MonitoringKubePrometheus, "version", kp.Version)
	ictx, cancel := context.WithTimeout(ctx, kp.Timeout)
	defer cancel()
	if err := InstallRelease(ictx, mr.cfg, rel, mr.log); err != nil {
		return nil, err
	}
	return kpm, nil
}

// logIf logs what InstallMonitoring decided; Deploy alone stays quiet, as
// it did before there was one resolver.
func (mr monitorResolver) logIf(install bool, msg string, args ...any) {
	if install {
		mr.log.Info(msg, args...)
	}
}

func (mr monitorResolver) standaloneMonitor(ctx context.Context) (monitor, error) {
	if mr.promImage == nil {
		return nil, errors.New("standalone prometheus: no way to get its image")
	}
	img, err := mr.promImage(ctx)
	if err != nil {
		return nil, err
	}
	return standaloneMonitor{cfg: mr.standalone, image: img, pods: mr.pods}, nil
}

func errNoKubePrometheus(kp KubePrometheus) error {
	return fmt.Errorf("monitoring: no Prometheus %s/%s (prometheus-operator) in the cluster; install kube-prometheus or use --monitoring=%s or %s", kp.Namespace, kp.Prometheus, MonitoringKubePrometheus, MonitoringStandalone)
}
