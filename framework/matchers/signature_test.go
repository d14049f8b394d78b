package matchers_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/matchers"
)

// system is a toy of the social system's delay scenario: an ingress delay on
// db slows its callers (api, web) by the delay on top of their own latency,
// while db's server-side latency stays put; other is a separate chain.
var system = map[string]float64{"api": 0.02, "web": 0.05, "db": 0.005, "other": 0.01}

var callers = map[string][]string{"db": {"api", "web"}, "other": {"other"}}

// run simulates one run with a delay on target: 1 Hz latency_p95 samples
// with ±10% noise, the delay (±5% from run to run) added to the target's
// callers during the fault window, and a flat error_rate.
func run(seed uint64, target string, delay float64) analysis.Signature {
	return runOn(seed, target, delay, 1)
}

// runOn is run on a machine busy enough to make every service's own
// latency busy times what it is on the quiet one.
func runOn(seed uint64, target string, delay, busy float64) analysis.Signature {
	r := rand.New(rand.NewPCG(seed, 7))
	d := delay * (0.95 + 0.1*r.Float64())
	var ss []analysis.Series
	for svc, base := range system {
		lat := analysis.Series{Family: "latency_p95", Service: svc, Baseline: analysis.Window{Name: "baseline", Start: t0.Add(10 * time.Second), End: t0.Add(60 * time.Second)}}
		errs := lat
		errs.Family = "error_rate"
		for i := range 120 {
			v := base * busy
			if i >= 60 && i < 90 {
				for _, c := range callers[target] {
					if c == svc {
						v += d
					}
				}
			}
			lat.Times = append(lat.Times, t0.Add(time.Duration(i)*time.Second))
			lat.Values = append(lat.Values, v*(0.9+0.2*r.Float64()))
			errs.Times = lat.Times
			errs.Values = append(errs.Values, 0)
		}
		ss = append(ss, lat, errs)
	}
	sig := analysis.ComputeSignature(ss, fault, analysis.DefaultThresholds())
	return sig
}

// learnGolden learns a golden from runs in a temporary file and reads it
// back.
func learnGolden(t *testing.T, runs ...analysis.Signature) (string, analysis.Golden) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "delay.json")
	learn(t, path, runs...)
	golden, err := analysis.ReadSignature(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, golden
}

// learn writes the golden of runs through the matcher, as a suite run n
// times with VECRO_UPDATE_SIGNATURES=n does.
func learn(t *testing.T, path string, runs ...analysis.Signature) {
	t.Helper()
	t.Setenv(analysis.UpdateEnv, fmt.Sprint(len(runs)))
	for i, sig := range runs {
		m := matchers.MatchSignatureFile(path)
		ok, err := m.Match(sig)
		if err != nil || !ok {
			t.Fatalf("learning run %d: %v, %v", i+1, ok, err)
		}
		_, err = os.Stat(path)
		if last := i == len(runs)-1; last == os.IsNotExist(err) {
			t.Fatalf("after learning run %d of %d: golden exists: %v", i+1, len(runs), err == nil)
		}
	}
	t.Setenv(analysis.UpdateEnv, "")
	if _, err := os.Stat(path + analysis.RunsSuffix); !os.IsNotExist(err) {
		t.Fatalf("the side file of learning runs outlives the golden: %v", err)
	}
}

// learnFullDelay learns a golden from three runs of the full delay on db
// and returns its path and what it holds.
func learnFullDelay(t *testing.T) (string, analysis.Golden) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "delay.json")
	learn(t, path, run(1, "db", 0.4), run(2, "db", 0.4), run(3, "db", 0.4))
	golden, err := analysis.ReadSignature(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, golden
}

// mismatch matches sig against the golden and returns the failure message,
// failing the test if it matches.
func mismatch(t *testing.T, path string, sig analysis.Signature) string {
	t.Helper()
	m := matchers.MatchSignatureFile(path)
	ok, err := m.Match(sig)
	if err != nil {
		t.Fatalf("match: %v", err)
	}
	if ok {
		t.Fatalf("signature of %s matches the golden, want a mismatch: %s", sig.Fault, m.NegatedFailureMessage(nil))
	}
	msg := m.FailureMessage(nil)
	t.Logf("%s", msg)
	return msg
}

