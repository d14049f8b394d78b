package kube

import (
	"slices"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"
	"github.com/vecrosim/vecro/framework/spec"
)

// Placeholders of a dry run, which has no cluster to read the secrets of
// an earlier deploy from and builds no image.
const (
	// DryRunImage stands for the image Start would build (kind) when none
	// is given.
	DryRunImage = images.ServiceRepository + ":dev"
	// DryRunSecret stands for the token and database password that Start
	// generates (or reads back from the cluster).
	DryRunSecret = "REDACTED"
	// DryRunPrometheusImage stands for the standalone Prometheus' image
	// Start would pack when none is given.
	DryRunPrometheusImage = images.PrometheusRepository + ":dev"
	// DryRunJaegerImage stands for Jaeger's image the same way.
	DryRunJaegerImage = images.JaegerRepository + ":dev"
)

// DryRun is the manifest Start would apply for sys with opts, built without
// a cluster: secrets and a to-be-built image are placeholders, and the
// namespace is taken to be vecro's.
func DryRun(sys *spec.System, opts Options) (*Manifest, error) {
	if sys == nil {
		return manifest.Build(nil, manifest.Options{})
	}
	o := New(opts).opts
	image := o.Image
	if image == "" {
		image = DryRunImage
	}
	dbPassword := ""
	if slices.ContainsFunc(sys.Services, func(s spec.Service) bool { return s.Type == spec.TypeMySQL }) {
		dbPassword = DryRunSecret
	}
	mo := manifest.Options{
		Namespace:       o.Namespace,
		Image:           image,
		PullPolicy:      o.PullPolicy,
		Token:           DryRunSecret,
		DBPassword:      dbPassword,
		Seed:            o.Seed,
		DBImages:        o.DBImages,
		ManageNamespace: true,
		CPURequest:      o.CPURequest,
		MemoryRequest:   o.MemoryRequest,
		LegacyMetrics:   o.LegacyMetrics,
	}
	dryRunMonitor(o).Configure(&mo)
	if o.Jaeger != nil {
		mo.JaegerImage, mo.JaegerMaxTraces, mo.TraceSampleRatio = o.Jaeger.Image, o.Jaeger.MaxTraces, o.TraceSampleRatio
		if mo.JaegerImage == "" {
			mo.JaegerImage = DryRunJaegerImage
		}
	}
	return manifest.Build(sys, mo)
}

// dryRunMonitor is the monitor of o's mode without a cluster: auto cannot
// tell whether kube-prometheus is there, so it is printed as
// kube-prometheus (its ServiceMonitor), and existing is kube-prometheus too.
func dryRunMonitor(o Options) monitor.Monitor {
	switch o.Monitoring {
	case MonitoringNone:
		return monitor.None{}
	case MonitoringStandalone:
		img := o.Standalone.Image
		if img == "" {
			img = DryRunPrometheusImage
		}
		return monitor.StandaloneMonitor{Config: o.Standalone, Image: img}
	}
	return monitor.KubePrometheusMonitor{Config: o.KubePrometheus}
}
