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
	return tool(ctx, toolImage{name: "prometheus", version: PrometheusVersion, repository: PrometheusRepository,
		title: "Prometheus", need: "standalone monitoring", dirs: []string{"/prometheus"}, ports: []int{manifest.PrometheusPort}}, binary, logger)
}

// toolImage is how a tool-cache binary becomes an image.
type toolImage struct {
	name, version, repository string
	// title names the tool and need what needs it, in the error when the
	// binary is not built.
	title, need string
	dirs        []string
	ports       []int
}

// tool packs binary (default: the tool cache's t.name at t.version) into
// an image named t.repository:<digest prefix>: one layer, non-root,
// /bin/<name> as the entrypoint.
func tool(ctx context.Context, t toolImage, binary string, logger *slog.Logger) (string, v1.Image, error) {
	if binary == "" {
		var err error
		if binary, err = toolcache.Find(t.name, t.version); err != nil {
			return "", nil, fmt.Errorf("%s needs a %s binary: %w (or pass a %s image the cluster can pull)", t.need, t.title, err, t.title)
		}
	}
	img, err := image.Build(ctx, image.Spec{
		Binary: binary,
		Path:   "/bin/" + t.name,
		Dirs:   t.dirs,
		Ports:  t.ports,
		Logger: logger,
	})
	if err != nil {
		return "", nil, fmt.Errorf("pack %s %s: %w", t.name, binary, err)
	}
	ref, err := image.ContentRef(t.repository, img)
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
	return tool(ctx, toolImage{name: "jaeger", version: JaegerVersion, repository: JaegerRepository,
		title: "Jaeger", need: "the Jaeger option", dirs: []string{"/tmp"}, ports: []int{manifest.JaegerOTLPPort, manifest.JaegerQueryPort}}, binary, logger)
}
