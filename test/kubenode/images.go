package kubenode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vecrosim/vecro/framework/image"
)

// Images are the references of the images the node preloads into
// containerd (nothing can be pulled on it).
type Images struct {
	// Pause is the pod sandbox image (images/pause), containerd's
	// sandbox_image.
	Pause string `json:"pause"`
	// CoreDNS is the cluster DNS (tools/coredns).
	CoreDNS string `json:"coredns"`
	// FerretDB is a MongoDB-compatible database on SQLite: the database
	// container of the mongodb service type. It listens on :27017 and keeps
	// its data in /state (mount an emptyDir there: the image's user is
	// 65532).
	FerretDB string `json:"ferretdb"`
	// Probe is the node's test program (test/kubenode/probe): `serve`
	// answers HTTP with its pod's name, `get URL` fetches through the
	// cluster's DNS and Services.
	Probe string `json:"probe"`
}

// imageSource is how one of the node's images is made.
type imageSource struct {
	name string
	// repo is the image's repository; tag is fixed for a pinned
	// third-party version, else the image's content names it.
	repo, tag string
	spec      image.Spec
}

func (c Config) imageSources(b binaries) []imageSource {
	return []imageSource{
		{name: "pause", repo: "vecro.local/pause", spec: image.Spec{Package: "./images/pause", Dir: c.ModuleDir}},
		{name: "probe", repo: "vecro.local/kubenode-probe", spec: image.Spec{Package: "./test/kubenode/probe", Dir: c.ModuleDir, Ports: []int{8080}}},
		{name: "coredns", repo: "vecro.local/coredns", tag: CoreDNSVersion, spec: image.Spec{Binary: b.coredns, Ports: []int{1053, 8080, 8181}}},
		{name: "ferretdb", repo: "vecro.local/ferretdb", tag: FerretDBVersion, spec: image.Spec{
			Binary: b.ferretdb, Dirs: []string{"/state"}, Ports: []int{27017},
			// Flags override these; telemetry off, or FerretDB would try
			// to reach its beacon from a machine without internet.
			Env: []string{
				"FERRETDB_HANDLER=sqlite", "FERRETDB_SQLITE_URL=file:/state/", "FERRETDB_STATE_DIR=/state",
				"FERRETDB_LISTEN_ADDR=:27017", "FERRETDB_TELEMETRY=disable", "FERRETDB_DEBUG_ADDR=-",
				"FERRETDB_LOG_LEVEL=WARN",
			},
		}},
	}
}

// buildImages builds (or finds in the run dir) the node's image archives,
// and returns their references and archive paths. A pinned binary is
// packed again only when the binary changed; a package is compiled each
// time (the Go build cache makes that a second or two) because only its
// content names its tag.
func (c Config) buildImages(ctx context.Context, b binaries) (Images, map[string]string, error) {
	dir := c.imageDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Images{}, nil, fmt.Errorf("node images: %w", err)
	}
	refs := map[string]string{}
	archives := map[string]string{}
	for _, s := range c.imageSources(b) {
		archive := filepath.Join(dir, s.name+".tar")
		stamp := ""
		if s.spec.Binary != "" {
			fi, err := os.Stat(s.spec.Binary)
			if err != nil {
				return Images{}, nil, fmt.Errorf("node image %s: %w", s.name, err)
			}
			stamp = fmt.Sprintf("%s %d %d", s.spec.Binary, fi.Size(), fi.ModTime().UnixNano())
			if rec, err := readRecord(archive + ".json"); err == nil && rec.Stamp == stamp && fileExists(archive) {
				refs[s.name], archives[s.name] = rec.Ref, archive
				continue
			}
		}
		s.spec.Logger = c.Logger
		img, err := image.Build(ctx, s.spec)
		if err != nil {
			return Images{}, nil, fmt.Errorf("node image %s: %w", s.name, err)
		}
		ref := s.repo + ":" + s.tag
		if s.tag == "" {
			if ref, err = image.ContentRef(s.repo, img); err != nil {
				return Images{}, nil, fmt.Errorf("node image %s: %w", s.name, err)
			}
		}
		if rec, err := readRecord(archive + ".json"); err != nil || rec.Ref != ref || rec.Stamp != stamp || !fileExists(archive) {
			if err := image.WriteTarball(archive, ref, img); err != nil {
				return Images{}, nil, fmt.Errorf("node image %s: %w", s.name, err)
			}
			if err := writeRecord(archive+".json", record{Ref: ref, Stamp: stamp}); err != nil {
				return Images{}, nil, err
			}
		}
		refs[s.name], archives[s.name] = ref, archive
	}
	return Images{Pause: refs["pause"], CoreDNS: refs["coredns"], FerretDB: refs["ferretdb"], Probe: refs["probe"]}, archives, nil
}

// record remembers what an archive in the run dir holds.
type record struct {
	Ref   string `json:"ref"`
	Stamp string `json:"stamp,omitempty"`
}

func readRecord(path string) (record, error) {
	var r record
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

func writeRecord(path string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record %s: %w", path, err)
	}
	return writeFileAtomic(path, b, 0o644)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// importImages imports each archive whose reference containerd lacks.
func (c Config) importImages(ctx context.Context, b binaries, refs Images, archives map[string]string) error {
	have, err := c.containerdImages(ctx, b)
	if err != nil {
		return err
	}
	for name, ref := range map[string]string{"pause": refs.Pause, "coredns": refs.CoreDNS, "ferretdb": refs.FerretDB, "probe": refs.Probe} {
		if slices.Contains(have, normalizeRef(ref)) {
			continue
		}
		if err := image.ImportContainerd(ctx, archives[name], image.ContainerdOptions{Ctr: b.ctr, Address: c.containerdSock()}); err != nil {
			return fmt.Errorf("node image %s: %w", name, err)
		}
	}
	return nil
}

// containerdImages lists the references containerd's k8s.io namespace has.
func (c Config) containerdImages(ctx context.Context, b binaries) ([]string, error) {
	out, err := run(ctx, b.ctr, "--address", c.containerdSock(), "--namespace", "k8s.io", "images", "list", "--quiet")
	if err != nil {
		return nil, fmt.Errorf("list containerd images: %w", err)
	}
	return strings.Fields(out), nil
}

// normalizeRef is ref as containerd records it: a name without a registry
// host is on docker.io, and a one-element path is under library/.
func normalizeRef(ref string) string {
	first, _, hasSlash := strings.Cut(ref, "/")
	if !hasSlash {
		return "docker.io/library/" + ref
	}
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io/" + ref
	}
	return ref
}

// LoadImage imports an image archive (as framework/image.WriteTarball
// writes it) into the node's containerd, for pods to start from with
// imagePullPolicy IfNotPresent or Never.
func LoadImage(ctx context.Context, cfg Config, archive string) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	b, err := findBinaries()
	if err != nil {
		return err
	}
	if _, ok := c.running("containerd"); !ok {
		return fmt.Errorf("load image %s: the node's containerd is not running (make kube-node-up)", archive)
	}
	return image.ImportContainerd(ctx, archive, image.ContainerdOptions{Ctr: b.ctr, Address: c.containerdSock()})
}
