package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vecrosim/vecro/framework/image"
)

// A Loader makes an image the runtime built (the service image, the
// standalone Prometheus) available to the cluster's nodes, without Docker.
type Loader interface {
	// Load hands img, named ref, to the cluster and returns the reference
	// a pod should name.
	Load(ctx context.Context, ref string, img v1.Image) (string, error)
}

// Registry pushes images to a registry the cluster pulls from: the image
// vecro.local/service:<tag> becomes <Prefix>/service:<tag>, and pods name
// the pushed digest.
type Registry struct {
	// Prefix is a registry and optional path: "registry.example:5000/vecro".
	Prefix string
	// Insecure allows plain HTTP (a registry on the cluster's network).
	Insecure bool
}

// Load implements Loader.
func (r Registry) Load(ctx context.Context, ref string, img v1.Image) (string, error) {
	src, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	tag := "latest"
	if t, ok := src.(name.Tag); ok {
		tag = t.TagStr()
	}
	repo := src.Context().RepositoryStr()
	dst := strings.TrimSuffix(r.Prefix, "/") + "/" + repo[strings.LastIndex(repo, "/")+1:] + ":" + tag
	return image.Push(ctx, dst, img, image.PushOptions{Insecure: r.Insecure})
}

// Containerd imports images into a containerd on this machine (the CRI's
// namespace), for a single-node cluster whose kubelet uses it: pods start
// from the image with pull policy IfNotPresent and no registry.
type Containerd struct {
	// Address is containerd's socket; default ctr's own.
	Address string
	// Ctr is containerd's client; default "ctr" on PATH.
	Ctr string
}

// Load implements Loader.
func (c Containerd) Load(ctx context.Context, ref string, img v1.Image) (string, error) {
	return ref, ViaArchive(ref, img, func(archive string) error {
		return image.ImportContainerd(ctx, archive, image.ContainerdOptions{Address: c.Address, Ctr: c.Ctr})
	})
}

// ViaArchive writes img as an image archive (docker save format) to a
// temporary file for load, and removes it.
func ViaArchive(ref string, img v1.Image, load func(archive string) error) error {
	dir, err := os.MkdirTemp("", "vecro-image-")
	if err != nil {
		return fmt.Errorf("load %s: %w", ref, err)
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "image.tar")
	if err := image.WriteTarball(archive, ref, img); err != nil {
		return err
	}
	return load(archive)
}
