package images

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vecrosim/vecro/framework/image"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/framework/toolcache"
)

// ServiceRepository names the service images vecro builds for kind; the tag
// is a content digest prefix, so a changed binary gets a new tag and a
// rollout.
const ServiceRepository = "vecro.local/service"

// BuildService builds images/service of the vecro module in moduleDir
// into an image (framework/image: static, one layer, non-root, no Docker)
// named ServiceRepository:<content digest prefix>, and writes it as an image
// archive in dir, which kind's nodes and `ctr images import` read.
func BuildService(ctx context.Context, moduleDir, dir string, logger *slog.Logger) (ref, archive string, err error) {
	ref, img, err := Service(ctx, moduleDir, logger)
	if err != nil {
		return "", "", err
	}
	archive = filepath.Join(dir, "service.tar")
	if err := image.WriteTarball(archive, ref, img); err != nil {
		return "", "", err
	}
	return ref, archive, nil
}

// ServiceArch is the GOARCH of the service image: the nodes' (kind's on
// this machine, amd64).
const ServiceArch = "amd64"

// Service packs the service binary of the vecro module in moduleDir, for
// linux/ServiceArch, into an image named ServiceRepository:<content digest
// prefix>. The binary is framework/service/build's, from its content cache:
// on an amd64 Linux machine the very file the local runtime runs.
func Service(ctx context.Context, moduleDir string, logger *slog.Logger) (string, v1.Image, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bin, err := build.Service(ctx, moduleDir, build.Linux(ServiceArch), logger)
	if err != nil {
		return "", nil, err
	}
	logger.Info("packing the service image", "binary", bin)
	img, err := image.Build(ctx, image.Spec{
		Binary: bin,
		Path:   "/service",
		Arch:   ServiceArch,
		// The default --data-dir, writable when no volume is mounted.
		Dirs:   []string{"/tmp"},
		Env:    []string{"VECRO_DATA_DIR=/tmp"},
		Ports:  []int{manifest.ServicePort, manifest.AdminPort},
		Logger: logger,
	})
	if err != nil {
		return "", nil, err
	}
	ref, err := image.ContentRef(ServiceRepository, img)
	if err != nil {
		return "", nil, err
	}
	return ref, img, nil
}

// PrometheusVersion is the Prometheus that tools/prometheus builds (`make
// prometheus`) into the tool cache and the standalone mode packs.
const PrometheusVersion = toolcache.PrometheusVersion

// PrometheusRepository names the Prometheus images vecro packs; the
// tag is a prefix of the image's digest.
const PrometheusRepository = "vecro.local/prometheus"

// Prometheus packs a static Prometheus binary (default: the tool
// cache's) into an image named PrometheusRepository:<digest prefix>:
// one layer, non-root, /bin/prometheus as the entrypoint, /prometheus
// writable for the TSDB.
func Prometheus(ctx context.Context, binary string, logger *slog.Logger) (string, v1.Image, error) {
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
	ref, err := image.ContentRef(PrometheusRepository, img)
	if err != nil {
		return "", nil, err
	}
	return ref, img, nil
}

// JaegerVersion is the Jaeger that tools/jaeger builds (`make jaeger`)
// into the tool cache and the Jaeger option packs.
const JaegerVersion = toolcache.JaegerVersion

// JaegerRepository names the Jaeger images vecro packs; the tag is a prefix
// of the image's digest.
const JaegerRepository = "vecro.local/jaeger"

// Jaeger packs a static Jaeger v2 binary (default: the tool cache's) into
// an image named JaegerRepository:<digest prefix>: one layer, non-root,
// /bin/jaeger as the entrypoint, /tmp writable.
func Jaeger(ctx context.Context, binary string, logger *slog.Logger) (string, v1.Image, error) {
	if binary == "" {
		var err error
		if binary, err = toolcache.Find("jaeger", JaegerVersion); err != nil {
			return "", nil, fmt.Errorf("the Jaeger option needs a Jaeger binary: %w (or pass a Jaeger image the cluster can pull)", err)
		}
	}
	img, err := image.Build(ctx, image.Spec{
		Binary: binary,
		Path:   "/bin/jaeger",
		Dirs:   []string{"/tmp"},
		Ports:  []int{manifest.JaegerOTLPPort, manifest.JaegerQueryPort},
		Logger: logger,
	})
	if err != nil {
		return "", nil, fmt.Errorf("pack jaeger %s: %w", binary, err)
	}
	ref, err := image.ContentRef(JaegerRepository, img)
	if err != nil {
		return "", nil, err
	}
	return ref, img, nil
}
