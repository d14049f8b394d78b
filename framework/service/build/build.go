// Package build compiles the service binary, images/service, once per
// content: every runtime runs the binary it returns (the local runtime
// spawns it, the Kubernetes runtime packs the linux one into its image, the
// tests use it), so the same sources give the same binary everywhere and a
// binary is compiled only when the sources under it change.
package build

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/toolcache"
	"github.com/vecrosim/vecro/internal/flock"
)

// Module is the module path of this repository; the service binary is built
// from its package ServicePackage.
const (
	Module         = "github.com/vecrosim/vecro"
	ServicePackage = Module + "/images/service"
)

// Target is the platform a binary is built for. The zero Target is this
// machine's (the harness's GOOS and GOARCH): on a linux/amd64 machine the
// local runtime's binary and the one in the image for amd64 nodes are one
// file.
type Target struct {
	OS, Arch string
}

// resolved fills the zero fields with this machine's.
func (t Target) resolved() Target {
	if t.OS == "" {
		t.OS = runtime.GOOS
	}
	if t.Arch == "" {
		t.Arch = runtime.GOARCH
	}
	return t
}

// Linux is the target of the service image for nodes of arch (GOARCH).
func Linux(arch string) Target { return Target{OS: "linux", Arch: arch} }

// env makes the binary static (the contract: one static binary that also
// runs as a container), for t, and ignores any go.work around the checkout.
func (t Target) env() []string {
	t = t.resolved()
	return []string{"CGO_ENABLED=0", "GOWORK=off", "GOOS=" + t.OS, "GOARCH=" + t.Arch}
}

// buildFlags: no paths, no VCS stamp and no symbol tables, so the binary
// depends on the sources alone (an image of it has the same digest on every
// machine) and is small; a panic's stack trace still names functions.
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w"}

// builds memoizes Service per module directory and target within a
// process: the hash costs a `go list`, and sources do not change under a
// running test.
var builds sync.Map // key → *buildOnce

type key struct {
	dir string
	t   Target
}

type buildOnce struct {
	once sync.Once
	path string
	err  error
}

// Service returns the service binary for t built from the module at
// moduleDir ("" finds it: see FindModule), building it only when the cache
// has no binary for the current sources. The cache key hashes the source
// files of images/service and of every package of this module it imports,
// go.mod, go.sum, the Go version, the target and the flags, so any change
// that could change the binary builds a new one:
//
//	toolcache.Dir()/service/<hash>/service
//
// Concurrent builds of the same sources, in this process or another, are
// serialized by a lock file; the binary is written beside its final name
// and renamed into place, so a reader never runs half a file.
func Service(ctx context.Context, moduleDir string, t Target, log *slog.Logger) (string, error) {
	if log == nil {
		log = discard
	}
	if moduleDir == "" {
		d, err := FindModule()
		if err != nil {
			return "", err
		}
		moduleDir = d
	}
	t = t.resolved()
	k := key{moduleDir, t}
	v, _ := builds.LoadOrStore(k, &buildOnce{})
	b := v.(*buildOnce)
	b.once.Do(func() { b.path, b.err = buildService(ctx, moduleDir, t, log) })
	if b.err != nil {
		// Let a later call retry (a cancelled context, a fixed compile error).
		builds.CompareAndDelete(k, b)
	}
	return b.path, b.err
}

func buildService(ctx context.Context, moduleDir string, t Target, log *slog.Logger) (string, error) {
	t0 := time.Now()
	key, err := sourceHash(ctx, moduleDir, t)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(toolcache.Dir(), "service", key)
	bin := filepath.Join(dir, "service")
	if IsExecutable(bin) {
		log.Debug("service binary cached", "path", bin, "hash_took", time.Since(t0))
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build the service binary: %w", err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("build the service binary: lock %s: %w", dir, err)
	}
	defer unlock()
	if IsExecutable(bin) { // built by whoever held the lock
		return bin, nil
	}
	tmp, err := os.CreateTemp(dir, ".service-*")
	if err != nil {
		return "", fmt.Errorf("build the service binary: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	log.Info("building the service binary", "package", ServicePackage, "target", t, "into", bin)
	args := append(append([]string{"build"}, buildFlags...), "-o", tmp.Name(), "./images/service")
	if out, diag, err := goCmd(ctx, moduleDir, t, args...); err != nil {
		return "", fmt.Errorf("build the service binary: go %s (in %s): %w\n%s%s", strings.Join(args, " "), moduleDir, err, out, diag)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", fmt.Errorf("build the service binary: %w", err)
	}
	log.Info("built the service binary", "path", bin, "took", time.Since(t0).Round(time.Millisecond))
	return bin, nil
}

// goCmd runs the go command in dir with the build environment and returns
// its standard output and its diagnostics apart: on a cold module cache the
// go command prints "go: downloading …" on stderr even when it succeeds,
// and that must not reach a parser of `go list -json` or `go env`.
func goCmd(ctx context.Context, dir string, t Target, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), t.env()...)
	var out, diag bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &diag
	err = cmd.Run()
	return out.Bytes(), diag.Bytes(), err
}

