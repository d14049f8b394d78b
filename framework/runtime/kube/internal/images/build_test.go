package images_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
	"github.com/vecrosim/vecro/framework/service/build"
)

// TestBuildServiceImage builds the real service image as --kind does
// before loading it into the nodes, and reads the archive back.
func TestBuildServiceImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ref, archive, err := images.BuildService(ctx, "../../../../..", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, images.ServiceRepository+":") || len(ref) != len(images.ServiceRepository)+1+12 {
		t.Errorf("ref %q", ref)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatalf("read the archive back: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	// What the Deployment relies on: the entrypoint, a non-root user that
	// runAsUser 65532 matches, linux/amd64.
	if strings.Join(cf.Config.Entrypoint, " ") != "/service" || cf.Config.User != "65532:65532" || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config %+v", cf.Config)
	}
	for _, p := range []string{"8080/tcp", "8081/tcp"} {
		if _, ok := cf.Config.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, cf.Config.ExposedPorts)
		}
	}
	// The same service binary in both runtimes: on a linux/amd64 machine
	// the image holds the very bytes the local runtime runs.
	if runtime.GOOS == "linux" && runtime.GOARCH == images.ServiceArch {
		local, err := build.Service(ctx, "../../../../..", build.Target{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		if got := fileInImage(t, img, "service"); !bytes.Equal(got, want) {
			t.Errorf("the image's /service (%d bytes) is not the local runtime's %s (%d bytes)", len(got), local, len(want))
		}
	}
	// The same source gives the same image, so re-deploying does not roll.
	ref2, _, err := images.BuildService(ctx, "../../../../..", t.TempDir(), nil)
	if err != nil || ref2 != ref {
		t.Errorf("second build: %s %v, first %s", ref2, err, ref)
	}
}

// fileInImage reads the file at name (no leading slash) from img's layers.
func fileInImage(t *testing.T, img v1.Image, name string) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimPrefix(h.Name, "/") == name {
				b, err := io.ReadAll(tr)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
		}
		rc.Close()
	}
	t.Fatalf("no %s in the image", name)
	return nil
}
