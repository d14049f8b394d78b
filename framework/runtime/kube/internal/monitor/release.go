package monitor

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/toolcache"
)

// KubePrometheus pins the kube-prometheus release the runtime installs.
type KubePrometheus struct {
	// Version is a release tag of prometheus-operator/kube-prometheus.
	Version string
	// URL of the release's source tarball; {version} is replaced. Default:
	// GitHub's archive of the tag.
	URL string
	// SHA256 of the tarball. When empty, the first download's checksum is
	// recorded beside the cached tarball and every later use is checked
	// against it (trust on first use); set it to pin the release.
	SHA256 string
	// Namespace, Prometheus and ServiceAccount name what the release
	// deploys: the namespace, the Prometheus object (its pods are
	// prometheus-<name>-N) and the service account Prometheus runs as.
	Namespace, Prometheus, ServiceAccount string
	// CacheDir holds downloaded tarballs; default
	// $VECRO_CACHE/kube-prometheus.
	CacheDir string
	// Timeout bounds the whole install, Prometheus ready included.
	// Default 10 minutes (the images are pulled on first use).
	Timeout time.Duration
	// HTTPClient fetches the tarball; default http.DefaultClient.
	HTTPClient *http.Client
}

// DefaultKubePrometheus is the pinned release: kube-prometheus v0.16.0,
// the release for Kubernetes 1.33 and 1.34 and the newest one known when
// this was written; set Version (and SHA256) to move.
var DefaultKubePrometheus = KubePrometheus{
	Version:        "v0.16.0",
	URL:            "https://github.com/prometheus-operator/kube-prometheus/archive/refs/tags/{version}.tar.gz",
	Namespace:      "monitoring",
	Prometheus:     "k8s",
	ServiceAccount: "prometheus-k8s",
	Timeout:        10 * time.Minute,
}

// WithDefaults fills what k leaves empty from DefaultKubePrometheus.
func (k KubePrometheus) WithDefaults() KubePrometheus {
	d := DefaultKubePrometheus
	if k.Version == "" {
		k.Version = d.Version
	}
	if k.URL == "" {
		k.URL = d.URL
	}
	if k.Namespace == "" {
		k.Namespace = d.Namespace
	}
	if k.Prometheus == "" {
		k.Prometheus = d.Prometheus
	}
	if k.ServiceAccount == "" {
		k.ServiceAccount = d.ServiceAccount
	}
	if k.Timeout <= 0 {
		k.Timeout = d.Timeout
	}
	if k.CacheDir == "" {
		k.CacheDir = filepath.Join(toolcache.Dir(), "kube-prometheus")
	}
	if k.HTTPClient == nil {
		k.HTTPClient = http.DefaultClient
	}
	return k
}

// PrometheusPodSelector selects the pods of the Prometheus object name (the
// label prometheus-operator puts on them).
func PrometheusPodSelector(name string) string {
	return "app.kubernetes.io/name=prometheus,prometheus=" + name
}

// Release is a kube-prometheus release's manifests: setup (the namespace
// and the CRDs) and the rest, each in file-name order.
type Release struct {
	Version string
	SHA256  string
	Setup   []*unstructured.Unstructured
	Rest    []*unstructured.Unstructured
}

