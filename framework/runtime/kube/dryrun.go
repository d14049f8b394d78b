package kube

import (
	"slices"

	"github.com/vecrosim/vecro/framework/spec"
)

// Placeholders of a dry run, which has no cluster to read the secrets of
// an earlier deploy from and builds no image.
const (
	// DryRunImage stands for the image Start would build (kind) when none
	// is given.
	DryRunImage = ImageRepository + ":dev"
	// DryRunSecret stands for the token and database password that Start
	// generates (or reads back from the cluster).
	DryRunSecret = "REDACTED"
	// DryRunPrometheusImage stands for the standalone Prometheus' image
	// Start would pack when none is given.
	DryRunPrometheusImage = PrometheusImageRepository + ":dev"
)

// DryRun is the manifest Start would apply for sys with opts, built without
// a cluster: secrets and a to-be-built image are placeholders, and the
// namespace is taken to be vecro's.
func DryRun(sys *spec.System, opts Options) (*Manifest, error) {
	if sys == nil {
		return BuildManifest(nil, ManifestOptions{})
	}
	o := New(opts).opts
	image := o.Image
	if image == "" {
		image = DryRunImage
	}
	kp := o.KubePrometheus
	dbPassword := ""
	if slices.ContainsFunc(sys.Services, func(s spec.Service) bool { return s.Type == spec.TypeMySQL }) {
		dbPassword = DryRunSecret
	}
	// Without a cluster, auto cannot tell whether kube-prometheus is
	// there: it is printed as kube-prometheus (its ServiceMonitor).
	var standalone *Standalone
	promImage := ""
	if o.Monitoring == MonitoringStandalone {
		standalone, promImage = &o.Standalone, o.Standalone.Image
		if promImage == "" {
			promImage = DryRunPrometheusImage
		}
	}
	return BuildManifest(sys, ManifestOptions{
		Namespace:       o.Namespace,
		Image:           image,
		PullPolicy:      o.PullPolicy,
		Token:           DryRunSecret,
		DBPassword:      dbPassword,
		Seed:            o.Seed,
		DBImages:        o.DBImages,
		ManageNamespace: true,
		Monitor:         o.Monitoring != MonitoringNone && o.Monitoring != MonitoringStandalone,
		Prometheus:      ServiceAccountRef{Namespace: kp.Namespace, Name: kp.ServiceAccount},
		Standalone:      standalone,
		PrometheusImage: promImage,
		CPURequest:      o.CPURequest,
		MemoryRequest:   o.MemoryRequest,
		LegacyMetrics:   o.LegacyMetrics,
	})
}
