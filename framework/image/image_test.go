package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/vecrosim/vecro/framework/image"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/internal/testutil"
)

// moduleRoot is the repository root, where `go build ./images/...` runs.
func moduleRoot(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return d
}

// buildImage builds pkg from the module and round-trips it through an
// archive, as a cluster would get it: what the test inspects is what was
// written, not the in-memory image.
func buildImage(t testing.TB, s image.Spec, repo string) (v1.Image, string) {
	t.Helper()
	if s.Dir == "" && s.Package != "" {
		s.Dir = moduleRoot(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := image.Build(ctx, s)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	ref, err := image.ContentRef(repo, img)
	if err != nil {
		t.Fatalf("ContentRef: %v", err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := image.WriteTarball(archive, ref, img); err != nil {
		t.Fatalf("WriteTarball: %v", err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatalf("read back %s from %s: %v", ref, archive, err)
	}
	want, _ := img.ConfigName()
	got, err := back.ConfigName()
	if err != nil || got != want {
		t.Fatalf("archive's image ID = %v (%v), built %v", got, err, want)
	}
	return back, ref
}

// layerFiles reads the image's single layer: headers by path, and the
// bodies of regular files.
func layerFiles(t testing.TB, img v1.Image) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdrs, bodies := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		p := "/" + strings.TrimSuffix(h.Name, "/")
		hdrs[p] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			bodies[p] = b
		}
	}
	return hdrs, bodies
}

// extract writes the layer's file p to a temp file with its mode.
func extract(t testing.TB, img v1.Image, p string) string {
	t.Helper()
	hdrs, bodies := layerFiles(t, img)
	h, ok := hdrs[p]
	if !ok {
		t.Fatalf("layer has no %s", p)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(p))
	if err := os.WriteFile(out, bodies[p], os.FileMode(h.Mode).Perm()); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkConfig(t *testing.T, img v1.Image, entrypoint string) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != entrypoint {
		t.Errorf("entrypoint = %q, want [%s]", got, entrypoint)
	}
	if cf.Config.User != image.NonRoot {
		t.Errorf("user = %q, want %s", cf.Config.User, image.NonRoot)
	}
	if !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created = %v, want the epoch (reproducible images)", cf.Created.Time)
	}
	return cf
}

func checkBinary(t *testing.T, img v1.Image, p string) {
	t.Helper()
	hdrs, bodies := layerFiles(t, img)
	h, ok := hdrs[p]
	if !ok {
		t.Fatalf("layer has no %s; it has %v", p, keys(hdrs))
	}
	if h.Typeflag != tar.TypeReg || h.Mode&0o111 != 0o111 || h.Uid != 0 {
		t.Errorf("%s: type %c mode %o uid %d, want a root-owned regular file executable by all", p, h.Typeflag, h.Mode, h.Uid)
	}
	if len(bodies[p]) < 1<<20 {
		t.Errorf("%s is %d bytes: not a Go binary", p, len(bodies[p]))
	}
	if tmp := hdrs["/tmp"]; tmp == nil || tmp.Mode != 0o1777 {
		t.Errorf("/tmp = %+v, want a 1777 directory", tmp)
	}
	if pw := string(bodies["/etc/passwd"]); !strings.Contains(pw, ":65532:65532:") {
		t.Errorf("/etc/passwd does not name the non-root user: %q", pw)
	}
	if err := image.CheckStatic(extract(t, img, p), "amd64"); err != nil {
		t.Error(err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The service image packs the binary of the one service-build path
// (framework/service/build); the Package path is TestPauseImage's.
func TestServiceImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	svc, err := build.Service(ctx, moduleRoot(t), build.Linux("amd64"), nil)
	if err != nil {
		t.Fatal(err)
	}
	img, ref := buildImage(t, image.Spec{Binary: svc, Path: "/service", Ports: []int{8080, 8081}}, "vecro/service")
	if !strings.HasPrefix(ref, "vecro/service:") && !strings.HasPrefix(ref, "index.docker.io/vecro/service:") {
		t.Errorf("ref = %s", ref)
	}
	cf := checkConfig(t, img, "/service")
	if _, ok := cf.Config.ExposedPorts["8081/tcp"]; !ok {
		t.Errorf("exposed ports = %v, want 8080/tcp and 8081/tcp", cf.Config.ExposedPorts)
	}
	checkBinary(t, img, "/service")
	// The packed binary is the service: it answers its own usage.
	bin := extract(t, img, "/service")
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	if !strings.Contains(string(out), "--admin-listen") {
		t.Errorf("%s --help does not describe the service binary's flags:\n%s", bin, out)
	}
}

func TestPauseImage(t *testing.T) {
	img, _ := buildImage(t, image.Spec{Package: "./images/pause"}, "vecro/pause")
	checkConfig(t, img, "/pause")
	checkBinary(t, img, "/pause")
	bin := extract(t, img, "/pause")

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// It must still be waiting after a while: it pauses, not exits.
			select {
			case err := <-done:
				t.Fatalf("pause exited before any signal: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pause after %v: %v, want exit status 0", sig, err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("pause did not exit within 10 s of %v", sig)
			}
		})
	}
}

// TestPauseReaps runs the packed pause as PID 1 of a new PID namespace, as
// in a pod, and orphans a process into it: the orphan is reparented to
// pause, and once it exits it must be reaped, not left a zombie.
func TestPauseReaps(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.SkipOrFail(t, "%s", "a new PID namespace needs root")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		testutil.SkipOrFail(t, "%s", "nsenter (util-linux) is not on PATH")
	}
	img, _ := buildImage(t, image.Spec{Package: "./images/pause"}, "vecro/pause")
	bin := extract(t, img, "/pause")
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		testutil.SkipOrFail(t, "%s", fmt.Sprintf("cannot start a process in a new PID namespace: %v", err))
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	pid := cmd.Process.Pid

	// sh starts a sleep in the background and exits at once, so the sleep
	// is orphaned inside the namespace, whose init is pause. The sleep must
	// not hold the output pipe, or CombinedOutput would wait for it to end.
	out, err := exec.Command(nsenter, "--target", strconv.Itoa(pid), "--pid", "--",
		"/bin/sh", "-c", "sleep 1 >/dev/null 2>&1 & exit 0").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	sawChild := false
	deadline := time.Now().Add(15 * time.Second)
	for {
		kids := children(t, pid)
		if len(kids) > 0 {
			sawChild = true
		}
		if sawChild && len(kids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pause (pid %d) still has children after 15 s (seen=%v): %v", pid, sawChild, kids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pause exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pause did not exit within 10 s of SIGTERM")
	}
}

