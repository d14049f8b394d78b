package experiment_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/runtime/local"
	"github.com/vecrosim/vecro/internal/testexp"
)

// instancePID finds the service process of instance by its command line
// (the runtime starts it with --instance=NAME), or 0.
func instancePID(instance string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i := range args {
			// The contract writes --instance=NAME; a hand-run binary may
			// have the two-word form.
			if args[i] == "--instance="+instance || args[i] == "--instance" && i+1 < len(args) && args[i+1] == instance {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				return pid
			}
		}
	}
	return 0
}

// TestADeadInstanceAbortsTheRun kills one service process in the middle of
// a run: the run must stop on the deployment's failure (the same channel a
// restarted pod reaches on Kubernetes) with an error naming the phase and
// the instance, long before its timeline ends, and clear its faults.
func TestADeadInstanceAbortsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a real experiment")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const faults = `name: late
namespace: pair
faults:
  - {name: late-delay, target: b, start: 40s, duration: 20s, behaviors: {net-delay: {time: 10ms}}}
`
	e, dir := testexp.New(ctx, t, pair, faults, 5)
	rt, err := local.New(local.Options{RunDir: filepath.Join(dir, "run"), Seed: 5, ScrapeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.Runtime = rt
	e.Families = []string{"throughput"}
	e.Load = experiment.Load{Services: []string{"a"}, Rate: "10"}
	var out strings.Builder
	e.Progress = &out

	killed := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if pid := instancePID("b-1"); pid > 0 {
				// Into the baseline: the run is under way.
				time.Sleep(3 * time.Second)
				if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
					killed <- time.Now()
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	_, err = e.Run(ctx)
	var at time.Time
	select {
	case at = <-killed:
	default:
		t.Fatalf("the test never found b-1's process to kill (run error: %v)", err)
	}
	if err == nil {
		t.Fatalf("the run succeeded although b-1 died %v after it started\n%s", at.Sub(start).Round(time.Second), out.String())
	}
	msg := err.Error()
	for _, want := range []string{"the system failed during", "b-1", "killed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("run error %q does not say %q", msg, want)
		}
	}
	// The timeline is a minute long; the watch polls its channel, so the
	// abort follows the death by the runtime's reaping, not the timeline.
	if took := time.Since(at); took > 15*time.Second {
		t.Errorf("the run ended %v after the death, want the abort to follow it", took.Round(time.Second))
	}
	t.Logf("run error %v after the kill: %v", time.Since(at).Round(time.Millisecond), err)
}
