package kube

import "github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"

// Monitoring selects how the runtime gets a Prometheus.
type Monitoring = monitor.Mode

// Monitoring modes.
const (
	// MonitoringAuto (the default) uses kube-prometheus when it is
	// installed or can be fetched, and the standalone Prometheus otherwise;
	// it logs which.
	MonitoringAuto = monitor.ModeAuto
	// MonitoringKubePrometheus installs the pinned kube-prometheus release
	// unless it is there already.
	MonitoringKubePrometheus = monitor.ModeKubePrometheus
	// MonitoringStandalone deploys a plain Prometheus (built from the Go
	// module proxy, see Standalone) into the system's namespace: for
	// clusters with no internet, where kube-prometheus can be neither
	// fetched nor pulled.
	MonitoringStandalone = monitor.ModeStandalone
	// MonitoringExisting uses the prometheus-operator and Prometheus that
	// are already installed (named as in KubePrometheus) and installs
	// nothing.
	MonitoringExisting = monitor.ModeExisting
	// MonitoringNone deploys no ServiceMonitor and reads no metrics.
	MonitoringNone = monitor.ModeNone
)

// ParseMonitoring checks a mode's name.
func ParseMonitoring(s string) (Monitoring, error) { return monitor.ParseMode(s) }

// KubePrometheus pins the kube-prometheus release the runtime installs
// and names what it deploys.
type KubePrometheus = monitor.KubePrometheus

// DefaultKubePrometheus is the pinned release.
var DefaultKubePrometheus = monitor.DefaultKubePrometheus
