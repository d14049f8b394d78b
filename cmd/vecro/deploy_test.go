package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/internal/testutil"
)

// deployProc is a `vecro deploy` child process.
type deployProc struct {
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	exited chan struct{} // closed once reaped; then cmd.ProcessState is set
}

// startDeploy runs `vecro deploy` (this test binary acting as vecro) as a
// child process and returns once its state file is written.
func startDeploy(t *testing.T, args ...string) (*deployProc, *runtime.Deployment, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state.json")
	return startDeployIn(t, "", state, append([]string{"deploy", "--state", state}, args...)...)
}

// startDeployIn runs the vecro command line args in directory dir ("": the
// test's) and returns once the state file it writes, state, is there.
func startDeployIn(t *testing.T, dir, state string, args ...string) (*deployProc, *runtime.Deployment, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asVecro+"=1")
	d := &deployProc{cmd: cmd, out: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = d.out
	cmd.Stderr = d.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-d.exited
	})
	deadline := time.Now().Add(5 * time.Minute) // the first run builds the service binary
	for {
		if dep, err := runtime.Load(state); err == nil {
			return d, dep, state
		}
		select {
		case <-d.exited:
			t.Fatalf("vecro deploy exited before writing its state file:\n%s", d.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state file after 5 minutes:\n%s", d.out.String())
		}
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitExit waits for the deploy process and returns its exit code.
func (d *deployProc) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("vecro deploy still running after %s", within)
		return -1
	}
}

func TestDeployUntilSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a real system")
	}
	d, dep, state := startDeploy(t, fx+"/systems/simple.yaml")
	cmd, out := d.cmd, d.out
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file %s: %v, mode %v; want 0600", state, err, fi.Mode().Perm())
	}
	if dep.Runtime != "local" || dep.System != "simple" || dep.PID != cmd.Process.Pid || len(dep.Services) != 3 {
		t.Fatalf("state %+v", dep)
	}
	front, ok := dep.Service("frontend")
	if !ok {
		t.Fatal("no frontend in the state file")
	}
	if code := getStatus(t, front.URL); code != http.StatusOK {
		t.Errorf("GET frontend %s: %d", front.URL, code)
	}
	if code := getStatus(t, dep.PrometheusURL+"/api/v1/query?query=up"); code != http.StatusOK {
		t.Errorf("Prometheus API %s: %d", dep.PrometheusURL, code)
	}
	for _, want := range []string{"frontend", front.URL, "Prometheus API: " + dep.PrometheusURL, "Ctrl-C"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Its children: 3 service processes and redis-server.
	kids := descendants(cmd.Process.Pid)
	if len(kids) < 4 {
		t.Errorf("deploy has %d descendants, want at least 4", len(kids))
	}

	// A second deploy on the same state file refuses.
	_, _, err = runCLI(t, "deploy", "--state", state, fx+"/systems/simple.yaml")
	if err == nil || !strings.Contains(err.Error(), "already deployed by pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("second deploy: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := d.waitExit(t, time.Minute); code != 0 {
		t.Errorf("exit code %d after SIGINT:\n%s", code, out.String())
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after exit: %v", err)
	}
	for _, p := range kids {
		if alive(p) {
			t.Errorf("process %d outlived vecro deploy", p)
		}
	}
}

func TestDeployFailsWhenAServiceDies(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a real system")
	}
	d, _, state := startDeploy(t, fx+"/systems/simple.yaml")
	cmd, out := d.cmd, d.out
	kids := descendants(cmd.Process.Pid)
	// Kill the backend's process, the child whose command line names it.
	var victim int
	for _, p := range kids {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
		if strings.Contains(string(b), "backend-0") {
			victim = p
		}
	}
	if victim == 0 {
		t.Fatalf("no backend-0 process among %v", kids)
	}
	syscall.Kill(victim, syscall.SIGKILL)
	if code := d.waitExit(t, time.Minute); code != 1 {
		t.Errorf("exit code %d after a service died, want 1", code)
	}
	if !strings.Contains(out.String(), "backend-0") || !strings.Contains(out.String(), "signal: killed") {
		t.Errorf("output does not report the death:\n%s", out.String())
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after exit: %v", err)
	}
	for _, p := range kids {
		if alive(p) {
			t.Errorf("process %d outlived vecro deploy", p)
		}
	}
}

func TestDeployUsageErrors(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	sys := fx + "/systems/simple.yaml"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown runtime", []string{"--runtime", "nomad", sys}, `--runtime "nomad"`},
		{"bad cgroups", []string{"--cgroups", "maybe", sys}, "auto, on or off"},
		{"bad mongo", []string{"--mongo", "couch", sys}, "--mongo"},
		{"no file", nil, "no definition file"},
		{"missing file", []string{fx + "/systems/nope.yaml"}, "nope.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"deploy", "--state", state}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("deploy %v = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestDeployCancelledContext(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a real system")
	}
	// In-process, as `vecro deploy` under signal.NotifyContext: cancelling
	// the context is what SIGINT does.
	state := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"deploy", "--state", state, fx + "/systems/simple.yaml"}, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	}()
	var dep *runtime.Deployment
	deadline := time.Now().Add(5 * time.Minute)
	for dep == nil {
		select {
		case err := <-done:
			t.Fatalf("deploy returned early: %v\n%s%s", err, out.String(), errOut.String())
		case <-time.After(100 * time.Millisecond):
		}
		dep, _ = runtime.Load(state)
		if time.Now().After(deadline) {
			t.Fatal("no state file after 5 minutes")
		}
	}
	front, _ := dep.Service("frontend")
	if code := getStatus(t, front.URL); code != http.StatusOK {
		t.Errorf("GET frontend: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("deploy after cancel: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("deploy did not return within a minute of the cancel")
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(front.URL); err == nil {
		resp.Body.Close()
		t.Errorf("frontend still answers after deploy returned")
	}
}
