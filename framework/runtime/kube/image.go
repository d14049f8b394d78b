package kube

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageRepository is where images built by vecro are named; the tag is a
// digest prefix, so a changed binary gets a new tag and a rollout.
const ImageRepository = "vecro.local/service"

// BuildServiceBinary builds the service binary (package ./images/service of
// the module in moduleDir) statically for linux/amd64 into out.
func BuildServiceBinary(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./images/service")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build service binary: %s (in %s): %w: %s", strings.Join(cmd.Args, " "), moduleDir, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// ImageFromBinary packs a static binary into a one-layer OCI image for
// linux/amd64, the way ko does: the binary at /service as the entrypoint,
// an empty /tmp, a non-root user, and no timestamps, so the same binary
// always gives the same digest.
func ImageFromBinary(binary string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, h := range []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch},
		{Name: "service", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("pack image: %w", err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				return nil, fmt.Errorf("pack image: %w", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint:   []string{"/service"},
			User:         fmt.Sprintf("%d:%d", agentUser, agentUser),
			WorkingDir:   "/",
			Env:          []string{"TMPDIR=/tmp"},
			ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", ServicePort): {}, fmt.Sprintf("%d/tcp", AdminPort): {}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "vecro: images/service", Created: v1.Time{Time: epoch}}})
	if err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	return img, nil
}

// ImageRef is the content-addressed name of img: ImageRepository with the
// first 12 hex digits of its digest as the tag.
func ImageRef(img v1.Image) (name.Tag, error) {
	d, err := img.Digest()
	if err != nil {
		return name.Tag{}, fmt.Errorf("image digest: %w", err)
	}
	return name.NewTag(ImageRepository + ":" + d.Hex[:12])
}

// WriteImageArchive writes img as an image archive (docker save format,
// which `kind load image-archive` and `ctr images import` read) tagged ref.
func WriteImageArchive(img v1.Image, ref name.Tag, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	return nil
}

// BuildServiceImage builds the service binary from moduleDir and packs it
// into an image archive in dir. It returns the image's name.
func BuildServiceImage(ctx context.Context, moduleDir, dir string) (ref string, archive string, err error) {
	bin := filepath.Join(dir, "service")
	if err := BuildServiceBinary(ctx, moduleDir, bin); err != nil {
		return "", "", err
	}
	img, err := ImageFromBinary(bin)
	if err != nil {
		return "", "", err
	}
	tag, err := ImageRef(img)
	if err != nil {
		return "", "", err
	}
	archive = filepath.Join(dir, "service-image.tar")
	if err := WriteImageArchive(img, tag, archive); err != nil {
		return "", "", err
	}
	return tag.String(), archive, nil
}
