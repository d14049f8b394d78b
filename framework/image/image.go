package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRoot is the default user of an image, "uid:gid": distroless's and ko's
// "nonroot", so a pod's runAsNonRoot is satisfied without a runAsUser.
const NonRoot = "65532:65532"

// Spec says what goes into an image. Exactly one of Package and Binary is
// set.
type Spec struct {
	// Package is the Go main package to compile, as `go build` names it
	// ("./images/service", or a full import path), resolved in Dir.
	Package string
	// Dir is where `go build` runs (a directory of the module that holds
	// Package); default the working directory.
	Dir string
	// Binary packs an existing executable instead of compiling a package.
	// It must be statically linked for linux and Arch.
	Binary string

	// Path is the binary's absolute path in the image and the entrypoint;
	// default "/" + the last element of Package, or Binary's base name.
	Path string
	// Args are the default arguments after the entrypoint (the image's Cmd).
	Args []string
	// Env holds KEY=VALUE defaults of the process environment.
	Env []string
	// User is "uid:gid", numeric; default NonRoot. "0:0" runs as root.
	User string
	// Dirs are empty directories made in the image, owned by User: where a
	// program writes when no volume is mounted there.
	Dirs []string
	// Ports are the TCP ports the program listens on, recorded in the
	// config as ExposedPorts (informational, as in a Dockerfile).
	Ports []int
	// Arch is the GOARCH of the image; default amd64. The OS is linux.
	Arch string

	// LDFlags are added after "-s -w" (e.g. "-X main.version=v1").
	LDFlags string
	// Tags are Go build tags.
	Tags []string

	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// epoch is every timestamp in an image: with no build time in it, the same
// binary always gives the same digest (as ko's SOURCE_DATE_EPOCH=0).
var epoch = time.Unix(0, 0).UTC()

// Build compiles s.Package (or takes s.Binary) and packs it into a
// one-layer image for linux/s.Arch.
func Build(ctx context.Context, s Spec) (v1.Image, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	bin := s.Binary
	if s.Package != "" {
		dir, err := os.MkdirTemp("", "vecro-image-")
		if err != nil {
			return nil, fmt.Errorf("build image of %s: %w", s.Package, err)
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, path.Base(s.Path))
		if err := Compile(ctx, s, bin); err != nil {
			return nil, err
		}
	}
	return pack(s, bin)
}

// Compile builds s.Package into the static executable out: CGO_ENABLED=0,
// GOOS=linux, GOARCH=s.Arch, -trimpath and no VCS stamp, so that the binary
// depends on the source alone and not on the checkout's state.
func Compile(ctx context.Context, s Spec, out string) error {
	s, err := s.withDefaults()
	if err != nil {
		return err
	}
	if s.Package == "" {
		return fmt.Errorf("compile: no package given")
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", strings.TrimSpace("-s -w " + s.LDFlags)}
	if len(s.Tags) > 0 {
		args = append(args, "-tags", strings.Join(s.Tags, ","))
	}
	args = append(args, "-o", out, s.Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+s.Arch)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compile %s: go %s (in %s): %w: %s", s.Package, strings.Join(args, " "), dirName(s.Dir), err, strings.TrimSpace(string(b)))
	}
	s.Logger.Debug("compiled", "package", s.Package, "out", out, "took", time.Since(start).Round(time.Millisecond))
	// `go build -o` of a non-main package writes the package's archive.
	if head, err := readHead(out, 8); err == nil && string(head) == "!<arch>\n" {
		return fmt.Errorf("compile %s: it is not a main package (go build wrote a package archive)", s.Package)
	}
	return CheckStatic(out, s.Arch)
}

// CheckStatic returns an error unless the file at p is a statically linked
// linux executable for the GOARCH arch: a dynamically linked one would fail
// in an image that has no C library, with an unhelpful "no such file".
func CheckStatic(p, arch string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("check %s is a static executable: %w", p, err)
	}
	defer f.Close()
	want, ok := elfMachines[arch]
	if !ok {
		return fmt.Errorf("check %s is a static executable: unsupported architecture %q (want one of amd64, arm64)", p, arch)
	}
	if f.Machine != want {
		return fmt.Errorf("check %s is a static executable: it is for %s, not %s", p, f.Machine, arch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("check %s is a static executable: ELF type %s is not an executable", p, f.Type)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(io.LimitReader(prog.Open(), 256))
			return fmt.Errorf("check %s is a static executable: it is dynamically linked (interpreter %s); build it with CGO_ENABLED=0",
				p, strings.TrimRight(string(interp), "\x00"))
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Errorf("check %s is a static executable: it needs shared libraries %s", p, strings.Join(libs, ", "))
	}
	return nil
}

var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// withDefaults validates s and fills in its defaults.
func (s Spec) withDefaults() (Spec, error) {
	switch {
	case s.Package == "" && s.Binary == "":
		return s, fmt.Errorf("image spec: neither Package nor Binary is set")
	case s.Package != "" && s.Binary != "":
		return s, fmt.Errorf("image spec: both Package (%s) and Binary (%s) are set", s.Package, s.Binary)
	}
	what := s.Package
	if what == "" {
		what = s.Binary
	}
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	if _, ok := elfMachines[s.Arch]; !ok {
		return s, fmt.Errorf("image spec for %s: unsupported architecture %q (want amd64 or arm64)", what, s.Arch)
	}
	if s.Path == "" {
		base := path.Base(filepath.ToSlash(strings.TrimRight(what, "/")))
		if base == "." || base == "/" || base == "" {
			return s, fmt.Errorf("image spec for %s: cannot name the binary; set Path", what)
		}
		s.Path = "/" + base
	}
	if !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path || s.Path == "/" {
		return s, fmt.Errorf("image spec for %s: Path %q is not a clean absolute file path", what, s.Path)
	}
	if s.User == "" {
		s.User = NonRoot
	}
	if _, _, err := parseUser(s.User); err != nil {
		return s, fmt.Errorf("image spec for %s: %w", what, err)
	}
	for _, d := range s.Dirs {
		if !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
			return s, fmt.Errorf("image spec for %s: directory %q is not a clean absolute path", what, d)
		}
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return s, fmt.Errorf("image spec for %s: environment entry %q is not KEY=VALUE", what, e)
		}
	}
	for _, p := range s.Ports {
		if p < 1 || p > 65535 {
			return s, fmt.Errorf("image spec for %s: port %d is out of range 1-65535", what, p)
		}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// parseUser splits a numeric "uid:gid".
func parseUser(u string) (uid, gid int, err error) {
	a, b, ok := strings.Cut(u, ":")
	if ok {
		uid, err1 := strconv.Atoi(a)
		gid, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil && uid >= 0 && gid >= 0 {
			return uid, gid, nil
		}
	}
	return 0, 0, fmt.Errorf("user %q is not a numeric uid:gid", u)
}

// pack makes the image of the static binary bin.
func pack(s Spec, bin string) (v1.Image, error) {
	if err := CheckStatic(bin, s.Arch); err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("pack image: %w", err)
	}
	layerBytes, err := layerTar(s, data)
	if err != nil {
		return nil, fmt.Errorf("pack image of %s: %w", bin, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("pack image of %s: layer: %w", bin, err)
	}
	ports := map[string]struct{}{}
	for _, p := range s.Ports {
		ports[strconv.Itoa(p)+"/tcp"] = struct{}{}
	}
	if len(ports) == 0 {
		ports = nil
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: s.Arch,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint:   []string{s.Path},
			Cmd:          s.Args,
			Env:          append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "TMPDIR=/tmp"}, s.Env...),
			User:         s.User,
			WorkingDir:   "/",
			ExposedPorts: ports,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("pack image of %s: config: %w", bin, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "vecro image: " + s.Path, Created: v1.Time{Time: epoch}},
	})
	if err != nil {
		return nil, fmt.Errorf("pack image of %s: %w", bin, err)
	}
	s.Logger.Debug("packed", "binary", bin, "path", s.Path, "bytes", len(data))
	return img, nil
}

