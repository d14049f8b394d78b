package kube_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vecrosim/vecro/framework/runtime/kube"
)

// TestImageFromBinary packs a real static binary and reads the image back
// from its archive, as kind's nodes would import it.
func TestImageFromBinary(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/hello\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from the image\") }\n"), 0o644)
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	binBytes, _ := os.ReadFile(bin)

	img, err := kube.ImageFromBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := kube.ImageRef(img)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if ref.String() != kube.ImageRepository+":"+d.Hex[:12] {
		t.Errorf("ref %s for digest %s", ref, d)
	}
	// The same binary gives the same image: no timestamps inside.
	again, _ := kube.ImageFromBinary(bin)
	if d2, _ := again.Digest(); d2 != d {
		t.Errorf("digest %s then %s", d, d2)
	}

	archive := filepath.Join(dir, "image.tar")
	if err := kube.WriteImageArchive(img, ref, archive); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(archive, &ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || strings.Join(cf.Config.Entrypoint, " ") != "/service" || cf.Config.User != "65532:65532" {
		t.Errorf("config %+v", cf)
	}
	if _, ok := cf.Config.ExposedPorts["8081/tcp"]; !ok {
		t.Errorf("exposed ports %v", cf.Config.ExposedPorts)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("media type %s", mt)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v %v", layers, err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found[h.Name] = h
		if h.Name == "service" {
			b, _ := io.ReadAll(tr)
			if !bytes.Equal(b, binBytes) {
				t.Error("the layer's /service is not the binary")
			}
		}
	}
	if h := found["service"]; h == nil || h.Mode != 0o755 {
		t.Errorf("service entry %+v", h)
	}
	if h := found["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp entry %+v", h)
	}

	// The binary in the image runs.
	out := filepath.Join(dir, "extracted")
	os.WriteFile(out, binBytes, 0o755)
	if b, err := exec.Command(out).Output(); err != nil || string(b) != "hello from the image\n" {
		t.Errorf("run the packed binary: %q %v", b, err)
	}
}

func TestBuildServiceBinaryError(t *testing.T) {
	err := kube.BuildServiceBinary(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "go build") || !strings.Contains(err.Error(), "./images/service") {
		t.Fatalf("error %v: want the command and its output", err)
	}
}
