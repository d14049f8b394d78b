package eval

import (
	"slices"
	"time"
)

// TopK is the deepest k the ranking scores report (AC@1..AC@5, Avg@5).
const TopK = 5

// Ranking accumulates root-cause ranking scores over cases.
type Ranking struct {
	// Cases counts the cases added.
	Cases int
	hits  [TopK]float64
	luck  [TopK]float64
}

// Add scores one case: ranks is the method's answer (a service counted at
// its first place), answers the case's root causes, candidates how many
// services the case had to choose from.
func (r *Ranking) Add(ranks, answers []string, candidates int) {
	r.Cases++
	if len(answers) == 0 {
		return
	}
	top := dedup(ranks)
	for k := 1; k <= TopK; k++ {
		found := 0
		for _, a := range answers {
			if slices.Contains(top[:min(k, len(top))], a) {
				found++
			}
		}
		r.hits[k-1] += float64(found) / float64(min(k, len(answers)))
		if candidates > 0 {
			// The expected share of answers a uniformly random order of the
			// candidates puts in its first k.
			r.luck[k-1] += float64(min(k, candidates)) * float64(len(answers)) /
				(float64(candidates) * float64(min(k, len(answers))))
		}
	}
}

// AC is AC@k over the cases added (1 ≤ k ≤ TopK).
func (r *Ranking) AC(k int) float64 {
	if r.Cases == 0 || k < 1 || k > TopK {
		return 0
	}
	return r.hits[k-1] / float64(r.Cases)
}

// Avg is Avg@k: the mean of AC@1..AC@k.
func (r *Ranking) Avg(k int) float64 {
	var s float64
	for j := 1; j <= k; j++ {
		s += r.AC(j)
	}
	return s / float64(k)
}

// Chance is the Avg@k a uniformly random ranking would reach on the same
// cases.
func (r *Ranking) Chance(k int) float64 {
	if r.Cases == 0 || k < 1 || k > TopK {
		return 0
	}
	var s float64
	for j := 1; j <= k; j++ {
		s += r.luck[j-1] / float64(r.Cases)
	}
	return s / float64(k)
}

func dedup(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Detection accumulates anomaly-window scores over cases, on each case's
// step grid.
type Detection struct {
	// Cases counts the cases added.
	Cases int
	// TP, FP and FN count grid points, point-wise; AdjTP, AdjFP and AdjFN
	// after point adjustment.
	TP, FP, FN          int
	AdjTP, AdjFP, AdjFN int
	// Windows counts the true windows; Delays holds the detection delay of
	// each one flagged, Missed counts the others.
	Windows int
	Delays  []time.Duration
	Missed  int
}

// Add scores one case's flagged windows against its true ones on grid.
func (d *Detection) Add(grid []time.Time, truth, flagged []Window) {
	d.Cases++
	in := func(ws []Window, t time.Time) bool {
		return slices.ContainsFunc(ws, func(w Window) bool { return w.Contains(t) })
	}
	actual := make([]bool, len(grid))
	pred := make([]bool, len(grid))
	for i, t := range grid {
		actual[i], pred[i] = in(truth, t), in(flagged, t)
	}
	adj := slices.Clone(pred)
	for _, w := range truth {
		var pts []int
		hit := false
		for i, t := range grid {
			if w.Contains(t) {
				pts = append(pts, i)
				hit = hit || pred[i]
			}
		}
		d.Windows++
		if !hit {
			d.Missed++
			continue
		}
		found := false
		for _, i := range pts {
			adj[i] = true
			if pred[i] && !found {
				d.Delays = append(d.Delays, grid[i].Sub(w.Start))
				found = true
			}
		}
	}
	for i := range grid {
		count(actual[i], pred[i], &d.TP, &d.FP, &d.FN)
		count(actual[i], adj[i], &d.AdjTP, &d.AdjFP, &d.AdjFN)
	}
}

func count(actual, pred bool, tp, fp, fn *int) {
	switch {
	case actual && pred:
		*tp++
	case pred:
		*fp++
	case actual:
		*fn++
	}
}

// PRF is precision, recall and F1 from counts; each 0 where undefined.
func PRF(tp, fp, fn int) (p, r, f1 float64) {
	if tp+fp > 0 {
		p = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r = float64(tp) / float64(tp+fn)
	}
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}

// DelayMean and DelayP95 summarise the detection delays of the flagged
// windows (nearest rank); 0 when none was flagged.
func (d *Detection) DelayMean() time.Duration {
	if len(d.Delays) == 0 {
		return 0
	}
	var s time.Duration
	for _, x := range d.Delays {
		s += x
	}
	return s / time.Duration(len(d.Delays))
}

// DelayP95 is the 95th percentile of the delays, nearest rank.
func (d *Detection) DelayP95() time.Duration {
	if len(d.Delays) == 0 {
		return 0
	}
	s := slices.Clone(d.Delays)
	slices.Sort(s)
	i := (95*len(s) + 99) / 100
	return s[max(i, 1)-1]
}
