package faultagent

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/behavior"
)

// ksStatistic is the Kolmogorov–Smirnov distance between the sample and a
// continuous CDF.
func ksStatistic(sample []float64, cdf func(float64) float64) float64 {
	xs := slices.Clone(sample)
	slices.Sort(xs)
	n := float64(len(xs))
	var d float64
	for i, x := range xs {
		f := cdf(x)
		d = max(d, f-float64(i)/n, float64(i+1)/n-f)
	}
	return d
}

// ksCritical01 is the asymptotic KS critical value at α = 0.01.
func ksCritical01(n int) float64 { return 1.628 / math.Sqrt(float64(n)) }

func uniformCDF(mean, jitter float64) func(float64) float64 {
	lo, hi := mean-jitter, mean+jitter
	return func(x float64) float64 { return min(max((x-lo)/(hi-lo), 0), 1) }
}

func normalCDF(mean, sd float64) func(float64) float64 {
	return func(x float64) float64 { return 0.5 * math.Erfc(-(x-mean)/(sd*math.Sqrt2)) }
}

// TestDrawDelayDistribution checks the draws against their distribution
// with a Kolmogorov–Smirnov test. Draws are a function of the seed, so the
// outcome is fixed per seed; several seeds guard against one lucky stream.
func TestDrawDelayDistribution(t *testing.T) {
	const n = 2000
	cases := []struct {
		dist         string
		mean, jitter time.Duration
		cdf          func(float64) float64
	}{
		{distUniform, 300 * time.Millisecond, 50 * time.Millisecond, uniformCDF(300e6, 50e6)},
		{distUniform, 400 * time.Millisecond, 150 * time.Millisecond, uniformCDF(400e6, 150e6)},
		{distNormal, 300 * time.Millisecond, 50 * time.Millisecond, normalCDF(300e6, 50e6)},
	}
	for _, c := range cases {
		for seed := range uint64(5) {
			r := rand.New(rand.NewPCG(seed, 99))
			xs := make([]float64, n)
			for i := range xs {
				d := drawDelay(r, c.mean, c.jitter, c.dist)
				if c.dist == distUniform && (d < c.mean-c.jitter || d > c.mean+c.jitter) {
					t.Fatalf("%s %s±%s: draw %s out of range", c.dist, c.mean, c.jitter, d)
				}
				xs[i] = float64(d)
			}
			d := ksStatistic(xs, c.cdf)
			if crit := ksCritical01(n); d >= crit {
				t.Errorf("%s %s±%s seed %d: KS D = %.4f ≥ %.4f (α = 0.01)", c.dist, c.mean, c.jitter, seed, d, crit)
			}
		}
	}
	// The KS test must be able to fail: normal draws are not uniform.
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(drawDelay(r, 300*time.Millisecond, 50*time.Millisecond, distNormal))
	}
	if d := ksStatistic(xs, uniformCDF(300e6, 50e6)); d < ksCritical01(n) {
		t.Errorf("KS does not tell normal draws from uniform: D = %.4f", d)
	}
}

// TestDrawDelaySeeded checks that draws are a function of the seed.
func TestDrawDelaySeeded(t *testing.T) {
	draw := func(seed uint64) []time.Duration {
		r := rand.New(rand.NewPCG(seed, 3))
		out := make([]time.Duration, 50)
		for i := range out {
			out[i] = drawDelay(r, 300*time.Millisecond, 50*time.Millisecond, distUniform)
		}
		return out
	}
	if !slices.Equal(draw(1), draw(1)) {
		t.Error("same seed, different draws")
	}
	if slices.Equal(draw(1), draw(2)) {
		t.Error("different seeds, same draws")
	}
}

func TestDrawDelayClampsAtZero(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		if d := drawDelay(r, 10*time.Millisecond, 50*time.Millisecond, distNormal); d < 0 {
			t.Fatalf("negative delay %s", d)
		}
	}
}

// TestSpecListsImplemented keeps the agent and the definition format in
// step: every method and distribution that Validate (and so spec) accepts is
// implemented here.
func TestSpecListsImplemented(t *testing.T) {
	for _, m := range behavior.CPUMethods {
		if _, ok := cpuKernels[m]; !ok {
			t.Errorf("spec accepts cpu-stress method %q, the agent has no kernel for it", m)
		}
	}
	for _, m := range behavior.IOMethods {
		if _, ok := ioMethods[m]; !ok {
			t.Errorf("spec accepts io-stress method %q, the agent does not implement it", m)
		}
	}
	for _, d := range behavior.Distributions {
		if d != distUniform && d != distNormal {
			t.Errorf("spec accepts distribution %q, the agent does not implement it", d)
		}
	}
}
