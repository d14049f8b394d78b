// Package toolcache finds third-party binaries that `make tools` builds from
// the Go module proxy (FerretDB, Kubernetes components) and caches outside
// the repository, under $VECRO_CACHE/<name>/<version>/<name>.
package toolcache

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir is the cache root: $VECRO_CACHE, or ~/.cache/vecro.
func Dir() string {
	if d := os.Getenv("VECRO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "vecro")
	}
	return filepath.Join(os.TempDir(), "vecro-cache")
}

// Path is where the binary name at version lives in the cache.
func Path(name, version string) string {
	return filepath.Join(Dir(), name, version, name)
}

// Find returns the cached binary, or an error that says how to build it.
func Find(name, version string) (string, error) {
	p := Path(name, version)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	return "", fmt.Errorf("%s %s is not built: expected %s; run `make tools` (it builds it from the Go module proxy)", name, version, p)
}

// Versions of the tools `make tools` builds. Each is pinned in its tool
// module's go.mod, which tools/version.sh reads for make and the build
// scripts; a test checks these against it, so the Go code can never look
// for a version make does not build.
const (
	FerretDBVersion   = "v1.24.2"
	PrometheusVersion = "v3.16.0"
	// JaegerVersion is the Go module's; it is Jaeger v2.12.0's release.
	JaegerVersion = "v1.75.0"
	// KubeVersion is every Kubernetes component's (tools/kube).
	KubeVersion    = "v1.37.2"
	KwokVersion    = "v0.8.0"
	CoreDNSVersion = "v1.15.0"
	CrictlVersion  = "v1.37.0"
)