// layerTar is the image's one layer: the binary, /tmp, /etc/passwd and
// /etc/group naming root and the user (programs that look up their own
// user would fail without them), and s.Dirs owned by the user. Parents come
// before children and nothing carries a time, so the bytes are stable.
func layerTar(s Spec, bin []byte) ([]byte, error) {
	uid, gid, _ := parseUser(s.User)
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n"
	group := "root:x:0:\n"
	if uid != 0 {
		passwd += fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, gid)
	}
	if gid != 0 {
		group += fmt.Sprintf("nonroot:x:%d:\n", gid)
	}
	type entry struct {
		hdr  tar.Header
		body []byte
	}
	entries := map[string]entry{}
	dir := func(p string, mode int64, uid, gid int) {
		entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: gid}}
	}
	file := func(p string, mode int64, body []byte) {
		entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}, body: body}
	}
	dir("/etc", 0o755, 0, 0)
	dir("/tmp", 0o1777, 0, 0)
	file("/etc/passwd", 0o644, []byte(passwd))
	file("/etc/group", 0o644, []byte(group))
	for _, d := range s.Dirs {
		dir(d, 0o755, uid, gid)
	}
	if e, ok := entries[s.Path]; ok && e.hdr.Typeflag == tar.TypeDir {
		return nil, fmt.Errorf("binary path %s is also a directory of the image", s.Path)
	}
	file(s.Path, 0o755, bin)
	// Every parent of every entry, root-owned unless listed.
	listed := make([]string, 0, len(entries))
	for p := range entries {
		listed = append(listed, p)
	}
	for _, p := range listed {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				dir(d, 0o755, 0, 0)
			} else if entries[d].hdr.Typeflag != tar.TypeDir {
				return nil, fmt.Errorf("%s is both a file and the parent of %s", d, p)
			}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	slices.Sort(names) // a parent sorts before its children
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		e := entries[p]
		h := e.hdr
		h.Name = strings.TrimPrefix(p, "/")
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		h.ModTime = epoch
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", p, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// readHead returns the first n bytes of the file at p.
func readHead(p string, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	_, err = io.ReadFull(f, b)
	return b, err
}

func dirName(d string) string {
	if d == "" {
		return "the working directory"
	}
	return d
}
