package kubenode

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/vecrosim/vecro/internal/mountinfo"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	if p == nil {
		t.Fatalf("%s is not PEM", path)
	}
	c, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPKI makes the node's certificates and checks what the components
// rely on: the API server's certificate is valid for every name pods and
// the host use, identities carry the RBAC groups, kubeconfigs load, a
// second run keeps everything and a new node IP renews the servers'.
func TestPKI(t *testing.T) {
	c := Config{RunDir: t.TempDir(), NodeIP: "192.0.2.7"}
	if err := c.ensurePKI(); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(c.pkiDir(), "ca.crt")))
	api := readCert(t, filepath.Join(c.pkiDir(), "apiserver.crt"))
	for _, name := range []string{"kubernetes.default.svc.cluster.local", "kubernetes", "localhost", "127.0.0.1", "192.0.2.7", APIServiceIP} {
		if _, err := api.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("API server certificate for %s: %v", name, err)
		}
	}
	for name, want := range map[string][2]string{
		"kubelet-client":           {"system:node:" + NodeName, "system:nodes"},
		"admin":                    {"kubernetes-admin", "system:masters"},
		"apiserver-kubelet-client": {"kube-apiserver-kubelet-client", "system:masters"},
		"kube-proxy":               {"system:kube-proxy", ""},
	} {
		cert := readCert(t, filepath.Join(c.pkiDir(), name+".crt"))
		if cert.Subject.CommonName != want[0] || (want[1] != "" && !slices.Contains(cert.Subject.Organization, want[1])) {
			t.Errorf("%s: subject %v, want CN=%s O=%s", name, cert.Subject, want[0], want[1])
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s as a client certificate: %v", name, err)
		}
	}
	for _, n := range []string{"admin", "kubelet", "kube-proxy", "controller-manager", "scheduler"} {
		rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig(n))
		if err != nil {
			t.Fatalf("kubeconfig %s: %v", n, err)
		}
		if rc.Host != "https://192.0.2.7:6443" || len(rc.CAData) == 0 || len(rc.CertData) == 0 || len(rc.KeyData) == 0 {
			t.Errorf("kubeconfig %s: host %s, CA %d bytes, cert %d, key %d", n, rc.Host, len(rc.CAData), len(rc.CertData), len(rc.KeyData))
		}
	}

	adminBefore, _ := os.ReadFile(filepath.Join(c.pkiDir(), "admin.crt"))
	apiBefore, _ := os.ReadFile(filepath.Join(c.pkiDir(), "apiserver.crt"))
	if err := c.ensurePKI(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.pkiDir(), "apiserver.crt")); string(b) != string(apiBefore) {
		t.Error("a second run made the API server certificate again")
	}
	c.NodeIP = "192.0.2.8"
	if err := c.ensurePKI(); err != nil {
		t.Fatal(err)
	}
	if _, err := readCert(t, filepath.Join(c.pkiDir(), "apiserver.crt")).Verify(x509.VerifyOptions{Roots: pool, DNSName: "192.0.2.8"}); err != nil {
		t.Errorf("after a node IP change: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.pkiDir(), "admin.crt")); string(b) != string(adminBefore) {
		t.Error("a node IP change renewed the admin certificate, which names no address")
	}
}

func TestDNATTargets(t *testing.T) {
	listing := `	chain endpoint-X-default/kubernetes/tcp/https__192.0.2.2/6443 {
		meta l4proto tcp dnat to 192.0.2.2:6443
	}
	chain service-DJ5TDB5R-ns/web/tcp/ {
		meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.244.0.4 . 8080, 1 : 10.244.0.5 . 8080 }
	}
		ip daddr @cluster-ips ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x00004000`
	got := dnatTargets(listing)
	for _, ip := range []string{"192.0.2.2", "10.244.0.4", "10.244.0.5"} {
		if !got[ip] {
			t.Errorf("%s missing from %v", ip, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("targets %v, want exactly three", got)
	}
}

func TestNFTRuleCount(t *testing.T) {
	empty := "table ip nat { # handle 5\n\tchain KUBE-KUBELET-CANARY { # handle 1\n\t}\n\tchain POSTROUTING { # handle 2\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t}\n}\n"
	if n := nftRuleCount(empty); n != 0 {
		t.Errorf("empty table: %d rules", n)
	}
	one := "table ip filter { # handle 3\n\tchain OUTPUT { # handle 2\n\t\ttype filter hook output priority filter; policy accept;\n\t\tcounter packets 1 bytes 2 jump X # handle 3\n\t}\n}\n"
	if n := nftRuleCount(one); n != 1 {
		t.Errorf("one rule: counted %d", n)
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                        "docker.io/library/busybox",
		"vecro/service:abc":              "docker.io/vecro/service:abc",
		"vecro.local/pause:1":            "vecro.local/pause:1",
		"localhost/x:1":                  "localhost/x:1",
		"127.0.0.1:5000/vecro/service:a": "127.0.0.1:5000/vecro/service:a",
	} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIptablesHelpers(t *testing.T) {
	if !jumpsToOurs(strings.Fields("-A INPUT -j KUBE-FIREWALL")) || jumpsToOurs(strings.Fields("-A INPUT -j ACCEPT")) {
		t.Error("jumpsToOurs")
	}
	if !ourChain("CNI-HOSTPORT-DNAT") || ourChain("DOCKER") {
		t.Error("ourChain")
	}
	if got := mountinfo.Unescape(`/run/a\040b`); got != "/run/a b" {
		t.Errorf("unescapeMount = %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "fd00::1", "nope"} {
		_, err := Config{RunDir: t.TempDir(), ModuleDir: ".", NodeIP: ip}.withDefaults()
		if err == nil || !strings.Contains(err.Error(), ip) {
			t.Errorf("node IP %q: err = %v, want one naming it", ip, err)
		}
	}
}
