package matchers

import (
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"

	"github.com/vecrosim/vecro/framework/analysis"
)

// Series and Window are the analysis package's: aliases, so that a suite
// reading results through matchers needs no second import.
type (
	Series = analysis.Series
	Window = analysis.Window
)

// Option sets a criterion of RiseDuring, FallDuring or StayNearBaseline.
type Option func(*criteria)

type criteria struct {
	analysis.Criteria
	tol    float64
	window *Window
}

// ByAtLeast asks the window's median to differ from the baseline's by a
// factor: ≥ r times it for a rise, ≤ 1/r times it for a fall.
func ByAtLeast(r float64) Option { return func(c *criteria) { c.Ratio = r } }

// ByAtLeastAbs asks the medians to differ by at least d (in the family's unit).
func ByAtLeastAbs(d float64) Option { return func(c *criteria) { c.Delta = d } }

// WithZ asks for a robust z-score of at least z (median/MAD of the baseline).
func WithZ(z float64) Option { return func(c *criteria) { c.Z = z } }

// Settle skips the first d of the window: a windowed query (rate over 10 s,
// a quantile over 1 m) needs that long to show the change in full.
func Settle(d time.Duration) Option { return func(c *criteria) { c.Settle = d } }

// Floor is the smallest meaningful value of the family (see analysis.Compare).
func Floor(x float64) Option { return func(c *criteria) { c.Floor = x } }

// MinSamples is how many samples each window needs for a verdict (default 3).
func MinSamples(n int) Option { return func(c *criteria) { c.MinSamples = n } }

// Within is StayNearBaseline's tolerance: the medians' ratio must lie in
// [1/(1+tol), 1+tol] (default 0.5).
func Within(tol float64) Option { return func(c *criteria) { c.tol = tol } }

// During narrows StayNearBaseline to w (default: from the end of the baseline
// to the end of the series).
func During(w Window) Option { return func(c *criteria) { c.window = &w } }

func build(opts []Option) criteria {
	var c criteria
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
	return deviation(w, analysis.Up, opts)
}

// FallDuring is RiseDuring downwards: ratio ≤ 1/r, delta ≤ -d, z ≤ -z.
func FallDuring(w Window, opts ...Option) types.GomegaMatcher {
	return deviation(w, analysis.Down, opts)
}

func deviation(w Window, d analysis.Direction, opts []Option) types.GomegaMatcher {
	c := build(opts)
	rep := &report{}
	return gcustom.MakeMatcher(func(s Series) (bool, error) {
		v, err := c.Deviation(s, w, d)
		if err != nil {
			return false, err
		}
		if v.Deviates() {
			rep.text = fmt.Sprintf("expected %s not to %s during %s, but it did\n%s", v.Series, d, w.Name, v.Comparison)
		} else {
			rep.text = fmt.Sprintf("expected %s to %s during %s: %s\n%s", v.Series, d, w.Name, strings.Join(v.Missed, "; "), v.Comparison)
		}
		return v.Deviates(), nil
	}).WithTemplate(messageTemplate, rep)
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
		cmp, ok, err := c.Near(s, w, c.tol)
		if err != nil {
			return false, err
		}
		lo, hi := 1/(1+c.tol), 1+c.tol
		if !ok {
			rep.text = fmt.Sprintf("expected %s to stay near its baseline: ratio %.3g outside [%.3g, %.3g]\n%s", cmp.Series, cmp.Ratio, lo, hi, cmp)
			return false, nil
		}
		rep.text = fmt.Sprintf("expected %s to leave its baseline, but ratio %.3g is inside [%.3g, %.3g]\n%s", cmp.Series, cmp.Ratio, lo, hi, cmp)
		return true, nil
	}).WithTemplate(messageTemplate, rep)
}
