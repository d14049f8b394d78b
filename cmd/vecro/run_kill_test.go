package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/runtime"
)

const killExperiment = `kind: Experiment
name: kill
system:
  name: kill
  services:
    - name: front
      type: base
      calls: [back]
      workload: {cpu: 1}
    - name: back
      type: base
      replicas: 2
faults:
  name: kill-faults
  faults:
    - name: slow-back
      target: back
      start: 8s
      duration: 40s
      behaviors:
        net-delay: {time: 50ms}
phases: {warm-up: 3s, recovery: 5s}
load: {users: 1, delay: 100ms}
seed: 1
`

// TestRunKilledMidFault kills `vecro run` with SIGKILL while a fault is
// active: the run's processes must all go (the runtime ties them to the
// parent with Pdeathsig), so no fault and no process outlives the harness.
func TestRunKilledMidFault(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real experiment")
	}
	dir := t.TempDir()
	exp := filepath.Join(dir, "kill.yaml")
	if err := os.WriteFile(exp, []byte(killExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	cmd := exec.Command(os.Args[0], "run", "--state", state, "--artifacts", filepath.Join(dir, "art"), "--no-plots", exp)
	cmd.Env = append(os.Environ(), asVecro+"=1")
	logf, err := os.Create(filepath.Join(dir, "vecro.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("vecro output:\n%s", b)
		}
	})

	// The first run may build the service binary: allow for a slow machine.
	var dep *runtime.Deployment
	waitFor(t, 5*time.Minute, "the state file", func() bool {
		dep, err = runtime.Load(state)
		return err == nil
	})
	eps := dep.Agents()
	waitFor(t, time.Minute, "the fault to be active", func() bool {
		sts, err := agent.ListAll(context.Background(), eps)
		if err != nil {
			return false
		}
		for _, list := range sts {
			for _, st := range list {
				if st.Phase == agent.PhaseActive {
					return true
				}
			}
		}
		return false
	})
	pids := descendants(cmd.Process.Pid)
	if len(pids) < 3 {
		t.Fatalf("found %d descendant processes of vecro, want at least its 3 service instances", len(pids))
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	// The fault was planned to last 40 s more; everything must be gone long
	// before that.
	waitFor(t, 15*time.Second, "every descendant process to exit", func() bool {
		for _, p := range pids {
			if alive(p) {
				return false
			}
		}
		return true
	})
	for _, ep := range eps {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := agent.NewClient(ep).Health(ctx)
		cancel()
		if err == nil {
			t.Errorf("agent of %s still answers after vecro was killed", ep.Instance)
		}
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ppid(p); ok {
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func ppid(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// alive reports whether pid runs; a zombie waiting for its reaper is dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}
