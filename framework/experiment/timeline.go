package experiment

import (
	"fmt"
	"time"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/spec"
)

// Phases are the parts of an experiment's timeline around its faults. All
// times are offsets from t0, the moment load starts.
type Phases struct {
	// WarmUp runs load before anything counts, so that connection pools,
	// caches and the metrics' windowed queries settle. Default 10s.
	WarmUp time.Duration `json:"warm_up"`
	// Baseline is the baseline's length when there are no faults. With
	// faults the baseline runs from the end of warm-up to the first fault.
	// Default 30s.
	Baseline time.Duration `json:"baseline"`
	// Recovery runs load on after the last fault ends. Default 20s.
	Recovery time.Duration `json:"recovery"`
}

// DefaultPhases suit a test scenario: seconds, not the dataset's minutes.
var DefaultPhases = Phases{WarmUp: 10 * time.Second, Baseline: 30 * time.Second, Recovery: 20 * time.Second}

func (p Phases) withDefaults() Phases {
	if p.WarmUp <= 0 {
		p.WarmUp = DefaultPhases.WarmUp
	}
	if p.Baseline <= 0 {
		p.Baseline = DefaultPhases.Baseline
	}
	if p.Recovery <= 0 {
		p.Recovery = DefaultPhases.Recovery
	}
	return p
}

// Timeline is an experiment placed in time.
type Timeline struct {
	T0 time.Time
	// Baseline is [t0 + warm-up, first fault start).
	Baseline analysis.Window
	// Faults are the planned windows by fault name, in start order.
	Faults []analysis.Window
	// End is when load stops: the last fault's end plus recovery.
	End time.Time
}

// NewTimeline places phases and the faults of ff (nil for none) from t0.
// The baseline must hold at least minBaseline, or assertions against it
// would compare with noise.
func NewTimeline(t0 time.Time, p Phases, ff *spec.FaultFile, minBaseline time.Duration) (Timeline, error) {
	p = p.withDefaults()
	tl := Timeline{T0: t0}
	bStart := t0.Add(p.WarmUp)
	bEnd := bStart.Add(p.Baseline)
	end := bEnd.Add(p.Recovery)
	if ff != nil && len(ff.Faults) > 0 {
		first, last := ff.Faults[0], ff.Faults[0]
		for _, f := range ff.Faults {
			s, e := f.Start.D(), f.Start.D()+f.Duration.D()
			if s < first.Start.D() {
				first = f
			}
			if e > last.Start.D()+last.Duration.D() {
				last = f
			}
			tl.Faults = append(tl.Faults, analysis.Window{Name: f.Name, Start: t0.Add(s), End: t0.Add(e)})
		}
		bEnd = t0.Add(first.Start.D())
		end = t0.Add(last.Start.D() + last.Duration.D() + p.Recovery)
		if got := bEnd.Sub(bStart); got < minBaseline {
			return tl, fmt.Errorf("fault %q starts at %v: after a warm-up of %v that leaves a baseline of %v, less than the %v the assertions need; start it at %v or later, or shorten the warm-up",
				first.Name, first.Start.D(), p.WarmUp, max(got, 0), minBaseline, p.WarmUp+minBaseline)
		}
	}
	sortWindows(tl.Faults)
	tl.Baseline = analysis.Window{Name: "baseline", Start: bStart, End: bEnd}
	tl.End = end
	return tl, nil
}

func sortWindows(ws []analysis.Window) {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].Start.Before(ws[j-1].Start); j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}

// Duration is how long load runs.
func (tl Timeline) Duration() time.Duration { return tl.End.Sub(tl.T0) }

// Phase names where t falls, for a progress line.
func (tl Timeline) Phase(t time.Time) string {
	switch {
	case t.Before(tl.Baseline.Start):
		return "warm-up"
	case t.Before(tl.Baseline.End):
		return "baseline"
	}
	for _, f := range tl.Faults {
		if !t.Before(f.Start) && t.Before(f.End) {
			return "fault " + f.Name
		}
	}
	if t.Before(tl.End) {
		if len(tl.Faults) > 0 && t.Before(tl.Faults[len(tl.Faults)-1].End) {
			return "between faults"
		}
		return "recovery"
	}
	return "done"
}
