package matchers

import (
	"fmt"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/vecrosim/vecro/framework/eval"
)

// HaveAvgAt5 succeeds when a method's Avg@5 satisfies m, so that a
// detector's CI can gate on a freshly generated corpus:
//
//	Expect(report).To(HaveAvgAt5(BeNumerically(">=", 0.8)))
//
// The actual value is an *eval.Report (its scores over all cases) or an
// eval.Group (one behaviour's, from Report.Group).
func HaveAvgAt5(m types.GomegaMatcher) types.GomegaMatcher {
	return gomega.WithTransform(func(actual any) (float64, error) {
		g, err := scoreGroup(actual)
		if err != nil {
			return 0, err
		}
		return g.Ranking.Avg(eval.TopK), nil
	}, m)
}

// HaveACAt succeeds when a method's AC@k satisfies m (1 ≤ k ≤ 5); the
// actual value as HaveAvgAt5's.
func HaveACAt(k int, m types.GomegaMatcher) types.GomegaMatcher {
	return gomega.WithTransform(func(actual any) (float64, error) {
		if k < 1 || k > eval.TopK {
			return 0, fmt.Errorf("HaveACAt(%d): k must be 1 to %d", k, eval.TopK)
		}
		g, err := scoreGroup(actual)
		if err != nil {
			return 0, err
		}
		return g.Ranking.AC(k), nil
	}, m)
}

// BeatChanceBy succeeds when a method's Avg@5 exceeds what a random ranking
// of the same cases reaches by at least margin: a gate that does not move
// when the corpus's number of services does.
func BeatChanceBy(margin float64) types.GomegaMatcher {
	return gomega.WithTransform(func(actual any) (float64, error) {
		g, err := scoreGroup(actual)
		if err != nil {
			return 0, err
		}
		return g.Ranking.Avg(eval.TopK) - g.Ranking.Chance(eval.TopK), nil
	}, gomega.BeNumerically(">=", margin))
}

func scoreGroup(actual any) (eval.Group, error) {
	switch a := actual.(type) {
	case *eval.Report:
		if a == nil {
			return eval.Group{}, fmt.Errorf("nil *eval.Report")
		}
		if a.Oracle {
			return eval.Group{}, fmt.Errorf("%s was given the ground truth ({labels}): its scores test the scorer, not a method", a.Method)
		}
		g := a.Group(eval.All)
		if g == nil || g.Ranking.Cases == 0 {
			return eval.Group{}, fmt.Errorf("%s scored no case", a.Method)
		}
		return *g, nil
	case eval.Group:
		return a, nil
	case *eval.Group:
		if a == nil {
			return eval.Group{}, fmt.Errorf("nil *eval.Group: no case had that behaviour")
		}
		return *a, nil
	}
	return eval.Group{}, fmt.Errorf("want an *eval.Report or eval.Group, got %T", actual)
}