// goTool is the go command on PATH; its absence is reported with the
// way around it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// listedPackage is what sourceHash needs of `go list -json`.
type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	EmbedFiles []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// sourceHash is the content key of the service binary: every source file
// of this module that goes into it for t, go.mod and go.sum (which pin
// every other module), the Go version, the target and the flags.
func sourceHash(ctx context.Context, moduleDir string, t Target) (string, error) {
	args := []string{"list", "-deps", "-e", "-json=ImportPath,Dir,GoFiles,CgoFiles,SFiles,EmbedFiles,Module,Error", "./images/service"}
	out, diag, err := goCmd(ctx, moduleDir, t, args...)
	if err != nil {
		return "", fmt.Errorf("hash the service sources: go %s (in %s): %w\n%s", strings.Join(args, " "), moduleDir, err, diag)
	}
	h := sha256.New()
	add := func(name string, r io.Reader) error {
		fmt.Fprintf(h, "%s\x00", name)
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		h.Write([]byte{0})
		return nil
	}
	env, diag, err := goCmd(ctx, moduleDir, t, "env", "GOVERSION", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GOFLAGS")
	if err != nil {
		return "", fmt.Errorf("hash the service sources: go env: %w\n%s", err, diag)
	}
	add("go env", bytes.NewReader(append(env, strings.Join(append(t.env(), buildFlags...), " ")...)))
	var files []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("hash the service sources: read go list output: %w", err)
		}
		if p.Error != nil {
			return "", fmt.Errorf("hash the service sources: package %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Module == nil || p.Module.Path != Module {
			continue
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.EmbedFiles} {
			for _, f := range list {
				files = append(files, filepath.Join(p.Dir, f))
			}
		}
	}
	if len(files) == 0 {
		return "", fmt.Errorf("hash the service sources: go list found no files of %s in %s", ServicePackage, moduleDir)
	}
	files = append(files, filepath.Join(moduleDir, "go.mod"), filepath.Join(moduleDir, "go.sum"))
	sort.Strings(files)
	for _, f := range files {
		rel, err := filepath.Rel(moduleDir, f)
		if err != nil {
			rel = f
		}
		fh, err := os.Open(f)
		if err != nil {
			return "", fmt.Errorf("hash the service sources: %w", err)
		}
		err = add(filepath.ToSlash(rel), fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("hash the service sources: read %s: %w", f, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// FindModule finds the source of this module to build the service binary
// from: the working directory or one above it whose go.mod declares the
// module, else the directory this package was compiled from (which exists
// when running tests or `go run`).
func FindModule() (string, error) {
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		if d, ok := moduleAbove(wd); ok {
			return d, nil
		}
		tried = append(tried, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if d, ok := moduleAbove(filepath.Dir(file)); ok {
			return d, nil
		}
		tried = append(tried, filepath.Dir(file))
	}
	return "", fmt.Errorf("find the source of module %s to build the service binary: not at or above %s; run inside the repository, or give a built binary (Options.ServiceBinary, `vecro deploy --service-binary`)", Module, strings.Join(tried, " or "))
}

// moduleAbove walks up from dir to a go.mod declaring Module.
func moduleAbove(dir string) (string, bool) {
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			found := false
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if rest, ok := strings.CutPrefix(line, "module "); ok {
					found = strings.Trim(strings.TrimSpace(rest), `"`) == Module
					break
				}
			}
			f.Close()
			if found {
				return dir, true
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}

// IsExecutable reports whether p is a regular file that may be executed.
func IsExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0)
}

func (t Target) String() string {
	t = t.resolved()
	return t.OS + "/" + t.Arch
}

// discard is the default logger: library code says nothing unless asked.
var discard = slog.New(slog.DiscardHandler)
