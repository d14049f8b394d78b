package matchers_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/matchers"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// series makes 1 Hz samples: base ± noise for 60 s, then level ± noise
// during [60 s, 90 s), then base again until 120 s.
func series(base, level, noise float64) analysis.Series {
	r := rand.New(rand.NewPCG(1, 2))
	s := analysis.Series{Family: "latency_p95", Service: "svc", Baseline: analysis.Window{Name: "baseline", Start: t0.Add(10 * time.Second), End: t0.Add(60 * time.Second)}}
	for i := range 120 {
		v := base
		if i >= 60 && i < 90 {
			v = level
		}
		s.Times = append(s.Times, t0.Add(time.Duration(i)*time.Second))
		s.Values = append(s.Values, v+noise*(2*r.Float64()-1))
	}
	return s
}

var fault = analysis.Window{Name: "db-delay", Start: t0.Add(60 * time.Second), End: t0.Add(90 * time.Second)}

func TestRiseDuring(t *testing.T) {
	g := NewWithT(t)
	g.Expect(series(0.01, 0.4, 0.002)).To(matchers.RiseDuring(fault, matchers.ByAtLeast(2)))
	g.Expect(series(0.01, 0.4, 0.002)).To(matchers.RiseDuring(fault))
	g.Expect(series(0.01, 0.4, 0.002)).To(matchers.RiseDuring(fault, matchers.ByAtLeastAbs(0.3), matchers.WithZ(10)))
	g.Expect(series(0.01, 0.011, 0.002)).NotTo(matchers.RiseDuring(fault, matchers.ByAtLeast(2)))
	g.Expect(series(0.4, 0.01, 0.002)).To(matchers.FallDuring(fault, matchers.ByAtLeast(2)))
	g.Expect(series(0.4, 0.01, 0.002)).NotTo(matchers.RiseDuring(fault))

	m := matchers.RiseDuring(fault, matchers.ByAtLeast(2))
	ok, err := m.Match(series(0.01, 0.011, 0.002))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	msg := m.FailureMessage(nil)
	for _, want := range []string{"latency_p95 of svc", "db-delay", "ratio", "want ≥ 2", "baseline", "during", "median"} {
		g.Expect(msg).To(ContainSubstring(want))
	}
}

func TestSettleSkipsTheLagOfWindowedQueries(t *testing.T) {
	g := NewWithT(t)
	s := series(0.01, 0.4, 0.001)
	// The first 20 s of the fault still read like the baseline, as a
	// quantile over a window would.
	for i := 60; i < 80; i++ {
		s.Values[i] = 0.01
	}
	g.Expect(s).NotTo(matchers.RiseDuring(fault, matchers.ByAtLeast(2)))
	g.Expect(s).To(matchers.RiseDuring(fault, matchers.ByAtLeast(2), matchers.Settle(20*time.Second)))
}

func TestTooFewSamplesIsAnErrorNotAVerdict(t *testing.T) {
	g := NewWithT(t)
	s := series(0.01, 0.4, 0.001)
	for i := range s.Values {
		if i >= 60 {
			s.Values[i] = math.NaN()
		}
	}
	_, err := matchers.RiseDuring(fault).Match(s)
	g.Expect(err).To(MatchError(ContainSubstring("too few samples")))
	_, err = matchers.RiseDuring(fault).Match("not a series")
	g.Expect(err).To(HaveOccurred())
}

func TestStayNearBaseline(t *testing.T) {
	g := NewWithT(t)
	g.Expect(series(0.01, 0.011, 0.001)).To(matchers.StayNearBaseline())
	g.Expect(series(0.01, 0.4, 0.001)).NotTo(matchers.StayNearBaseline(matchers.During(fault)))
	g.Expect(series(0.01, 0.013, 0.0)).NotTo(matchers.StayNearBaseline(matchers.During(fault), matchers.Within(0.2)))
	m := matchers.StayNearBaseline(matchers.During(fault))
	ok, _ := m.Match(series(0.01, 0.4, 0.001))
	g.Expect(ok).To(BeFalse())
	g.Expect(m.FailureMessage(nil)).To(ContainSubstring("outside [0.667, 1.5]"))
}

func TestClassifyHasADeadZone(t *testing.T) {
	th := analysis.DefaultThresholds()
	for _, tc := range []struct {
		level float64
		want  analysis.Trend
	}{{0.1, analysis.Rise}, {0.011, analysis.Flat}, {0.014, analysis.Flat}, {0.025, analysis.Unknown}, {0.003, analysis.Fall}, {0.005, analysis.Unknown}} {
		s := series(0.01, tc.level, 0.0002)
		s.Family = "custom"
		c := analysis.Compare(s, fault, 1e-6)
		if got := th.Classify(c); got != tc.want {
			t.Errorf("level %g: %s, want %s\n%s", tc.level, got, tc.want, c)
		}
	}
}

func TestZeroBaselineStillRises(t *testing.T) {
	s := series(0, 0.5, 0)
	s.Family = "error_rate"
	sig := analysis.ComputeSignature([]analysis.Series{s}, fault, analysis.DefaultThresholds())
	if got := sig.Cells["svc"]["error_rate"].Trend; got != analysis.Rise {
		t.Fatalf("error rate 0 → 0.5 classified %s, want rise", got)
	}
	s = series(0, 0, 0)
	s.Family = "error_rate"
	sig = analysis.ComputeSignature([]analysis.Series{s}, fault, analysis.DefaultThresholds())
	if got := sig.Cells["svc"]["error_rate"].Trend; got != analysis.Flat {
		t.Fatalf("error rate 0 → 0 classified %s, want flat", got)
	}
}

func TestSignatureGoldenFile(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "sig.json")
	mk := func(target, other float64) analysis.Signature {
		a, b := series(0.01, target, 0.0005), series(0.01, other, 0.0005)
		b.Service = "other"
		return analysis.ComputeSignature([]analysis.Series{a, b}, fault, analysis.DefaultThresholds())
	}
	run := mk(0.4, 0.0101)
	_, err := matchers.MatchSignatureFile(path).Match(run)
	g.Expect(err).To(MatchError(ContainSubstring("does not exist")))

	t.Setenv(analysis.UpdateEnv, "1")
	g.Expect(run).To(matchers.MatchSignatureFile(path))
	t.Setenv(analysis.UpdateEnv, "")
	b, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(ContainSubstring(`"rise"`))

	g.Expect(mk(0.5, 0.0099)).To(matchers.MatchSignatureFile(path))
	// A cell in the dead zone is ignored, not a mismatch.
	g.Expect(mk(0.5, 0.025)).To(matchers.MatchSignatureFile(path))

	m := matchers.MatchSignatureFile(path)
	ok, err := m.Match(mk(0.0101, 0.0101))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	msg := m.FailureMessage(nil)
	g.Expect(msg).To(ContainSubstring("svc latency_p95: golden rise, got flat"))
	g.Expect(strings.Count(msg, "golden")).To(BeNumerically(">=", 1))

	g.Expect(os.WriteFile(path, []byte(`{"fault":"x","trends":{"a":{"b":"up"}}}`), 0o644)).To(Succeed())
	_, err = analysis.ReadSignature(path)
	g.Expect(err).To(MatchError(ContainSubstring(`unknown trend "up"`)))
}