// children lists the processes whose parent is pid, with their state
// (Z for a zombie that nobody reaped).
func children(t testing.TB, pid int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces, so cut at ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" "+s[:i+1]+" "+f[0])
		}
	}
	return out
}

func TestReproducible(t *testing.T) {
	root := moduleRoot(t)
	var digests []v1.Hash
	for range 2 {
		img, err := image.Build(context.Background(), image.Spec{Package: "./images/pause", Dir: root})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same source: digests %v and %v", digests[0], digests[1])
	}
}

// TestPackBinary packs an existing static binary (the path FerretDB and
// CoreDNS from the tool cache take) with a state directory, arguments and
// environment, and refuses a dynamically linked one.
func TestPackBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pause-bin")
	if err := image.Compile(context.Background(), image.Spec{Package: "./images/pause", Dir: moduleRoot(t)}, bin); err != nil {
		t.Fatal(err)
	}
	img, err := image.Build(context.Background(), image.Spec{
		Binary: bin, Path: "/usr/local/bin/db", Dirs: []string{"/state"},
		Args: []string{"--listen=:27017"}, Env: []string{"DB_STATE=/state"}, Ports: []int{27017},
	})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/usr/local/bin/db" {
		t.Errorf("entrypoint = %q", got)
	}
	if got := cf.Config.Cmd; len(got) != 1 || got[0] != "--listen=:27017" {
		t.Errorf("cmd = %q", got)
	}
	if !strings.Contains(strings.Join(cf.Config.Env, " "), "DB_STATE=/state") {
		t.Errorf("env = %q", cf.Config.Env)
	}
	hdrs, _ := layerFiles(t, img)
	for _, d := range []string{"/usr", "/usr/local", "/usr/local/bin"} {
		if h := hdrs[d]; h == nil || h.Typeflag != tar.TypeDir {
			t.Errorf("parent directory %s missing from the layer", d)
		}
	}
	if st := hdrs["/state"]; st == nil || st.Typeflag != tar.TypeDir || st.Uid != 65532 || st.Gid != 65532 {
		t.Errorf("/state = %+v, want a directory owned by 65532:65532", st)
	}

	// /bin/true on Debian is dynamically linked against libc.
	_, err = image.Build(context.Background(), image.Spec{Binary: "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") || !strings.Contains(err.Error(), "/bin/true") {
		t.Errorf("packing /bin/true: err = %v, want a 'dynamically linked' error naming it", err)
	}
}

