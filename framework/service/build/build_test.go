package build

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vecrosim/vecro/internal/testutil"
)

// newTinyModule writes a module that claims this module's path, with an
// images/service main and one in-module dependency, so that the build
// cache can be tested in seconds.
func newTinyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                   "module " + Module + "\n\ngo 1.22\n",
		"go.sum":                   "",
		"images/service/main.go":   "package main\n\nimport \"" + Module + "/lib\"\n\nfunc main() { println(lib.Greeting) }\n",
		"images/service/x_test.go": "package main\n",
		"lib/lib.go":               "package lib\n\nconst Greeting = \"hello\"\n",
		"unrelated/u.go":           "package unrelated\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		testutil.SkipOrFail(t, "no go command on PATH: %v", err)
	}
}

func TestSourceHashFollowsTheSources(t *testing.T) {
	needGo(t)
	dir := newTinyModule(t)
	ctx := context.Background()
	hash := func() string {
		t.Helper()
		h, err := sourceHash(ctx, dir, Target{})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h0 := hash()
	if h0 != hash() {
		t.Fatal("the hash is not stable")
	}
	edit := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Neither tests nor packages outside the binary change it.
	edit("images/service/x_test.go", "package main\n\n// changed\n")
	edit("unrelated/u.go", "package unrelated\n\n// changed\n")
	if h := hash(); h != h0 {
		t.Error("a test file or an unrelated package changed the hash")
	}
	// A dependency inside the module does, and so does go.sum.
	edit("lib/lib.go", "package lib\n\nconst Greeting = \"hi\"\n")
	h1 := hash()
	if h1 == h0 {
		t.Error("an in-module dependency's change left the hash alone")
	}
	edit("go.sum", "example.com/x v1.0.0 h1:abc=\n")
	if hash() == h1 {
		t.Error("a go.sum change left the hash alone")
	}
}

func TestServiceCachesAndSerializes(t *testing.T) {
	needGo(t)
	t.Setenv("VECRO_CACHE", t.TempDir())
	dir := newTinyModule(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Four builders at once (the memo bypassed, as if in four processes):
	// one builds, the others wait on the lock and find its binary.
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = buildService(ctx, dir, Target{}, discard)
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if paths[i] != paths[0] {
			t.Errorf("builder %d got %s, builder 0 %s", i, paths[i], paths[0])
		}
	}
	out, err := exec.Command(paths[0]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello") {
		t.Fatalf("built binary: %v %q", err, out)
	}
	entries, _ := os.ReadDir(filepath.Dir(paths[0]))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".service-") {
			t.Errorf("temporary %s left in the cache", e.Name())
		}
	}
	// Through the memo, a second call is the same path without work.
	p1, err := Service(ctx, dir, Target{}, nil)
	if err != nil || p1 != paths[0] {
		t.Errorf("Service = %s, %v; want %s", p1, err, paths[0])
	}
}

func TestServiceReportsCompileErrors(t *testing.T) {
	needGo(t)
	t.Setenv("VECRO_CACHE", t.TempDir())
	dir := newTinyModule(t)
	if err := os.WriteFile(filepath.Join(dir, "lib", "lib.go"), []byte("package lib\n\nconst Greeting = undefinedName\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := buildService(context.Background(), dir, Target{}, discard)
	if err == nil || !strings.Contains(err.Error(), "undefinedName") || !strings.Contains(err.Error(), "go build") {
		t.Fatalf("build error %v, want the command and the compiler's message", err)
	}
}

func TestFindModule(t *testing.T) {
	d, err := FindModule()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "images", "service")); err != nil {
		t.Errorf("FindModule = %s, which has no images/service: %v", d, err)
	}
	if _, ok := moduleAbove(t.TempDir()); ok {
		t.Error("moduleAbove found the module above a temp dir")
	}
}

// A cold module cache makes the go command print "go: downloading …" beside
// the JSON of `go list`: a fresh machine's first `make demo` failed on it.
// The module cache here is empty and fed from the real one through a
// file:// proxy, so the downloads happen for real and offline.
func TestSourceHashOnAColdModuleCache(t *testing.T) {
	needGo(t)
	realCache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	proxy := filepath.Join(strings.TrimSpace(string(realCache)), "cache", "download")
	const dep = "github.com/cespare/xxhash/v2"
	if _, err := os.Stat(filepath.Join(proxy, dep, "@v", "v2.3.0.zip")); err != nil {
		testutil.SkipOrFail(t, "%s v2.3.0 is not in the module cache (go mod download fetches it): %v", dep, err)
	}
	dir := newTinyModule(t)
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+Module+"\n\ngo 1.22\n\nrequire "+dep+" v2.3.0\n")
	write("go.sum", dep+" v2.3.0 h1:UL815xU9SqsFlibzuggzjXhog7bL6oX9BbNZnL2UFvs=\n"+
		dep+" v2.3.0/go.mod h1:VGX0DQ3Q6kWi7AoAeZDth3/j3BFtOZR5XLFGgcrjCOs=\n")
	write("lib/lib.go", "package lib\n\nimport \"github.com/cespare/xxhash/v2\"\n\nvar Greeting = xxhash.Sum64String(\"hello\")\n")
	modCache := t.TempDir()
	t.Setenv("GOMODCACHE", modCache)
	t.Setenv("GOPROXY", "file://"+proxy)
	t.Setenv("GOFLAGS", "-modcacherw")
	t.Setenv("GOSUMDB", "off")
	if _, err := sourceHash(context.Background(), dir, Target{}); err != nil {
		t.Fatal(err)
	}
	// The cache was empty: finding the dependency there now proves the go
	// command downloaded it (and said so on stderr) inside sourceHash.
	if _, err := os.Stat(filepath.Join(modCache, dep+"@v2.3.0")); err != nil {
		t.Fatalf("the module cache was not filled by sourceHash, so it never ran cold: %v", err)
	}
}

// The local runtime's binary and the image's are one file when the
// machine is the nodes' platform, and another target gets its own binary.
func TestServiceTargets(t *testing.T) {
	needGo(t)
	t.Setenv("VECRO_CACHE", t.TempDir())
	dir := newTinyModule(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	host, err := Service(ctx, dir, Target{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	same, err := Service(ctx, dir, Target{OS: runtime.GOOS, Arch: runtime.GOARCH}, nil)
	if err != nil || same != host {
		t.Errorf("explicit %s/%s = %s, %v; want the host's %s", runtime.GOOS, runtime.GOARCH, same, err, host)
	}
	other := "arm64"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	cross, err := Service(ctx, dir, Linux(other), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cross == host {
		t.Fatalf("linux/%s got the host's binary %s", other, host)
	}
	f, err := elf.Open(cross)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[other]
	if f.Machine != want {
		t.Errorf("linux/%s binary is for %v", other, f.Machine)
	}
}
