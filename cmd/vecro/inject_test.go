package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/fault"
)

// TestInjectReportFailsOnAFaultAppliedNowhere: vecro inject prints each
// fault's status and exits non-zero when one was applied by no agent, as
// vecro run does; a partial fault is a warning.
func TestInjectReportFailsOnAFaultAppliedNowhere(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	applied := fault.Window{Fault: "ok", Behavior: "net-delay", Target: "a", Instances: []string{"a-0"},
		AppliedInstances: []string{"a-0"}, Status: fault.StatusApplied,
		PlannedStart: t0, PlannedEnd: t0.Add(time.Minute), AppliedStart: t0, AppliedEnd: t0.Add(time.Minute)}
	partial := fault.Window{Fault: "half", Behavior: "cpu-stress", Target: "b", Instances: []string{"b-0", "b-1"},
		AppliedInstances: []string{"b-0"}, Errors: map[string]string{"b-1": "agent unreachable"}, Status: fault.StatusPartial,
		PlannedStart: t0, PlannedEnd: t0.Add(time.Minute), AppliedStart: t0, AppliedEnd: t0.Add(time.Minute)}
	failed := fault.Window{Fault: "none", Behavior: "io-stress", Target: "c", Instances: []string{"c-0"},
		Errors: map[string]string{"c-0": "is a directory"}, Status: fault.StatusFailed,
		PlannedStart: t0, PlannedEnd: t0.Add(time.Minute)}

	var out, errOut bytes.Buffer
	s := streams{Out: &out, Err: &errOut}
	if err := writeWindows(s, []fault.Window{applied, partial}); err != nil {
		t.Fatalf("applied and partial faults: %v", err)
	}
	if !strings.Contains(out.String(), "partial") || !strings.Contains(out.String(), "1/2") {
		t.Errorf("the table does not show the partial fault's status and instances:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "warning: ") || !strings.Contains(errOut.String(), "agent unreachable") {
		t.Errorf("no warning naming the instance that missed the fault: %q", errOut.String())
	}
	out.Reset()
	err := writeWindows(s, []fault.Window{applied, failed})
	if err == nil || !strings.Contains(err.Error(), `"none"`) || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("a fault applied nowhere: error %v, want one naming the fault and the agent's error", err)
	}
	if !strings.Contains(out.String(), "failed") {
		t.Errorf("the table does not show the failed status:\n%s", out.String())
	}
}