// TestFerretDBImage packs the tool cache's FerretDB (mk/ferretdb.mk), when
// built: it is the MongoDB-compatible database of the node's storage pods,
// and it must be static to run in an image without a C library.
func TestFerretDBImage(t *testing.T) {
	bin := filepath.Join(os.Getenv("VECRO_CACHE"), "ferretdb", "v1.24.2", "ferretdb")
	if os.Getenv("VECRO_CACHE") == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "vecro", "ferretdb", "v1.24.2", "ferretdb")
	}
	if _, err := os.Stat(bin); err != nil {
		testutil.SkipOrFail(t, "%s", fmt.Sprintf("FerretDB is not built (%v); run `make tools`", err))
	}
	img, err := image.Build(context.Background(), image.Spec{Binary: bin, Dirs: []string{"/state"}})
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, img, "/ferretdb")
	checkBinary(t, img, "/ferretdb")
}

func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    image.Spec
		want string
	}{
		{"nothing", image.Spec{}, "neither Package nor Binary"},
		{"both", image.Spec{Package: "./x", Binary: "/bin/x"}, "both Package"},
		{"arch", image.Spec{Package: "./x", Arch: "mips"}, `unsupported architecture "mips"`},
		{"relative path", image.Spec{Package: "./x", Path: "x"}, `Path "x" is not a clean absolute`},
		{"user", image.Spec{Package: "./x", User: "nobody"}, `user "nobody" is not a numeric uid:gid`},
		{"dir", image.Spec{Package: "./x", Dirs: []string{"state"}}, `directory "state"`},
		{"env", image.Spec{Package: "./x", Env: []string{"NOVALUE"}}, `"NOVALUE" is not KEY=VALUE`},
		{"port", image.Spec{Package: "./x", Ports: []int{70000}}, "port 70000"},
		{"missing binary", image.Spec{Binary: "/nonexistent/bin"}, "/nonexistent/bin"},
		{"not a main package", image.Spec{Package: "./framework/image", Dir: "../.."}, "compile ./framework/image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := image.Build(context.Background(), tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestPush pushes to a real registry (go-containerregistry's registry
// handler on 127.0.0.1) and pulls the image back by the returned digest.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(slogLogger())))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.Build(context.Background(), image.Spec{Package: "./images/pause", Dir: moduleRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ref := u.Host + "/vecro/pause:test"
	pushed, err := image.Push(ctx, ref, img, image.PushOptions{Insecure: true})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	want, _ := img.Digest()
	if !strings.HasSuffix(pushed, "@"+want.String()) {
		t.Errorf("pushed = %s, want a digest reference to %s", pushed, want)
	}
	r, err := name.ParseReference(pushed, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	back, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull %s: %v", pushed, err)
	}
	got, _ := back.Digest()
	if got != want {
		t.Errorf("pulled digest %v, pushed %v", got, want)
	}
	checkConfig(t, back, "/pause")

	if _, err := image.Push(ctx, "127.0.0.1:1/vecro/pause:x", img, image.PushOptions{Insecure: true}); err == nil ||
		!strings.Contains(err.Error(), "push image 127.0.0.1:1/vecro/pause:x") {
		t.Errorf("push to a closed port: err = %v, want one naming the reference", err)
	}
}

// slogLogger silences the registry handler.
func slogLogger() *log.Logger { return log.New(io.Discard, "", 0) }
