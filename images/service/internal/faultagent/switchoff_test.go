package faultagent_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// Switch-off error is the applied end minus the planned end, as the agent
// measured it (after the behaviour's stop returned).
//
// Each window runs the stress and, beside it, a control: an http-abort
// fault with the same end, whose stop is one atomic swap. The control's
// error is what the OS and the Go scheduler add to any timer of this
// process at that moment; on this shared 2-core machine that alone reached
// 10–50 ms at a load average of 25 (other helpers' builds), so no absolute
// bound would be fair to a test. What the stress adds is its error minus its
// control's, run by run.
//
// Bounds. The median of the added error must be under a target (10 ms for
// cpu-stress, the issue's), over switchOffRuns windows; the median absorbs
// a few windows that the OS holds back more for the one than for the other.
// The old cpu-stress checked for its end once per 100 ms slice: at load 90
// it added 40–55 ms in every window, rejected by 4× or more. The maximum
// only has the agent's general edge bound (edgeLate).
const (
	switchOffRuns   = 15
	switchOffWindow = 250 * time.Millisecond
	switchOffGap    = 150 * time.Millisecond
)

// switchOff is one window's errors.
type switchOff struct{ late, control time.Duration }

// switchOffErrors pushes switchOffRuns back-to-back windows of one behaviour,
// each with its control, and returns how late each was switched off.
func switchOffErrors(t *testing.T, kind string, params func(i int) any) []switchOff {
	t.Helper()
	r := newRig(t)
	first := time.Now().Add(leadTime)
	var ids [][2]string
	for i := range switchOffRuns {
		start := first.Add(time.Duration(i) * (switchOffWindow + switchOffGap))
		f := fault(t, fmt.Sprintf("off%d.%s", i, kind), kind, params(i), start, start.Add(switchOffWindow))
		c := fault(t, fmt.Sprintf("ctl%d.http-abort", i), "http-abort", behavior.HTTPAbort{Percent: 1}, start, start.Add(switchOffWindow))
		r.put(t, f)
		r.put(t, c)
		ids = append(ids, [2]string{f.ID, c.ID})
	}
	var out []switchOff
	for _, pair := range ids {
		var late [2]time.Duration
		applied := true
		for j, id := range pair {
			st := r.waitPhase(t, id, agent.PhaseDone, pollLimit)
			if st.Error != "" {
				t.Fatalf("fault %s: %s", id, st.Error)
			}
			// A start timer held back by the OS past the window's end
			// means the fault never went on: nothing to measure.
			if st.AppliedEnd == nil {
				t.Logf("fault %s never went on (start timer later than its %s window)", id, switchOffWindow)
				applied = false
				continue
			}
			late[j] = st.AppliedEnd.Sub(st.End)
		}
		if applied {
			out = append(out, switchOff{late: late[0], control: late[1]})
		}
	}
	if len(out) < switchOffRuns*2/3 {
		t.Fatalf("only %d of %d windows went on", len(out), switchOffRuns)
	}
	return out
}

func checkSwitchOff(t *testing.T, runs []switchOff, target time.Duration) {
	t.Helper()
	var late, control, added []time.Duration
	for _, r := range runs {
		late = append(late, r.late)
		control = append(control, r.control)
		added = append(added, r.late-r.control)
	}
	for _, s := range [][]time.Duration{late, control, added} {
		slices.Sort(s)
	}
	stats := func(s []time.Duration) string {
		return fmt.Sprintf("min %s, median %s, p90 %s, max %s", ms(s[0]), ms(s[len(s)/2]), ms(s[len(s)*9/10]), ms(s[len(s)-1]))
	}
	t.Logf("switch-off error over %d windows: %s", len(runs), stats(late))
	t.Logf("control (http-abort, same end):   %s", stats(control))
	t.Logf("added by the behaviour:           %s", stats(added))
	if late[0] < 0 {
		t.Errorf("switched off %s before the planned end", -late[0])
	}
	if m := added[len(added)/2]; m > target {
		t.Errorf("median switch-off error beyond the control's %s, want at most %s (errors %v, controls %v)", m, target, late, control)
	}
	if worst := late[len(late)-1]; worst > edgeLate {
		t.Errorf("worst switch-off error %s, want at most %s", worst, edgeLate)
	}
}

// TestCPUStressSwitchOff uses load 90 with two workers, the scenario's
// fault, where a worker spends 90 ms of every 100 ms slice computing.
func TestCPUStressSwitchOff(t *testing.T) {
	checkSwitchOff(t, switchOffErrors(t, "cpu-stress", func(int) any {
		return behavior.CPUStress{Load: 90, Workers: 2}
	}), 10*time.Millisecond)
}

// TestIOStressSwitchOff alternates the methods, so that the big writes and
// the fsyncs each end about a third of the windows. The kernel finishes a
// write or fsync it has begun: on this machine's disk, under other builds'
// I/O, one 64 KiB write held by dirty-page throttling or one 1 MiB fsync
// took up to 60 ms, most far less, so the target is 10 ms for the median
// and the tail is the device's. The old io-stress closed files full of dirty
// pages before its applied end: 43–63 ms medians.
func TestIOStressSwitchOff(t *testing.T) {
	checkSwitchOff(t, switchOffErrors(t, "io-stress", func(i int) any {
		return behavior.IOStress{Method: behavior.IOMethods[i%len(behavior.IOMethods)], Workers: 2}
	}), 10*time.Millisecond)
}
