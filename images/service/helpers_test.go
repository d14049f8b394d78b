package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/internal/childproc"
	"github.com/vecrosim/vecro/internal/testutil"
)

// serviceBin is the service binary, built (or found in the cache) once by
// TestMain, so that the tests run the real program as its own process.
var (
	serviceBin string
	buildErr   error
)

// bareEnv makes the test binary serve a bare net/http handler instead of
// running tests: the benchmark's reference server, in its own process like
// the service.
const bareEnv = "VECRO_TEST_BARE_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(bareEnv) == "1" {
		os.Exit(runBare())
	}
	serviceBin, buildErr = buildService()
	os.Exit(m.Run())
}

// buildService is the service binary from the content cache
// (framework/service/build): the same file the local runtime runs.
func buildService() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	return build.Service(ctx, "", build.Target{}, nil)
}

// runBare serves a bare handler that answers 200 with an empty body, and
// prints its address on stdout.
func runBare() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(l.Addr().String())
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	fmt.Fprintln(os.Stderr, err)
	return 1
}

func needBinary(t testing.TB) {
	t.Helper()
	if serviceBin != "" {
		return
	}
	if buildErr != nil && strings.Contains(buildErr.Error(), "not on PATH") && os.Getenv("CI") != "true" {
		t.Skipf("cannot build the service binary: %v", buildErr)
	}
	t.Fatalf("cannot build the service binary: %v", buildErr)
}

// child is a running service process.
type child struct {
	name   string
	cmd    *exec.Cmd
	listen string // the service port (through the agent's ingress wrapper)
	admin  string
	url    string
	token  string
	log    *testutil.SyncBuffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

const testToken = "e2e-token"

// childEnv is this process's environment without VECRO_* variables, so
// that a stray one cannot change the child's configuration.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VECRO_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startService runs the binary with loopback :0 ports, waits until it has
// written its addresses, and stops it (SIGTERM) at cleanup.
func startService(t testing.TB, name string, args ...string) *child {
	t.Helper()
	needBinary(t)
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr.json")
	all := append([]string{
		"--system", "e2e", "--service", name, "--instance", name + "-0",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--addr-file", addrFile, "--token", testToken, "--data-dir", dir,
	}, args...)
	c := &child{name: name, token: testToken, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(serviceBin, all...)
	c.cmd.Env = childEnv()
	c.cmd.Stdout = c.log
	c.cmd.Stderr = c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", serviceBin, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpGoroutines()
		}
		c.stop(t)
		if t.Failed() {
			t.Logf("%s log:\n%s", name, c.failureLog())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil {
			var a struct{ Listen, Admin string }
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatalf("%s: addr file %q: %v", name, b, err)
			}
			c.listen, c.admin, c.url = a.Listen, a.Admin, "http://"+a.Listen
			return c
		}
		select {
		case <-c.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", name, c.err, c.failureLog())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30s:\n%s", name, c.failureLog())
		}
	}
}

// stop sends SIGTERM and waits; a process that does not end in time is
// killed and the test fails.
func (c *child) stop(t testing.TB) {
	t.Helper()
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Errorf("%s did not stop within 20s of SIGTERM", c.name)
	}
}

// dumpGoroutines makes a live child print every goroutine's stack to its
// log and exit (Go's SIGQUIT handling): the diagnosis of a failed test.
func (c *child) dumpGoroutines() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
}

// failureLogLines bounds the child output a failed test prints: a
// goroutine dump (about 370 lines for a traced service) fits, the thousands
// of request lines a benchmark's service writes before it do not (one bench
// that missed its target printed 15,000).
const failureLogLines = 500

// failureLog is the end of the child's output, saying how much it left out.
func (c *child) failureLog() string {
	s := strings.TrimRight(c.log.String(), "\n")
	if n := strings.Count(s, "\n") + 1; n > failureLogLines {
		return fmt.Sprintf("(its first %d lines left out)\n%s", n-failureLogLines, childproc.LastLines(s, failureLogLines))
	}
	return s
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// procStatus reads a kB field of the child's /proc/PID/status, in bytes.
func (c *child) procStatus(t testing.TB, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, c.pid())
	return 0
}

// procIO reads the child's /proc/PID/io counters.
func (c *child) procIO(t testing.TB) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", c.pid()))
	if err != nil {
		t.Skipf("no /proc/PID/io: %v", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			t.Fatalf("/proc/PID/io line %q: %v", line, err)
		}
		out[k] = n
	}
	return out
}

// cpuTime is the CPU time the child used in all, known once it has exited
// (from its rusage, exact to the microsecond).
func (c *child) cpuTime(t testing.TB) time.Duration {
	t.Helper()
	c.stop(t)
	if c.cmd.ProcessState == nil {
		t.Fatalf("%s: no process state", c.name)
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

// exitCode waits for the child and returns its exit code.
func (c *child) exitCode() int {
	<-c.done
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		return -1
	}
	return 0
}

// isTmpfs reports whether dir is on a tmpfs, which has no device to count
// writes on.
func isTmpfs(dir string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(dir, &fs) == nil && fs.Type == unix.TMPFS_MAGIC
}

func newHTTPClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

type response struct {
	code   int
	header http.Header
	body   string
}

func do(t testing.TB, c *http.Client, method, url, token string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// hammer sends n GETs to url from workers goroutines and returns the
// first failure (a transport error or a non-200).
func hammer(c *http.Client, url string, n, workers int) error {
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range next {
				resp, err := c.Get(url)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("GET %s: %s", url, resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
