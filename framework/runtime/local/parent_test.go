package local

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/testutil"
)

// The signal tests run a parent process like `vecro deploy`: this test
// binary again, which TestMain turns into parentMain when the environment
// asks for it.
const parentEnv = "LOCALTEST_PARENT"

// parentConfig is what the test tells the parent process.
type parentConfig struct {
	Binary   string
	RunDir   string
	Watchdog bool
	WithDB   bool
}

// parentReport is what the parent prints once its system is ready.
type parentReport struct {
	PGIDs      []int
	CgroupDirs []string
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(parentEnv); cfg != "" {
		os.Exit(parentMain(cfg))
	}
	os.Exit(m.Run())
}

// parentMain starts a system as the CLI does, with a context cancelled by
// SIGINT or SIGTERM, prints its process groups and waits for the signal.
func parentMain(cfgJSON string) int {
	var cfg parentConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "parent:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := New(Options{
		ServiceBinary: cfg.Binary,
		RunDir:        cfg.RunDir,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, nil)),
		watchdog:      cfg.Watchdog,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "parent:", err)
		return 1
	}
	dep, err := r.Start(ctx, small(cfg.WithDB))
	if err != nil {
		fmt.Fprintln(os.Stderr, "parent:", err)
		return 1
	}
	defer dep.Metrics.Close()
	json.NewEncoder(os.Stdout).Encode(parentReport{PGIDs: r.pgids(), CgroupDirs: r.cgroupDirs()})
	select {
	case <-ctx.Done():
	case err := <-dep.Failures:
		fmt.Fprintln(os.Stderr, "parent:", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "parent: stop:", err)
		return 1
	}
	return 0
}

// startParent runs the parent process and returns it once its system is
// ready, with what it reported.
func startParent(t *testing.T, cfg parentConfig) (*exec.Cmd, parentReport) {
	t.Helper()
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), parentEnv+"="+string(b))
	cmd.Stderr = testutil.Writer(t)
	// Its own group, so that killing it cannot reach the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("the parent exited before its system was ready (see its log above)")
		}
		var rep parentReport
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			t.Fatalf("parent report %q: %v", line, err)
		}
		return cmd, rep
	case <-time.After(3 * time.Minute):
		t.Fatal("the parent did not report a ready system within 3 minutes")
	}
	return nil, parentReport{}
}

func TestParentSignals(t *testing.T) {
	bin := serviceBinary(t)
	needMongo(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, rep := startParent(t, parentConfig{Binary: bin, RunDir: t.TempDir(), WithDB: true})
			if len(rep.PGIDs) != 5 {
				t.Fatalf("parent reports %d process groups, want 4 instances + 1 database", len(rep.PGIDs))
			}
			if left := groupMembers(t, rep.PGIDs); len(left) < 5 {
				t.Fatalf("only %d processes running before the signal:\n%s", len(left), strings.Join(left, "\n"))
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("parent after %v: %v, want a clean exit", sig, err)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("parent still running 60 s after %v", sig)
			}
			// Stop returned before the parent exited: nothing may be left.
			if left := groupMembers(t, rep.PGIDs); len(left) > 0 {
				t.Errorf("processes left after %v of the parent:\n%s", sig, strings.Join(left, "\n"))
			}
			for _, d := range rep.CgroupDirs {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("cgroup %s left after %v of the parent", d, sig)
				}
			}
		})
	}
}

func TestParentSIGKILL(t *testing.T) {
	bin := serviceBinary(t)
	needMongo(t)
	cases := []struct {
		name     string
		watchdog bool
	}{{"pdeathsig", false}, {"watchdog", true}}
	if !hasPdeathsig {
		cases = cases[1:]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd, rep := startParent(t, parentConfig{Binary: bin, RunDir: t.TempDir(), Watchdog: tc.watchdog, WithDB: !tc.watchdog})
			if left := groupMembers(t, rep.PGIDs); len(left) < len(rep.PGIDs) {
				t.Fatalf("only %d processes running before the kill:\n%s", len(left), strings.Join(left, "\n"))
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			// The kernel (Pdeathsig) or the watchdog ends the children.
			waitGone(t, rep.PGIDs, 20*time.Second)

			// The dead parent could not remove its cgroups and temporary
			// directories (the metrics TSDB); the next run sweeps them.
			stale, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", tempPrefix, cmd.Process.Pid)))
			if len(stale) == 0 {
				t.Errorf("the killed parent left no %s%d-* directory: the sweep is not exercised", tempPrefix, cmd.Process.Pid)
			}
			r := newRuntime(t, Options{})
			dep, err := r.Start(context.Background(), &spec.System{Name: "sweep", Services: []spec.Service{{Name: "a", Type: spec.TypeBase}}})
			if err != nil {
				t.Fatal(err)
			}
			dep.Metrics.Close()
			for _, d := range append(rep.CgroupDirs, stale...) {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("%s of the killed parent (pid %d) not swept by the next run", d, cmd.Process.Pid)
				}
			}
		})
	}
}
