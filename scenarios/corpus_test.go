package scenarios

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/campaign"
	"github.com/vecrosim/vecro/framework/eval"
	m "github.com/vecrosim/vecro/framework/matchers"
)

// The corpus scenario: a detector's CI in miniature. It generates the small
// social corpus (fixtures/campaigns/social-small.yaml: delay, loss and CPU
// stress × three targets × two repetitions, 18 cases of 70 s, about 25
// minutes) and gates RCAEval's two metric baselines on it. Labelled corpus
// and left out of make test for its length; make test-corpus runs it.
//
// The bands come from a measured run (see corpusLift below) and hold a
// margin of about two standard deviations of a mean of per-case scores:
// a case's Avg@5 is one of 0, .2, …, 1, so its standard deviation is at
// most 0.5, and a mean over n cases moves by 0.5/√n from run to run (0.12
// over all 18 cases, 0.20 over one behaviour's 6).
var _ = Describe("the small social corpus", Ordered, Label("corpus", "runtime:local"), func() {
	var (
		sum  campaign.Summary
		reps []*eval.Report
	)
	BeforeAll(func(ctx SpecContext) {
		if suiteRuntime != nil {
			Skip("the corpus scenario runs on the embedded runtime (vecro campaign --runtime kube is the cluster's)")
		}
		plan, err := campaign.LoadFile("../fixtures/campaigns/social-small.yaml")
		Expect(err).NotTo(HaveOccurred())
		arts := os.Getenv("ARTIFACTS_DIR")
		if arts == "" {
			arts = "artifacts"
		}
		sum, err = campaign.Run(ctx, plan, arts, campaign.Options{Progress: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("corpus", sum.Dir)
		cases, err := eval.LoadCorpus(sum.Dir)
		Expect(err).NotTo(HaveOccurred())
		reps, err = eval.Evaluate(ctx, cases, []eval.Method{eval.NSigma(), eval.BARO()}, eval.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(eval.WriteTable(GinkgoWriter, reps...)).To(Succeed())
		f, err := os.Create(filepath.Join(sum.Dir, "eval.csv"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		Expect(eval.WriteCSV(f, reps...)).To(Succeed())
	}, NodeTimeout(60*time.Minute))

	It("completes every case with its fault applied", func() {
		Expect(sum.Failed).To(BeZero(), "%v", sum.Failures)
		Expect(sum.Complete + sum.Kept).To(Equal(18))
		for _, r := range reps {
			Expect(r.Group(eval.All).Ranking.Cases).To(Equal(18), r.Method)
		}
	})
	It("ranks the root cause above chance with both baselines", func() {
		for _, r := range reps {
			Expect(r).To(m.BeatChanceBy(corpusLift), r.Method)
		}
	})
	It("finds the CPU-stressed service at the top, and misses the ingress faults' targets as measured", func() {
		for _, r := range reps {
			Expect(r.Group("cpu-stress")).To(m.HaveAvgAt5(BeNumerically(">=", corpusCPU)), r.Method)
			// An ingress delay or loss slows the target's callers, not
			// the target's own server-side latency (its p95 stays at
			// 0.97× in the delay scenario): metric baselines rank the
			// callers first. A score above the band means what the
			// metrics see of such a fault changed.
			for _, b := range []string{"net-delay", "net-loss"} {
				Expect(r.Group(b)).To(m.HaveAvgAt5(BeNumerically("<=", corpusIngressMax)), r.Method+" "+b)
			}
		}
	})
})

// The bands, from the run of 2026-12-06 (vecro campaign
// fixtures/campaigns/social-small.yaml, then vecro eval … --method nsigma
// --method baro): Avg@5 over all 18 cases 0.42 (nsigma) and 0.38 (baro)
// against a chance of 0.12, so lifts of 0.30 and 0.26; cpu-stress 1.00
// and 0.90; net-delay 0.27 and 0.23; net-loss 0 and 0. Margins: the lift
// gate 0.10 is about 1.5 standard errors below the lower measured lift
// (per-case scores there spread with a standard deviation of 0.45, so
// 0.11 over 18 cases); a cpu-stress case scores 0.8 or 1 (the target
// first or second), so 0.7 is below any mix of those; the ingress faults'
// cases scored 0 or 0.6–0.8, and 0.6 over six cases is three of them found
// near the top, about two standard errors (0.17) above both measured means.
const (
	corpusLift       = 0.10
	corpusCPU        = 0.70
	corpusIngressMax = 0.60
)
