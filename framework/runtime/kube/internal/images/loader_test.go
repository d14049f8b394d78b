package images_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
)

// TestRegistryLoader pushes to a real (in-process) registry: the image keeps
// its tag under the prefix, and the returned reference is the pushed
// digest.
func TestRegistryLoader(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := images.Registry{Prefix: host + "/team/", Insecure: true}.Load(context.Background(), "vecro.local/service:abc123", img)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if ref != host+"/team/service@"+d.String() {
		t.Errorf("ref %q, want %s/team/service@%s", ref, host, d)
	}
	tag, err := name.ParseReference(host+"/team/service:abc123", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(tag)
	if err != nil {
		t.Fatalf("the tag was not pushed: %v", err)
	}
	if gd, _ := got.Digest(); gd != d {
		t.Errorf("pushed digest %s, want %s", gd, d)
	}
}
