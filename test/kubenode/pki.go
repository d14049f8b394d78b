package kubenode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// certSpec is one certificate signed by the node's CA, kubeadm-style: the
// identity (CN = user, O = groups) that RBAC sees, and for a server its
// names.
type certSpec struct {
	name   string
	cn     string
	orgs   []string
	server bool
	dns    []string
	ips    []string
}

// certSpecs are the node's certificates. The API server's names cover
// every way it is reached: loopback, the node IP, and the "kubernetes"
// Service (ClusterIP and DNS names) from pods.
func (c Config) certSpecs() []certSpec {
	return []certSpec{
		{name: "apiserver", cn: "kube-apiserver", server: true,
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + ClusterDomain},
			ips: []string{"127.0.0.1", c.NodeIP, APIServiceIP}},
		// The API server's identity towards the kubelet (logs, exec,
		// port-forward).
		{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		{name: "admin", cn: "kubernetes-admin", orgs: []string{"system:masters"}},
		{name: "controller-manager", cn: "system:kube-controller-manager"},
		{name: "scheduler", cn: "system:kube-scheduler"},
		{name: "kube-proxy", cn: "system:kube-proxy"},
		{name: "kubelet-client", cn: "system:node:" + NodeName, orgs: []string{"system:nodes"}},
		{name: "kubelet", cn: NodeName, server: true, dns: []string{NodeName, "localhost"}, ips: []string{"127.0.0.1", c.NodeIP}},
	}
}

// ensurePKI makes the CA, the certificates, the service-account key and
// the kubeconfigs that are missing. A certificate whose names no longer
// match (the node IP changed) is made again.
func (c Config) ensurePKI() error {
	dir := c.pkiDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kube node pki: %w", err)
	}
	caCert, caKey, err := loadOrMakeCA(dir)
	if err != nil {
		return err
	}
	for _, s := range c.certSpecs() {
		if err := ensureCert(dir, s, caCert, caKey); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sa.key")); err != nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("kube node pki: service-account key: %w", err)
		}
		if err := writeKey(filepath.Join(dir, "sa.key"), k); err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return fmt.Errorf("kube node pki: service-account public key: %w", err)
		}
		if err := writePEM(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", der, 0o644); err != nil {
			return err
		}
	}
	server := fmt.Sprintf("https://%s:%d", c.NodeIP, APIServerPort)
	for _, kc := range []struct{ name, cert string }{
		{"admin", "admin"}, {"controller-manager", "controller-manager"}, {"scheduler", "scheduler"},
		{"kube-proxy", "kube-proxy"}, {"kubelet", "kubelet-client"},
	} {
		if err := writeKubeconfig(c.kubeconfig(kc.name), server, dir, kc.cert); err != nil {
			return err
		}
	}
	return nil
}

func loadOrMakeCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if cert, key, err := loadPair(certPath, keyPath); err == nil {
		return cert, key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("kube node pki: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "vecro-kubenode-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("kube node pki: CA: %w", err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("kube node pki: CA: %w", err)
	}
	return cert, key, nil
}

func ensureCert(dir string, s certSpec, ca *x509.Certificate, caKey crypto.Signer) error {
	certPath, keyPath := filepath.Join(dir, s.name+".crt"), filepath.Join(dir, s.name+".key")
	if cert, _, err := loadPair(certPath, keyPath); err == nil && certMatches(cert, s, ca) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("kube node pki: %s key: %w", s.name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     s.dns,
	}
	if s.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("kube node pki: sign %s: %w", s.name, err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writePEM(certPath, "CERTIFICATE", der, 0o644)
}

// certMatches tells whether cert is still the one s describes: signed by
// this CA, valid for another day, with the same names.
func certMatches(cert *x509.Certificate, s certSpec, ca *x509.Certificate) bool {
	if cert.CheckSignatureFrom(ca) != nil || time.Until(cert.NotAfter) < 24*time.Hour || cert.Subject.CommonName != s.cn {
		return false
	}
	if len(cert.IPAddresses) != len(s.ips) || len(cert.DNSNames) != len(s.dns) {
		return false
	}
	for i, ip := range s.ips {
		if !cert.IPAddresses[i].Equal(net.ParseIP(ip)) {
			return false
		}
	}
	for i, d := range s.dns {
		if cert.DNSNames[i] != d {
			return false
		}
	}
	return true
}

func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		// crypto/rand does not fail on Linux; a fixed serial would still
		// make a valid (if not unique) certificate.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func writeKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return fmt.Errorf("kube node pki: key %s: %w", path, err)
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return fmt.Errorf("kube node pki: %w", err)
	}
	return nil
}

// writeKubeconfig writes a kubeconfig for the certificate cert of dir,
// with the credentials embedded so that the file alone reaches the node.
func writeKubeconfig(path, server, dir, cert string) error {
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return fmt.Errorf("kube node kubeconfig %s: %w", path, err)
	}
	crt, err := os.ReadFile(filepath.Join(dir, cert+".crt"))
	if err != nil {
		return fmt.Errorf("kube node kubeconfig %s: %w", path, err)
	}
	key, err := os.ReadFile(filepath.Join(dir, cert+".key"))
	if err != nil {
		return fmt.Errorf("kube node kubeconfig %s: %w", path, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["vecro-node"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[cert] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts["vecro-node"] = &clientcmdapi.Context{Cluster: "vecro-node", AuthInfo: cert, Namespace: "default"}
	cfg.CurrentContext = "vecro-node"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kube node kubeconfig %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("kube node kubeconfig %s: %w", path, err)
	}
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return fmt.Errorf("kube node kubeconfig: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data, never leaving a half-written
// file for a process that reads it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