func TestSignatureCatchesAWeakerFaultAndTheWrongTarget(t *testing.T) {
	g := NewWithT(t)
	path, golden := learnFullDelay(t)
	g.Expect(golden.Runs).To(Equal(3))
	g.Expect(golden.Trends["api"]["latency_p95"]).To(Equal(analysis.Rise))
	g.Expect(golden.Trends["db"]["latency_p95"]).To(Equal(analysis.Flat))
	g.Expect(golden.Bands["api"]).To(HaveKey("latency_p95"))
	g.Expect(golden.Bands).NotTo(HaveKey("db"))

	for seed := uint64(10); seed < 20; seed++ {
		g.Expect(run(seed, "db", 0.4)).To(matchers.MatchSignatureFile(path), "full strength, seed %d", seed)
	}

	// Every caller still rises, by a quarter (a third) of the delay: only
	// the band tells.
	weak := run(4, "db", 0.1)
	g.Expect(weak.Cells["api"]["latency_p95"].Trend).To(Equal(analysis.Rise))
	msg := mismatch(t, path, weak)
	g.Expect(msg).To(ContainSubstring("api latency_p95: rise by"))
	g.Expect(msg).To(ContainSubstring("weaker than the golden band"))
	g.Expect(mismatch(t, path, run(5, "db", 0.4/3))).To(ContainSubstring("api latency_p95: rise by"))

	// Twice as strong passes: a ratio's size also depends on the machine's
	// baseline, so only the weak side of the band is a regression.
	g.Expect(run(6, "db", 0.8)).To(matchers.MatchSignatureFile(path), "twice as strong")

	msg = mismatch(t, path, run(7, "other", 0.4))
	g.Expect(msg).To(ContainSubstring("api latency_p95: golden rise, got flat"))
	g.Expect(msg).To(ContainSubstring("other latency_p95: golden flat, got rise"))
}

// A busier machine raises the callers' own latency, so the same delay is a
// smaller ratio there: the golden bounds the effect (during − baseline),
// which the delay sets wherever it runs. Learned on a quiet machine, a run
// with every service 1.8× slower still matches (api's ratio falls from
// ~20× to ~12×, under a ratio band's 1.5 slack), and a third of the delay
// on the busy machine is still caught.
func TestGoldenBoundsTheEffectNotTheRatio(t *testing.T) {
	g := NewWithT(t)
	path, golden := learnFullDelay(t)
	b := golden.Bands["api"]["latency_p95"]
	g.Expect(b.EffectMin).To(BeNumerically(">", 0.3))
	g.Expect(b.EffectMax).To(BeNumerically("<", 0.5))

	busy := runOn(8, "db", 0.4, 1.8)
	c := busy.Cells["api"]["latency_p95"]
	g.Expect(c.Ratio).To(BeNumerically("<", b.Min/analysis.BandSlack), "the busy run's ratio is outside the ratio band's slack")
	g.Expect(busy).To(matchers.MatchSignatureFile(path), "the same delay on a busier machine")
	g.Expect(mismatch(t, path, runOn(9, "db", 0.4/3, 1.8))).To(ContainSubstring("weaker than the golden band of effects"))
}

// Learning from runs where one has no effects (a golden of an older file
// merged in) keeps the ratio band and drops the effects; a band of effects
// of both signs is an error in the file.
func TestEffectsAreLearnedOnlyFromRunsThatHaveThem(t *testing.T) {
	g := NewWithT(t)
	withEffects := run(1, "db", 0.4).Golden()
	old := run(2, "db", 0.4).Golden()
	for svc, fams := range old.Bands {
		for f, b := range fams {
			b.EffectMin, b.EffectMax = 0, 0
			old.Bands[svc][f] = b
		}
	}
	learned, err := analysis.Learn([]analysis.Golden{withEffects, old})
	g.Expect(err).NotTo(HaveOccurred())
	b := learned.Bands["api"]["latency_p95"]
	g.Expect(b.Min).To(BeNumerically(">", 3))
	g.Expect(b.EffectMin).To(BeZero())
	g.Expect(b.EffectMax).To(BeZero())

	path := filepath.Join(t.TempDir(), "bad.json")
	g.Expect(os.WriteFile(path, []byte(`{"fault": "f", "trends": {"api": {"latency_p95": "rise"}},
		"bands": {"api": {"latency_p95": {"min": 3, "max": 4, "effect_min": -0.1, "effect_max": 0.2}}}}`), 0o644)).To(Succeed())
	_, err = analysis.ReadSignature(path)
	g.Expect(err).To(MatchError(ContainSubstring("api latency_p95: effects [-0.1, 0.2] are not a range of one sign")))
}

