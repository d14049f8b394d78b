package matchers

import (
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"
)

// Option sets a criterion of RiseDuring, FallDuring or StayNearBaseline.
type Option func(*criteria)

type criteria struct {
	ratio, delta, z, tol float64
	settle               time.Duration
	floor                float64
	minSamples           int
	window               *Window
}

// ByAtLeast asks the window's median to differ from the baseline's by a
// factor: ≥ r times it for a rise, ≤ 1/r times it for a fall.
func ByAtLeast(r float64) Option { return func(c *criteria) { c.ratio = r } }

// ByAtLeastAbs asks the medians to differ by at least d (in the family's unit).
func ByAtLeastAbs(d float64) Option { return func(c *criteria) { c.delta = d } }

// WithZ asks for a robust z-score of at least z (median/MAD of the baseline).
func WithZ(z float64) Option { return func(c *criteria) { c.z = z } }

// Settle skips the first d of the window: a windowed query (rate over 10 s,
// a quantile over 1 m) needs that long to show the change in full.
func Settle(d time.Duration) Option { return func(c *criteria) { c.settle = d } }

// Floor is the smallest meaningful value of the family (see Compare).
func Floor(x float64) Option { return func(c *criteria) { c.floor = x } }

// MinSamples is how many samples each window needs for a verdict (default 3).
func MinSamples(n int) Option { return func(c *criteria) { c.minSamples = n } }

// Within is StayNearBaseline's tolerance: the medians' ratio must lie in
// [1/(1+tol), 1+tol] (default 0.5).
func Within(tol float64) Option { return func(c *criteria) { c.tol = tol } }

// During narrows StayNearBaseline to w (default: from the end of the baseline
// to the end of the series).
func During(w Window) Option { return func(c *criteria) { c.window = &w } }

func build(opts []Option) criteria {
	c := criteria{minSamples: 3}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// report is filled by a match function and read by the message template,
// which gcustom renders after the match.
type report struct{ text string }

func (r *report) Text() string { return r.text }

const messageTemplate = "{{.Data.Text}}"

// RiseDuring succeeds when the series' median during w rises against the
// baseline by every criterion given; with none, by a ratio of 1.5 and a
// robust z-score of 3.
func RiseDuring(w Window, opts ...Option) types.GomegaMatcher {
	return deviation(w, +1, opts)
}

// FallDuring is RiseDuring downwards: ratio ≤ 1/r, delta ≤ -d, z ≤ -z.
func FallDuring(w Window, opts ...Option) types.GomegaMatcher {
	return deviation(w, -1, opts)
}

func deviation(w Window, sign float64, opts []Option) types.GomegaMatcher {
	c := build(opts)
	if c.ratio == 0 && c.delta == 0 && c.z == 0 {
		c.ratio, c.z = 1.5, 3
	}
	verb := "rise"
	if sign < 0 {
		verb = "fall"
	}
	rep := &report{}
	return gcustom.MakeMatcher(func(s Series) (bool, error) {
		win := Window{Name: w.Name, Start: w.Start.Add(c.settle), End: w.End}
		cmp := Compare(s, win, c.floor)
		if cmp.Base.N < c.minSamples || cmp.During.N < c.minSamples {
			return false, fmt.Errorf("%s: too few samples for a verdict (want %d in each window)\n%s", cmp.Series, c.minSamples, cmp)
		}
		var failed []string
		if c.ratio > 0 {
			if (sign > 0 && cmp.Ratio < c.ratio) || (sign < 0 && cmp.Ratio > 1/c.ratio) {
				failed = append(failed, fmt.Sprintf("ratio %.3g, want %s %.3g", cmp.Ratio, cmpWord(sign), ratioBound(sign, c.ratio)))
			}
		}
		if c.delta > 0 && sign*cmp.Delta < c.delta {
			failed = append(failed, fmt.Sprintf("delta %.4g, want %s %.4g", cmp.Delta, cmpWord(sign), sign*c.delta))
		}
		if c.z > 0 && sign*cmp.Z < c.z {
			failed = append(failed, fmt.Sprintf("robust z %.3g, want %s %.3g", cmp.Z, cmpWord(sign), sign*c.z))
		}
		if len(failed) > 0 {
			rep.text = fmt.Sprintf("expected %s to %s during %s: %s\n%s", cmp.Series, verb, w.Name, strings.Join(failed, "; "), cmp)
			return false, nil
		}
		rep.text = fmt.Sprintf("expected %s not to %s during %s, but it did\n%s", cmp.Series, verb, w.Name, cmp)
		return true, nil
	}).WithTemplate(messageTemplate, rep)
}

func cmpWord(sign float64) string {
	if sign > 0 {
		return "≥"
	}
	return "≤"
}

func ratioBound(sign, r float64) float64 {
	if sign > 0 {
		return r
	}
	return 1 / r
}

// StayNearBaseline succeeds when the series' median after the baseline (or
// During a window) stays within a ratio tolerance of the baseline median: a
// service the fault should not reach.
func StayNearBaseline(opts ...Option) types.GomegaMatcher {
	c := build(opts)
	if c.tol == 0 {
		c.tol = 0.5
	}
	rep := &report{}
	return gcustom.MakeMatcher(func(s Series) (bool, error) {
		w := Window{Name: "after baseline", Start: s.Baseline.End, End: time.Unix(1<<40, 0)}
		if c.window != nil {
			w = *c.window
		}
		w.Start = w.Start.Add(c.settle)
		cmp := Compare(s, w, c.floor)
		if cmp.Base.N < c.minSamples || cmp.During.N < c.minSamples {
			return false, fmt.Errorf("%s: too few samples for a verdict (want %d in each window)\n%s", cmp.Series, c.minSamples, cmp)
		}
		lo, hi := 1/(1+c.tol), 1+c.tol
		if cmp.Ratio < lo || cmp.Ratio > hi {
			rep.text = fmt.Sprintf("expected %s to stay near its baseline: ratio %.3g outside [%.3g, %.3g]\n%s", cmp.Series, cmp.Ratio, lo, hi, cmp)
			return false, nil
		}
		rep.text = fmt.Sprintf("expected %s to leave its baseline, but ratio %.3g is inside [%.3g, %.3g]\n%s", cmp.Series, cmp.Ratio, lo, hi, cmp)
		return true, nil
	}).WithTemplate(messageTemplate, rep)
}
