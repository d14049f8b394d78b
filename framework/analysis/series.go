package analysis

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Window is a time range, Start included, End excluded, and its name if it
// has one: a fault's applied window, the baseline, a span a detector
// flagged (whose JSON, {"start": ..., "end": ...}, is that of RCAEval's
// answers), a cut of a dataset.
type Window struct {
	Name  string    `json:"name,omitempty"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t is in w.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

func (w Window) String() string {
	return fmt.Sprintf("%s [%s, %s)", w.Name, w.Start.UTC().Format("15:04:05.000"), w.End.UTC().Format("15:04:05.000"))
}

// Series is one service's values of one metric family over a run, with the
// run's baseline window: what the matchers compare.
type Series struct {
	Family, Service string
	Times           []time.Time
	// Values holds NaN where the series had no sample.
	Values   []float64
	Baseline Window
}

// In returns the series' samples inside w, NaNs dropped.
func (s Series) In(w Window) []float64 {
	var out []float64
	for i, t := range s.Times {
		if i < len(s.Values) && !t.Before(w.Start) && t.Before(w.End) && !math.IsNaN(s.Values[i]) {
			out = append(out, s.Values[i])
		}
	}
	return out
}

// Stats are robust statistics of a window of samples.
type Stats struct {
	N      int
	Median float64
	// MAD is the median absolute deviation from the median.
	MAD float64
}

func (st Stats) String() string {
	return fmt.Sprintf("median %.4g (n=%d, MAD %.3g)", st.Median, st.N, st.MAD)
}

// Describe computes the robust statistics of xs.
func Describe(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{Median: math.NaN(), MAD: math.NaN()}
	}
	m := median(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - m)
	}
	return Stats{N: len(xs), Median: m, MAD: median(dev)}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Comparison is a window set against the baseline.
type Comparison struct {
	Series   string
	Baseline Window
	Window   Window
	Base     Stats
	During   Stats
	// Ratio is During.Median / Base.Median, both lifted by Floor so that a
	// metric that is zero at baseline (an error rate) still has a ratio.
	Ratio float64
	// Delta is During.Median - Base.Median.
	Delta float64
	// Z is the robust z-score of During.Median against the baseline:
	// Delta / (1.4826·MAD), with MAD floored so a perfectly flat baseline
	// does not make every wobble infinite.
	Z float64
}

// Compare sets the samples of s inside w against its baseline. floor is the
// smallest meaningful value of the family (e.g. 1e-4 s of latency, 0.01 of
// error rate); it keeps ratios and z-scores finite near zero.
func Compare(s Series, w Window, floor float64) Comparison {
	c := Comparison{
		Series: s.Family + " of " + s.Service, Baseline: s.Baseline, Window: w,
		Base: Describe(s.In(s.Baseline)), During: Describe(s.In(w)),
	}
	floor = math.Max(floor, 1e-12)
	c.Delta = c.During.Median - c.Base.Median
	c.Ratio = (math.Abs(c.During.Median) + floor) / (math.Abs(c.Base.Median) + floor)
	sigma := math.Max(1.4826*c.Base.MAD, floor)
	c.Z = c.Delta / sigma
	return c
}

// Valid reports whether both windows held samples.
func (c Comparison) Valid() bool { return c.Base.N > 0 && c.During.N > 0 }

func (c Comparison) String() string {
	return fmt.Sprintf("%s\n  during   %s: %s\n  baseline %s: %s\n  ratio %.3g, delta %.4g, robust z %.3g",
		c.Series, c.Window, c.During, c.Baseline, c.Base, c.Ratio, c.Delta, c.Z)
}
