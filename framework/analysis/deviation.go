package analysis

import (
	"fmt"
	"strings"
	"time"
)

// Direction is which way a deviation is asked for.
type Direction int

// Directions of a deviation.
const (
	Up   Direction = +1
	Down Direction = -1
)

// String is the verb: rise or fall.
func (d Direction) String() string {
	if d == Down {
		return "fall"
	}
	return "rise"
}

// Criteria decide whether a window of a series deviates from its baseline.
// A zero criterion is not asked; with none, Deviation asks for a ratio of
// 1.5 and a robust z-score of 3.
type Criteria struct {
	// Ratio: the window's median is ≥ Ratio times the baseline's for a
	// rise, ≤ 1/Ratio times it for a fall.
	Ratio float64
	// Delta: the medians differ by at least Delta, in the family's unit.
	Delta float64
	// Z: the robust z-score (see Comparison) is at least Z.
	Z float64
	// Settle skips the start of the window: a windowed query (a rate over
	// 10 s, a quantile over 1 m) needs that long to show a change in full.
	Settle time.Duration
	// Floor is the family's smallest meaningful value (see Compare).
	Floor float64
	// MinSamples is how many samples each window needs for a verdict
	// (0: 3).
	MinSamples int
}

// Verdict is the outcome of a deviation check: the comparison behind it,
// and the criteria it missed (none: it deviates).
type Verdict struct {
	Comparison
	Direction Direction
	Missed    []string
}

// Deviates reports whether no criterion was missed.
func (v Verdict) Deviates() bool { return len(v.Missed) == 0 }

// Deviation checks w of s against the baseline by every criterion of c in
// direction d. Too few samples in either window is an error, not a verdict.
func (c Criteria) Deviation(s Series, w Window, d Direction) (Verdict, error) {
	if c.Ratio == 0 && c.Delta == 0 && c.Z == 0 {
		c.Ratio, c.Z = 1.5, 3
	}
	cmp, err := c.compare(s, Window{Name: w.Name, Start: w.Start.Add(c.Settle), End: w.End})
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Comparison: cmp, Direction: d}
	sign := float64(d)
	word, bound := "≥", c.Ratio
	if d == Down {
		word, bound = "≤", 1/c.Ratio
	}
	if c.Ratio > 0 && ((d == Up && cmp.Ratio < c.Ratio) || (d == Down && cmp.Ratio > 1/c.Ratio)) {
		v.Missed = append(v.Missed, fmt.Sprintf("ratio %.3g, want %s %.3g", cmp.Ratio, word, bound))
	}
	if c.Delta > 0 && sign*cmp.Delta < c.Delta {
		v.Missed = append(v.Missed, fmt.Sprintf("delta %.4g, want %s %.4g", cmp.Delta, word, sign*c.Delta))
	}
	if c.Z > 0 && sign*cmp.Z < c.Z {
		v.Missed = append(v.Missed, fmt.Sprintf("robust z %.3g, want %s %.3g", cmp.Z, word, sign*c.Z))
	}
	return v, nil
}

// Near checks that the median of s in w (after Settle) stays within a
// ratio tolerance of the baseline's: in [1/(1+tol), 1+tol]. It returns the
// comparison and whether it held; too few samples is an error.
func (c Criteria) Near(s Series, w Window, tol float64) (Comparison, bool, error) {
	w.Start = w.Start.Add(c.Settle)
	cmp, err := c.compare(s, w)
	if err != nil {
		return cmp, false, err
	}
	lo, hi := 1/(1+tol), 1+tol
	return cmp, cmp.Ratio >= lo && cmp.Ratio <= hi, nil
}

func (c Criteria) compare(s Series, w Window) (Comparison, error) {
	minSamples := c.MinSamples
	if minSamples == 0 {
		minSamples = 3
	}
	cmp := Compare(s, w, c.Floor)
	if cmp.Base.N < minSamples || cmp.During.N < minSamples {
		return cmp, fmt.Errorf("%s: too few samples for a verdict (want %d in each window)\n%s", cmp.Series, minSamples, cmp)
	}
	return cmp, nil
}

// String says what the verdict found, in words fit for a test failure.
func (v Verdict) String() string {
	if v.Deviates() {
		return fmt.Sprintf("%s did %s during %s\n%s", v.Series, v.Direction, v.Window.Name, v.Comparison)
	}
	return fmt.Sprintf("%s did not %s during %s: %s\n%s", v.Series, v.Direction, v.Window.Name, strings.Join(v.Missed, "; "), v.Comparison)
}
