package toolcache

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVersionsMatchTheToolModules: the constants and the versions make
// builds (tools/version.sh, from each tool module's go.mod) are the same.
func TestVersionsMatchTheToolModules(t *testing.T) {
	for name, want := range map[string]string{
		"ferretdb": FerretDBVersion, "prometheus": PrometheusVersion, "kube": KubeVersion,
		"kwok": KwokVersion, "coredns": CoreDNSVersion, "crictl": CrictlVersion, "jaeger": JaegerVersion,
	} {
		out, err := exec.Command("../../tools/version.sh", name).CombinedOutput()
		if err != nil {
			t.Errorf("tools/version.sh %s: %v\n%s", name, err, out)
			continue
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s: tools/%s pins %s, the Go constant says %s", name, name, got, want)
		}
	}
}
