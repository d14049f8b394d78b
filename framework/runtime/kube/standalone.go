package kube

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"

	"github.com/vecrosim/vecro/framework/image"
	"github.com/vecrosim/vecro/framework/toolcache"
)

// PrometheusVersion is the Prometheus that tools/prometheus builds (`make
// prometheus`) into the tool cache and the standalone mode packs.
const PrometheusVersion = toolcache.PrometheusVersion

// PrometheusImageRepository names the Prometheus images vecro packs; the
// tag is a prefix of the image's digest.
const PrometheusImageRepository = "vecro.local/prometheus"

// PrometheusImage packs a static Prometheus binary (default: the tool
// cache's) into an image named PrometheusImageRepository:<digest prefix>:
// one layer, non-root, /bin/prometheus as the entrypoint, /prometheus
// writable for the TSDB.
func PrometheusImage(ctx context.Context, binary string, logger *slog.Logger) (string, v1.Image, error) {
	if binary == "" {
		var err error
		if binary, err = toolcache.Find("prometheus", PrometheusVersion); err != nil {
			return "", nil, fmt.Errorf("standalone monitoring needs a Prometheus binary: %w (or pass a Prometheus image the cluster can pull)", err)
		}
	}
	img, err := image.Build(ctx, image.Spec{
		Binary: binary,
		Path:   "/bin/prometheus",
		Dirs:   []string{"/prometheus"},
		Ports:  []int{manifest.PrometheusPort},
		Logger: logger,
	})
	if err != nil {
		return "", nil, fmt.Errorf("pack prometheus %s: %w", binary, err)
	}
	ref, err := image.ContentRef(PrometheusImageRepository, img)
	if err != nil {
		return "", nil, err
	}
	return ref, img, nil
}

// WaitStandalonePrometheus waits until the standalone Prometheus of system
// is ready and returns its pod. res should list in the system's namespace.
func WaitStandalonePrometheus(ctx context.Context, res *resources.Resources, system string, timeout time.Duration) (string, error) {
	return waitReadyPod(ctx, res, manifest.PrometheusSelector(system), timeout, 500*time.Millisecond,
		"standalone prometheus of "+system,
		func(*corev1.Pod) bool { return true },
		func(p *corev1.Pod) bool { return podReady(p) && p.DeletionTimestamp == nil })
}
