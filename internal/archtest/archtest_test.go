// Package archtest checks what the binaries link: boundaries that a stray
// import would break without any other test noticing.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// linked returns the packages pkg links.
func linked(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestBinariesLinkNoTestFrameworkOrYAMLTheyDoNotNeed(t *testing.T) {
	for _, c := range []struct{ binary, forbidden, why string }{
		// Ginkgo's init registers -ginkgo.* flags on the global flag set.
		{"github.com/vecrosim/vecro/cmd/vecro", "github.com/onsi/", "a test framework in the CLI"},
		// The service image needs the behaviours' parameters, not the
		// definition files they are read from.
		{"github.com/vecrosim/vecro/images/service", "github.com/goccy/", "the YAML decoder in the service binary"},
	} {
		for _, p := range linked(t, c.binary) {
			if strings.HasPrefix(p, c.forbidden) {
				t.Errorf("%s links %s: %s", c.binary, p, c.why)
			}
		}
	}
}
