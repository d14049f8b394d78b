package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ContentRef names img by its content: repo with the first 12 hex digits of
// the image's ID as the tag ("vecro/service:0123456789ab"). The ID is the
// digest of the config, which names the layers' content: unlike the
// manifest's digest it is the same after a trip through a docker archive
// (which keeps no manifest) or a registry.
func ContentRef(repo string, img v1.Image) (string, error) {
	d, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("name image in %s: digest: %w", repo, err)
	}
	t, err := name.NewTag(repo + ":" + d.Hex[:12])
	if err != nil {
		return "", fmt.Errorf("name image in %s: %w", repo, err)
	}
	return t.String(), nil
}

// WriteTarball writes img, tagged ref, as a docker-save archive at path:
// the format that `kind load image-archive`, `ctr images import` and
// `docker load` read. The file appears whole or not at all.
func WriteTarball(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("write image archive %s: reference %q: %w", path, ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := tarball.Write(tag, img, f); err != nil {
		f.Close()
		return fmt.Errorf("write image archive %s of %s: %w", path, ref, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	return nil
}

// PushOptions are the optional settings of [Push].
type PushOptions struct {
	// Insecure allows a registry over plain HTTP (a local registry).
	Insecure bool
	// Keychain resolves credentials; default authn.DefaultKeychain (the
	// docker config, as `docker login` writes it).
	Keychain authn.Keychain
}

// Push uploads img to the registry named by ref ("registry.example/vecro/
// service:tag") and returns the pushed image's digest reference
// ("registry.example/vecro/service@sha256:…"), which a Deployment can use
// to pin exactly what was pushed.
func Push(ctx context.Context, ref string, img v1.Image, o PushOptions) (string, error) {
	var opts []name.Option
	if o.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return "", fmt.Errorf("push image: reference %q: %w", ref, err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)); err != nil {
		return "", fmt.Errorf("push image %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("push image %s: digest: %w", ref, err)
	}
	return r.Context().Digest(d.String()).String(), nil
}

// ContainerdOptions say which containerd [ImportContainerd] talks to.
type ContainerdOptions struct {
	// Ctr is containerd's client program; default "ctr" on PATH.
	Ctr string
	// Address is containerd's socket; default ctr's own
	// (/run/containerd/containerd.sock).
	Address string
	// Namespace is the containerd namespace; default "k8s.io", the one the
	// CRI plugin (and so the kubelet) sees.
	Namespace string
}

// ImportContainerd imports the image archive (as [WriteTarball] writes it)
// into containerd and unpacks it, so that a pod can start from it with
// imagePullPolicy IfNotPresent or Never and no registry.
func ImportContainerd(ctx context.Context, archive string, o ContainerdOptions) error {
	if o.Ctr == "" {
		o.Ctr = "ctr"
	}
	if o.Namespace == "" {
		o.Namespace = "k8s.io"
	}
	if _, err := os.Stat(archive); err != nil {
		return fmt.Errorf("import image archive into containerd: %w", err)
	}
	var args []string
	if o.Address != "" {
		args = append(args, "--address", o.Address)
	}
	args = append(args, "--namespace", o.Namespace, "images", "import", archive)
	cmd := exec.CommandContext(ctx, o.Ctr, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("import image archive %s into containerd: %s %s: %w: %s", archive, o.Ctr, strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return nil
}
