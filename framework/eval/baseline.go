package eval

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
)

// Baseline is one of RCAEval's metric baselines: it fits a scaler to every
// service metric before the injection time and ranks services by the
// largest scaled value any of their metrics reaches from then on.
//
// As RCAEval's preprocessing does, a metric constant on either side of the
// injection time is left out (so is an error rate that is zero before the
// fault and one throughout it: RCAEval's BARO is blind to it too), gaps are
// filled with the last value and leading gaps with zero, and a scale of
// zero is taken as one (scikit-learn's). Only services' families are read
// (metrics/<family>.csv without edge_*): the candidates are services.
//
// Anomalies: the points from the injection time on where some metric's
// scaled value exceeds Threshold, merged into windows. RCAEval's baselines
// rank only; this detector is the same statistic read as an alarm, so that
// the detection scores have a reference too.
type Baseline struct {
	name string
	// fit returns a metric's centre and scale from its values before the
	// injection time.
	fit func(xs []float64) (center, scale float64)
	// Threshold is the scaled value above which a point is anomalous.
	Threshold float64
}

// NSigma is RCAEval's n-sigma: a standard scaler (mean, population
// standard deviation), alarms above 3.
func NSigma() Baseline { return Baseline{name: "nsigma", fit: meanStd, Threshold: 3} }

// BARO is RCAEval's BARO ranking: a robust scaler (median, interquartile
// range by linear interpolation, as scikit-learn's RobustScaler), alarms
// above 3.
func BARO() Baseline { return Baseline{name: "baro", fit: medianIQR, Threshold: 3} }

// Name implements Method.
func (b Baseline) Name() string { return b.name }

// metric is one service's family over the case.
type metric struct {
	service, family string
	xs              []float64
}

// Analyze implements Method.
func (b Baseline) Analyze(ctx context.Context, in Input) (Answer, error) {
	times, ms, err := readServiceMetrics(filepath.Join(in.Dir, "metrics"))
	if err != nil {
		return Answer{}, err
	}
	split, _ := slices.BinarySearchFunc(times, in.InjectTime, func(t, x time.Time) int { return t.Compare(x) })
	if split == 0 || split == len(times) {
		return Answer{}, fmt.Errorf("injection time %s leaves no data on one side (data %s to %s)",
			in.InjectTime.UTC().Format(time.RFC3339), times[0].UTC().Format(time.RFC3339), times[len(times)-1].UTC().Format(time.RFC3339))
	}
	score := map[string]float64{}
	alarm := make([]bool, len(times))
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			return Answer{}, err
		}
		before, after := m.xs[:split], m.xs[split:]
		if constant(before) || constant(after) {
			continue
		}
		c, s := b.fit(before)
		if s == 0 {
			s = 1
		}
		hi := math.Inf(-1)
		for i, x := range after {
			z := (x - c) / s
			hi = max(hi, z)
			if z > b.Threshold {
				alarm[split+i] = true
			}
		}
		if old, ok := score[m.service]; !ok || hi > old {
			score[m.service] = hi
		}
	}
	a := Answer{HasRanks: true, HasAnomalies: true}
	for svc := range score {
		a.Ranks = append(a.Ranks, svc)
	}
	slices.SortFunc(a.Ranks, func(x, y string) int {
		return cmp.Or(cmp.Compare(score[y], score[x]), strings.Compare(x, y))
	})
	step := time.Second
	if len(times) > 1 {
		step = times[1].Sub(times[0])
	}
	for i := 0; i < len(alarm); i++ {
		if !alarm[i] {
			continue
		}
		j := i
		for j+1 < len(alarm) && alarm[j+1] {
			j++
		}
		a.Anomalies = append(a.Anomalies, Window{Start: times[i], End: times[j].Add(step)})
		i = j
	}
	return a, nil
}

// readServiceMetrics reads every service family of a run's metrics/
// directory onto one time axis, gaps filled forward and leading gaps with
// zero (RCAEval's loader).
func readServiceMetrics(dir string) ([]time.Time, []metric, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read metrics: %w", err)
	}
	var times []time.Time
	var out []metric
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".csv") || strings.HasPrefix(name, "edge_") {
			continue
		}
		t, err := dataset.ReadTable(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		if times == nil {
			times = t.Times
		} else if !slices.EqualFunc(times, t.Times, time.Time.Equal) {
			return nil, nil, fmt.Errorf("read metrics: %s has other timestamps than the families before it", name)
		}
		for j, svc := range t.Columns {
			xs := make([]float64, len(t.Rows))
			last := 0.0
			for i, row := range t.Rows {
				if v := row[j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
					last = v
				}
				xs[i] = last
			}
			out = append(out, metric{service: svc, family: t.Family, xs: xs})
		}
	}
	if len(times) == 0 {
		return nil, nil, fmt.Errorf("read metrics: no service family with data in %s", dir)
	}
	return times, out, nil
}

func constant(xs []float64) bool {
	for _, x := range xs[1:] {
		if x != xs[0] {
			return false
		}
	}
	return true
}

func meanStd(xs []float64) (float64, float64) {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)))
}

func medianIQR(xs []float64) (float64, float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantile(s, 0.5), quantile(s, 0.75) - quantile(s, 0.25)
}

// quantile of sorted s by linear interpolation between closest ranks
// (numpy's default, which scikit-learn's RobustScaler uses).
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}
