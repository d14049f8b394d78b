package fault_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/fault"
)

// planTwo plans faultFile("") (net-delay and cpu-stress on both db
// replicas, 30 s after t0 for 15 s).
func planTwo(t *testing.T) (time.Time, []fault.Planned) {
	t.Helper()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ps, err := fault.Plan(faultFile(""), fault.Targets{"db": endpoints("db", 2)}, t0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Behavior != "net-delay" {
		t.Fatalf("planned %+v: want net-delay first of two", ps)
	}
	return t0, ps
}

func at(t0 time.Time, d time.Duration) *time.Time { x := t0.Add(d); return &x }

func TestWindowsMergeAgentReports(t *testing.T) {
	t0, ps := planTwo(t)
	reports := map[string][]agent.Status{
		"db-0": {{Fault: ps[0].Wire(), Phase: agent.PhaseDone, AppliedStart: at(t0, 30*time.Second+2*time.Millisecond), AppliedEnd: at(t0, 45*time.Second),
			Effect: map[string]float64{"requests_delayed": 10, "mean_added_delay_seconds": 0.4}}},
		"db-1": {{Fault: ps[0].Wire(), Phase: agent.PhaseDone, AppliedStart: at(t0, 30*time.Second+1*time.Millisecond), AppliedEnd: at(t0, 45*time.Second+3*time.Millisecond),
			Effect: map[string]float64{"requests_delayed": 30, "mean_added_delay_seconds": 0.2}}},
	}
	ws := fault.Windows(ps, reports)
	w := ws[0]
	if !w.AppliedStart.Equal(*at(t0, 30*time.Second+time.Millisecond)) || !w.AppliedEnd.Equal(*at(t0, 45*time.Second+3*time.Millisecond)) {
		t.Errorf("applied %v–%v: want earliest on, latest off", w.AppliedStart, w.AppliedEnd)
	}
	if w.Status != fault.StatusApplied || !slices.Equal(w.AppliedInstances, []string{"db-0", "db-1"}) || len(w.Errors) != 0 {
		t.Errorf("status %s, applied %v, errors %v: want applied on both", w.Status, w.AppliedInstances, w.Errors)
	}
	// 10 bursts at 0.4 s and 30 at 0.2 s: 40 bursts with 10 s added in
	// all, 0.25 s each; the unweighted 0.3 would overstate the delay.
	if w.Effect["requests_delayed"] != 40 || math.Abs(w.Effect["mean_added_delay_seconds"]-0.25) > 1e-12 {
		t.Errorf("effect %v: want counts summed, means weighted by requests_delayed", w.Effect)
	}
	if !w.Active(t0.Add(40*time.Second)) || w.Active(t0.Add(46*time.Second)) || w.Active(t0.Add(30*time.Second)) {
		t.Error("Active does not follow the applied window")
	}
	if w.Problem() != "" {
		t.Errorf("a fully applied fault has a problem: %s", w.Problem())
	}

	// The cpu-stress nobody reported: no record on either agent.
	u := ws[1]
	if u.Applied() || u.Status != fault.StatusFailed || len(u.AppliedInstances) != 0 {
		t.Errorf("unreported fault: applied %v, status %s, instances %v", u.Applied(), u.Status, u.AppliedInstances)
	}
	if _, _, ok := u.Span(); ok {
		t.Error("an unreported fault has a span")
	}
	for _, d := range []time.Duration{30 * time.Second, 40 * time.Second} {
		if u.Active(t0.Add(d)) {
			t.Errorf("an unreported fault is active at +%v: the plan is not ground truth", d)
		}
	}
	if s, e := u.PlannedSpan(); !s.Equal(ps[1].Start) || !e.Equal(ps[1].End) {
		t.Error("PlannedSpan is not the plan")
	}
	if !strings.Contains(u.Errors["db-0"], "no record") {
		t.Errorf("errors %v: want the missing report named", u.Errors)
	}
}

func TestWindowsRefusedByEveryAgent(t *testing.T) {
	t0, ps := planTwo(t)
	refused := func(msg string) agent.Status {
		return agent.Status{Fault: ps[0].Wire(), Phase: agent.PhaseDone, Error: msg, Effect: map[string]float64{"requests_delayed": 0}}
	}
	ws := fault.Windows(ps[:1], map[string][]agent.Status{
		"db-0": {refused("toxiproxy: link db: no such link")},
		"db-1": {refused("toxiproxy: link db: no such link")},
	})
	w := ws[0]
	if w.Status != fault.StatusFailed || w.Applied() || len(w.AppliedInstances) != 0 {
		t.Fatalf("status %s, applied %v on %v: want failed", w.Status, w.Applied(), w.AppliedInstances)
	}
	if w.Active(t0.Add(40 * time.Second)) {
		t.Error("a refused fault is active inside its planned window")
	}
	if w.Effect != nil {
		t.Errorf("effect %v: a fault nobody applied did nothing", w.Effect)
	}
	p := w.Problem()
	for _, want := range []string{`"slow"`, "net-delay", "db-0: toxiproxy: link db: no such link", "db-1:", "failed on 0 of 2"} {
		if !strings.Contains(p, want) {
			t.Errorf("problem %q does not say %q", p, want)
		}
	}
}

func TestWindowsPartialAcrossReplicas(t *testing.T) {
	t0, ps := planTwo(t)
	ws := fault.Windows(ps[:1], map[string][]agent.Status{
		"db-0": {{Fault: ps[0].Wire(), Phase: agent.PhaseDone, AppliedStart: at(t0, 30*time.Second), AppliedEnd: at(t0, 45*time.Second),
			Effect: map[string]float64{"requests_delayed": 20, "mean_added_delay_seconds": 0.4}}},
		"db-1": {{Fault: ps[0].Wire(), Phase: agent.PhaseDone, Error: "io-stress: create x: is a directory",
			Effect: map[string]float64{"requests_delayed": 0, "mean_added_delay_seconds": 0}}},
	})
	w := ws[0]
	if w.Status != fault.StatusPartial || !slices.Equal(w.AppliedInstances, []string{"db-0"}) || !slices.Equal(w.Instances, []string{"db-0", "db-1"}) {
		t.Fatalf("status %s, applied %v of %v: want partial on db-0", w.Status, w.AppliedInstances, w.Instances)
	}
	if !w.Active(t0.Add(40 * time.Second)) {
		t.Error("a partially applied fault is not active in its applied window")
	}
	// The refusing replica did nothing, so it neither counts nor dilutes
	// the mean.
	if w.Effect["requests_delayed"] != 20 || w.Effect["mean_added_delay_seconds"] != 0.4 {
		t.Errorf("effect %v: want only db-0's", w.Effect)
	}
	if !slices.Equal(w.NotApplied(), []string{"db-1"}) || w.Errors["db-1"] != "io-stress: create x: is a directory" {
		t.Errorf("not applied %v, errors %v", w.NotApplied(), w.Errors)
	}
}

func TestWindowsStillOnAndNeverSwitchedOn(t *testing.T) {
	t0, ps := planTwo(t)
	ws := fault.Windows(ps[:1], map[string][]agent.Status{
		"db-0": {{Fault: ps[0].Wire(), Phase: agent.PhaseActive, AppliedStart: at(t0, 30*time.Second)}},
		"db-1": {{Fault: ps[0].Wire(), Phase: agent.PhaseCancelled}},
	})
	w := ws[0]
	if !w.AppliedEnd.IsZero() {
		t.Errorf("applied end %v while db-0 is still on", w.AppliedEnd)
	}
	if _, e, ok := w.Span(); !ok || !e.Equal(ps[0].End) {
		t.Errorf("span end %v: an unfinished applied window runs to its planned end", e)
	}
	if w.Status != fault.StatusPartial || !strings.Contains(w.Errors["db-1"], "cancelled") {
		t.Errorf("status %s, errors %v: want db-1 named as never switched on", w.Status, w.Errors)
	}
}

func TestMeansWithoutWeightsAverageOverInstances(t *testing.T) {
	t0, ps := planTwo(t)
	st := func(mean float64, extra map[string]float64) agent.Status {
		eff := map[string]float64{"mean_x": mean}
		for k, v := range extra {
			eff[k] = v
		}
		return agent.Status{Fault: ps[0].Wire(), Phase: agent.PhaseDone, AppliedStart: at(t0, 30*time.Second), AppliedEnd: at(t0, 45*time.Second), Effect: eff}
	}
	for _, tc := range []struct {
		name   string
		a, b   agent.Status
		want   float64
		reason string
	}{
		{"no count", st(1, nil), st(3, nil), 2, "no weight to use"},
		{"one without a count", st(1, map[string]float64{"requests_delayed": 9}), st(3, nil), 2, "a weight for only one instance"},
		{"zero counts", st(1, map[string]float64{"requests_delayed": 0}), st(3, map[string]float64{"requests_delayed": 0}), 2, "all weights zero"},
		{"weighted", st(1, map[string]float64{"requests_delayed": 3}), st(3, map[string]float64{"requests_delayed": 1}), 1.5, "3 events at 1, 1 at 3"},
	} {
		ws := fault.Windows(ps[:1], map[string][]agent.Status{"db-0": {tc.a}, "db-1": {tc.b}})
		if got := ws[0].Effect["mean_x"]; math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: mean_x %v, want %v (%s)", tc.name, got, tc.want, tc.reason)
		}
	}
}
