package matchers_test

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/eval"
	"github.com/vecrosim/vecro/framework/matchers"
)

func report(method string, oracle bool, ranks [][]string) *eval.Report {
	r := &eval.Report{Method: method, Oracle: oracle}
	var g eval.Group
	g.Behavior = eval.All
	for _, rk := range ranks {
		g.Ranking.Add(rk, []string{"a"}, 10)
	}
	r.Groups = []eval.Group{g}
	return r
}

func TestDetectorMatchers(t *testing.T) {
	g := NewWithT(t)
	// AC@1..5 = 0.5, 0.5, 1, 1, 1: Avg@5 0.8, chance 0.3.
	good := report("m", false, [][]string{{"a"}, {"b", "c", "a"}})
	g.Expect(good).To(matchers.HaveAvgAt5(BeNumerically("~", 0.8, 1e-9)))
	g.Expect(good).To(matchers.HaveACAt(1, Equal(0.5)))
	g.Expect(good).To(matchers.HaveACAt(3, Equal(1.0)))
	g.Expect(good).To(matchers.BeatChanceBy(0.5))
	g.Expect(good).NotTo(matchers.BeatChanceBy(0.6))
	g.Expect(good.Group(eval.All)).To(matchers.HaveAvgAt5(BeNumerically(">", 0.7)))
	g.Expect(good).NotTo(matchers.HaveAvgAt5(BeNumerically(">=", 0.9)))

	// Misuse is a failure with a reason, never a pass.
	for _, actual := range []any{
		report("oracle", true, [][]string{{"a"}}),
		report("empty", false, nil),
		(*eval.Group)(nil),
		"not a report",
	} {
		ok, err := matchers.HaveAvgAt5(BeNumerically(">=", 0)).Match(actual)
		g.Expect(ok).To(BeFalse())
		g.Expect(err).To(HaveOccurred(), "%v", actual)
	}
	_, err := matchers.HaveACAt(6, BeNumerically(">=", 0)).Match(good)
	g.Expect(err).To(MatchError(ContainSubstring("k must be 1 to 5")))
}
