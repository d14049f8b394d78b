package analysis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/analysis"
)

// steps is a series at base for 20 s, then at during for 20 s, one sample a
// second, with a little alternating noise so that the MAD is not zero.
func steps(base, during float64) (analysis.Series, analysis.Window) {
	t0 := time.Unix(1_800_000_000, 0)
	s := analysis.Series{Family: "latency_p95", Service: "api", Baseline: analysis.Window{Name: "baseline", Start: t0, End: t0.Add(20 * time.Second)}}
	for i := range 40 {
		v := base
		if i >= 20 {
			v = during
		}
		if i%2 == 1 {
			v *= 1.02
		}
		s.Times = append(s.Times, t0.Add(time.Duration(i)*time.Second))
		s.Values = append(s.Values, v)
	}
	return s, analysis.Window{Name: "fault", Start: t0.Add(20 * time.Second), End: t0.Add(40 * time.Second)}
}

func TestDeviationByEveryCriterionAndDirection(t *testing.T) {
	s, w := steps(0.01, 0.05)
	up, err := analysis.Criteria{}.Deviation(s, w, analysis.Up)
	if err != nil || !up.Deviates() {
		t.Fatalf("a 5x step with the default criteria (1.5x, z 3): deviates %v, err %v\n%s", up.Deviates(), err, up)
	}
	down, err := analysis.Criteria{Ratio: 2}.Deviation(s, w, analysis.Down)
	if err != nil || down.Deviates() {
		t.Fatalf("a rise checked as a fall: deviates %v, err %v", down.Deviates(), err)
	}
	if !strings.Contains(down.String(), "did not fall") || !strings.Contains(down.Missed[0], "ratio 5") {
		t.Errorf("the verdict should say what missed:\n%s", down)
	}
	strict, _ := analysis.Criteria{Ratio: 6, Delta: 0.01}.Deviation(s, w, analysis.Up)
	if strict.Deviates() || len(strict.Missed) != 1 {
		t.Errorf("ratio 6 must miss and delta 0.01 must hold: missed %q", strict.Missed)
	}
}

func TestSettleSkipsTheStartOfTheWindowAndTooFewSamplesIsAnError(t *testing.T) {
	s, w := steps(0.01, 0.01)
	if _, err := (analysis.Criteria{Settle: 19 * time.Second}).Deviation(s, w, analysis.Up); err == nil {
		t.Fatal("one sample left after settling is too few for a verdict, but got one")
	}
	_, near, err := analysis.Criteria{}.Near(s, w, 0.1)
	if err != nil || !near {
		t.Errorf("a flat series should stay near its baseline: %v, %v", near, err)
	}
}