func TestGoldenRiseMustNotHideInTheDeadZone(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "delay.json")
	learn(t, path, run(1, "db", 0.4))

	// A delay so weak that web (base 50 ms) lands between flat and rise.
	sig := run(2, "db", 0.04)
	g.Expect(sig.Cells["web"]["latency_p95"].Trend).To(Equal(analysis.Unknown))
	g.Expect(mismatch(t, path, sig)).To(ContainSubstring("web latency_p95: golden rise, got unknown"))

	// A golden flat cell in the dead zone is noise near a threshold.
	sig = run(3, "db", 0.4)
	c := sig.Cells["other"]["latency_p95"]
	c.Trend = analysis.Unknown
	sig.Cells["other"]["latency_p95"] = c
	g.Expect(sig).To(matchers.MatchSignatureFile(path))

	// A golden rise missing from the run is not confirmed.
	delete(sig.Cells["api"], "latency_p95")
	g.Expect(mismatch(t, path, sig)).To(ContainSubstring("api latency_p95: golden rise, missing from this run"))
}

func TestGoldenUnknownIsNotAsserted(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "delay.json")
	g.Expect(os.WriteFile(path, []byte(`{"fault":"db-delay","trends":{"api":{"latency_p95":"unknown"},"db":{"latency_p95":"flat"}}}`), 0o644)).To(Succeed())
	g.Expect(run(1, "db", 0.4)).To(matchers.MatchSignatureFile(path))
	g.Expect(run(1, "other", 0.4)).To(matchers.MatchSignatureFile(path))
}

func TestGoldenWithoutBandsIsCheckedByTrendOnly(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "old.json")
	// The format before bands, as fixtures/signatures held it.
	g.Expect(os.WriteFile(path, []byte(`{
  "fault": "db-delay",
  "trends": {
    "api": {"error_rate": "flat", "latency_p95": "rise"},
    "db": {"error_rate": "flat", "latency_p95": "flat"}
  }
}`), 0o644)).To(Succeed())
	g.Expect(run(1, "db", 0.4)).To(matchers.MatchSignatureFile(path))
	g.Expect(run(2, "db", 0.1)).To(matchers.MatchSignatureFile(path))
	g.Expect(mismatch(t, path, run(3, "other", 0.4))).To(ContainSubstring("api latency_p95: golden rise, got flat"))
}

