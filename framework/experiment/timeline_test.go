package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
)

func d(s string) spec.Duration {
	x, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return spec.Duration(x)
}

func TestTimelinePlacesPhasesAndFaults(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ff := &spec.FaultFile{Faults: []spec.Fault{
		{Name: "late", Start: d("90s"), Duration: d("10s")},
		{Name: "early", Start: d("40s"), Duration: d("30s")},
	}}
	tl, err := NewTimeline(t0, Phases{WarmUp: 10 * time.Second, Recovery: 15 * time.Second}, ff, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !tl.Baseline.Start.Equal(t0.Add(10*time.Second)) || !tl.Baseline.End.Equal(t0.Add(40*time.Second)) {
		t.Errorf("baseline %v", tl.Baseline)
	}
	if !tl.End.Equal(t0.Add(115 * time.Second)) {
		t.Errorf("end %v, want t0+115s (last fault end + recovery)", tl.End.Sub(t0))
	}
	if tl.Faults[0].Name != "early" || tl.Faults[1].Name != "late" {
		t.Errorf("faults not in start order: %v", tl.Faults)
	}
	for _, c := range []struct {
		at   time.Duration
		want string
	}{{5 * time.Second, "warm-up"}, {20 * time.Second, "baseline"}, {45 * time.Second, "fault early"}, {80 * time.Second, "between faults"},
		{95 * time.Second, "fault late"}, {105 * time.Second, "recovery"}, {120 * time.Second, "done"}} {
		if got := tl.Phase(t0.Add(c.at)); got != c.want {
			t.Errorf("phase at %v: %q, want %q", c.at, got, c.want)
		}
	}
}

func TestTimelineWithoutFaults(t *testing.T) {
	t0 := time.Now()
	tl, err := NewTimeline(t0, Phases{}, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Duration() != DefaultPhases.WarmUp+DefaultPhases.Baseline+DefaultPhases.Recovery {
		t.Errorf("duration %v", tl.Duration())
	}
}

func TestTimelineRefusesAShortBaseline(t *testing.T) {
	ff := &spec.FaultFile{Faults: []spec.Fault{{Name: "f", Start: d("12s"), Duration: d("10s")}}}
	_, err := NewTimeline(time.Now(), Phases{WarmUp: 10 * time.Second}, ff, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), `fault "f" starts at 12s`) || !strings.Contains(err.Error(), "20s or later") {
		t.Fatalf("error %v", err)
	}
}