// FetchRelease returns the release's manifests from the cache, downloading
// the tarball on first use. The tarball is checked against k.SHA256 or, when
// that is empty, against the checksum recorded at its first download.
func FetchRelease(ctx context.Context, k KubePrometheus, logger *slog.Logger) (*Release, error) {
	k = k.WithDefaults()
	if logger == nil {
		logger = discard
	}
	dir := filepath.Join(k.CacheDir, k.Version)
	tarPath := filepath.Join(dir, "kube-prometheus.tar.gz")
	sumPath := tarPath + ".sha256"
	data, err := os.ReadFile(tarPath)
	if errors.Is(err, os.ErrNotExist) {
		url := strings.ReplaceAll(k.URL, "{version}", k.Version)
		logger.Info("downloading kube-prometheus", "version", k.Version, "url", url)
		data, err = download(ctx, k.HTTPClient, url)
		if err != nil {
			return nil, fmt.Errorf("fetch kube-prometheus %s: %w", k.Version, err)
		}
		if err := checkSum(data, k.SHA256, "the pinned SHA256"); err != nil {
			return nil, fmt.Errorf("fetch kube-prometheus %s from %s: %w", k.Version, url, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cache kube-prometheus %s: %w", k.Version, err)
		}
		if err := writeFileAtomic(tarPath, data); err != nil {
			return nil, fmt.Errorf("cache kube-prometheus %s: %w", k.Version, err)
		}
		sum := sha256.Sum256(data)
		if err := writeFileAtomic(sumPath, []byte(hex.EncodeToString(sum[:])+"\n")); err != nil {
			return nil, fmt.Errorf("cache kube-prometheus %s: %w", k.Version, err)
		}
		logger.Info("cached kube-prometheus", "path", tarPath, "sha256", hex.EncodeToString(sum[:]))
	} else if err != nil {
		return nil, fmt.Errorf("read cached kube-prometheus %s: %w", k.Version, err)
	} else {
		want := k.SHA256
		what := "the pinned SHA256"
		if want == "" {
			b, err := os.ReadFile(sumPath)
			if err != nil {
				return nil, fmt.Errorf("cached kube-prometheus %s has no recorded checksum (%w): delete %s to download it again", k.Version, err, tarPath)
			}
			want, what = strings.TrimSpace(string(b)), "the checksum recorded at download ("+sumPath+")"
		}
		if err := checkSum(data, want, what); err != nil {
			return nil, fmt.Errorf("cached kube-prometheus %s at %s: %w: delete it to download it again", k.Version, tarPath, err)
		}
	}
	rel, err := ParseRelease(data)
	if err != nil {
		return nil, fmt.Errorf("kube-prometheus %s (%s): %w", k.Version, tarPath, err)
	}
	rel.Version = k.Version
	sum := sha256.Sum256(data)
	rel.SHA256 = hex.EncodeToString(sum[:])
	return rel, nil
}

func checkSum(data []byte, want, what string) error {
	if want == "" {
		return nil
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
		return fmt.Errorf("checksum mismatch: sha256 %s, %s is %s", got, what, want)
	}
	return nil
}

// maxDownload bounds a tarball download (kube-prometheus is ~2 MiB).
const maxDownload = 64 << 20

func download(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(data) > maxDownload {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, maxDownload)
	}
	return data, nil
}

func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// ParseRelease reads the manifests/ folder of a kube-prometheus source
// tarball: manifests/setup/*.yaml and manifests/*.yaml.
func ParseRelease(tarball []byte) (*Release, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		return nil, fmt.Errorf("read tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	setup, rest := map[string][]byte{}, map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		// GitHub archives put everything under <repo>-<version>/.
		parts := strings.SplitN(path.Clean(h.Name), "/", 2)
		if len(parts) != 2 {
			continue
		}
		rel := parts[1]
		ext := path.Ext(rel)
		if ext != ".yaml" && ext != ".yml" && ext != ".json" {
			continue
		}
		var into map[string][]byte
		switch path.Dir(rel) {
		case "manifests/setup":
			into = setup
		case "manifests":
			into = rest
		default:
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", h.Name, err)
		}
		into[rel] = b
	}
	if len(setup) == 0 || len(rest) == 0 {
		return nil, fmt.Errorf("no manifests/setup/*.yaml and manifests/*.yaml in the tarball (%d and %d files)", len(setup), len(rest))
	}
	r := &Release{}
	if r.Setup, err = decodeFiles(setup); err != nil {
		return nil, err
	}
	if r.Rest, err = decodeFiles(rest); err != nil {
		return nil, err
	}
	for _, o := range r.Rest {
		if o.GetKind() == "Prometheus" && strings.HasPrefix(o.GetAPIVersion(), "monitoring.coreos.com/") {
			if err := scrapeNativeHistograms(o); err != nil {
				return nil, fmt.Errorf("prometheus %s/%s: %w", o.GetNamespace(), o.GetName(), err)
			}
		}
	}
	return r, nil
}

// scrapeNativeHistograms lets a kube-prometheus Prometheus store the
// services' native histograms (the quantile families read them) and keep
// every classic histogram's series too, so that kube-prometheus' own
// dashboards and rules, which read classic buckets, see no change. The
// ServiceMonitor asks for the same per job; these are the server-wide
// switches: scrapeNativeHistograms for Prometheus ≥ 3.8 (an operator that
// predates the field drops it), and the native-histograms feature flag
// for 3.0–3.7 (a no-op that logs a warning from 3.8 on).
func scrapeNativeHistograms(prom *unstructured.Unstructured) error {
	features, _, err := unstructured.NestedStringSlice(prom.Object, "spec", "enableFeatures")
	if err != nil {
		return err
	}
	if !slices.Contains(features, "native-histograms") {
		features = append(features, "native-histograms")
	}
	for path, v := range map[string]any{
		"enableFeatures":          stringsToAny(features),
		"scrapeNativeHistograms":  true,
		"scrapeClassicHistograms": true,
	} {
		if err := unstructured.SetNestedField(prom.Object, v, "spec", path); err != nil {
			return err
		}
	}
	return nil
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func decodeFiles(files map[string][]byte) ([]*unstructured.Unstructured, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*unstructured.Unstructured
	for _, n := range names {
		objs, err := manifest.DecodeYAML(files[n])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}