func TestLearnDecidesOnlyWhereEveryRunAgrees(t *testing.T) {
	g := NewWithT(t)
	runs := []analysis.Signature{run(1, "db", 0.4), run(2, "db", 0.4), run(3, "db", 0.4)}
	// One run saw web in the dead zone, one lacks db's error rate.
	c := runs[1].Cells["web"]["latency_p95"]
	c.Trend = analysis.Unknown
	runs[1].Cells["web"]["latency_p95"] = c
	delete(runs[2].Cells["db"], "error_rate")

	_, golden := learnGolden(t, runs...)
	g.Expect(golden.Trends["web"]["latency_p95"]).To(Equal(analysis.Unknown))
	g.Expect(golden.Bands["web"]).NotTo(HaveKey("latency_p95"))
	g.Expect(golden.Trends["db"]["error_rate"]).To(Equal(analysis.Unknown))
	g.Expect(golden.Trends["api"]["latency_p95"]).To(Equal(analysis.Rise))

	// The band holds every learning run's ratio, rounded outwards.
	band := golden.Bands["api"]["latency_p95"]
	for _, r := range runs {
		ratio := r.Cells["api"]["latency_p95"].Ratio
		g.Expect(ratio).To(BeNumerically(">=", band.Min))
		g.Expect(ratio).To(BeNumerically("<=", band.Max))
	}

	// A trend that flips between runs is not decided either.
	flip := run(4, "db", 0.4)
	c = flip.Cells["api"]["latency_p95"]
	c.Trend = analysis.Fall
	flip.Cells["api"]["latency_p95"] = c
	learned, err := analysis.Learn([]analysis.Golden{runs[0].Golden(), flip.Golden()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(learned.Trends["api"]["latency_p95"]).To(Equal(analysis.Unknown))
	g.Expect(learned.Runs).To(Equal(2))

	other := run(5, "db", 0.4)
	other.Fault = "another-fault"
	_, err = analysis.Learn([]analysis.Golden{runs[0].Golden(), other.Golden()})
	g.Expect(err).To(MatchError(ContainSubstring(`of fault "another-fault"`)))
}

// A rise that cleared the threshold by less than BandSlack in a learning
// run is left unknown: a slightly busier machine would put it in the dead
// zone and fail the golden although the delay is the same.
func TestLearnLeavesANarrowRiseUnknown(t *testing.T) {
	g := NewWithT(t)
	// 125 ms on web's 50 ms: about 3.5×, over the rise threshold (3) but
	// under 3×BandSlack; on api's 20 ms, about 7×.
	runs := []analysis.Signature{run(1, "db", 0.125), run(2, "db", 0.125)}
	for _, r := range runs {
		c := r.Cells["web"]["latency_p95"]
		g.Expect(c.Trend).To(Equal(analysis.Rise))
		g.Expect(c.Ratio).To(BeNumerically("<", 3*analysis.BandSlack))
	}
	path, golden := learnGolden(t, runs...)
	g.Expect(golden.Trends["web"]["latency_p95"]).To(Equal(analysis.Unknown))
	g.Expect(golden.Bands["web"]).NotTo(HaveKey("latency_p95"))
	g.Expect(golden.Trends["api"]["latency_p95"]).To(Equal(analysis.Rise))

	// The same delay on a machine that makes every service 1.5× slower:
	// web's ratio drops under the rise threshold (about 2.7×), the golden
	// still holds.
	busy := runOn(3, "db", 0.125, 1.5)
	g.Expect(busy.Cells["web"]["latency_p95"].Trend).NotTo(Equal(analysis.Rise))
	g.Expect(busy).To(matchers.MatchSignatureFile(path))
}

func TestLearningRefusesRunsOfAnotherSession(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "delay.json")
	// A leftover of an interrupted session with N=3 must not count as one
	// of the two runs of a session with N=2.
	t.Setenv(analysis.UpdateEnv, "3")
	g.Expect(run(9, "other", 0.4)).To(matchers.MatchSignatureFile(path))
	t.Setenv(analysis.UpdateEnv, "2")
	_, err := matchers.MatchSignatureFile(path).Match(run(1, "db", 0.4))
	g.Expect(err).To(MatchError(ContainSubstring("remove the file to start over")))
	g.Expect(os.Remove(path + analysis.RunsSuffix)).To(Succeed())
	learn(t, path, run(1, "db", 0.4), run(2, "db", 0.4))
	golden, err := analysis.ReadSignature(path)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(golden.Runs).To(Equal(2))
	g.Expect(golden.Trends["api"]["latency_p95"]).To(Equal(analysis.Rise))
}

func TestBadUpdateValueAndBadBandsAreErrors(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "delay.json")
	t.Setenv(analysis.UpdateEnv, "yes")
	_, err := matchers.MatchSignatureFile(path).Match(run(1, "db", 0.4))
	g.Expect(err).To(MatchError(ContainSubstring("want the number of runs")))
	t.Setenv(analysis.UpdateEnv, "")

	g.Expect(os.WriteFile(path, []byte(`{"fault":"x","trends":{"a":{"b":"rise"}},"bands":{"a":{"b":{"min":3,"max":2}}}}`), 0o644)).To(Succeed())
	_, err = analysis.ReadSignature(path)
	g.Expect(err).To(MatchError(ContainSubstring("not a range of positive ratios")))
}
