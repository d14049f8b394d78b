package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Trend is how a metric moved during a fault against its baseline.
type Trend string

// Trends. Unknown is the dead zone between flat and a rise or fall: a value
// there is neither asserted nor compared, so run-to-run noise near a
// threshold cannot flip a signature.
const (
	Rise    Trend = "rise"
	Fall    Trend = "fall"
	Flat    Trend = "flat"
	Unknown Trend = "unknown"
)

// Thresholds classify a Comparison. A rise needs both a ratio of at least
// Rise and a robust z-score of at least Z; a fall the mirror image; flat
// needs the ratio within [1/(1+Flat), 1+Flat]. Anything else is Unknown.
type Thresholds struct {
	Rise, Flat, Z float64
	// Floor is the smallest meaningful value per family (see Compare);
	// families not listed use 1e-9.
	Floor map[string]float64
}

// DefaultThresholds leave a wide dead zone: flat within [1/1.5, 1.5], a
// trend only at 3× with z ≥ 3. Signatures are meant to be stable across runs
// on a noisy machine, not sensitive: with native histograms a quantile is
// within a few percent of the truth, but a service with a few requests a
// second has a few dozen in a quantile window, and its p95 moved up to 2.4×
// with no fault reaching it (four delay runs of the social scenario on
// 2026-12-05). That must land in the dead zone.
func DefaultThresholds() Thresholds {
	return Thresholds{Rise: 3, Flat: 0.5, Z: 3, Floor: map[string]float64{
		"latency_avg": 1e-3, "latency_p95": 1e-3, "latency_p99": 1e-3,
		"error_rate": 0.01, "request_rate": 0.5, "throughput": 100,
		"cpu_usage": 0.005, "memory_usage": 1 << 20, "net_rx": 100, "net_tx": 100,
		"edge_latency_p95": 1e-3, "edge_latency_avg": 1e-3, "edge_error_rate": 0.01, "edge_request_rate": 0.5,
	}}
}

// Classify turns a comparison into a trend.
func (th Thresholds) Classify(c Comparison) Trend {
	switch {
	case !c.Valid():
		return Unknown
	case c.Ratio >= th.Rise && c.Z >= th.Z:
		return Rise
	case c.Ratio <= 1/th.Rise && c.Z <= -th.Z:
		return Fall
	case c.Ratio >= 1/(1+th.Flat) && c.Ratio <= 1+th.Flat:
		return Flat
	}
	return Unknown
}

func (th Thresholds) floor(family string) float64 {
	if f, ok := th.Floor[family]; ok {
		return f
	}
	return 1e-9
}

// Cell is one (service, family) of a signature with the numbers behind it.
type Cell struct {
	Trend      Trend `json:"trend"`
	Comparison `json:"-"`
}

// Signature is how every (service, family) of a run moved during one fault.
type Signature struct {
	Fault string
	// Cells by service, then family.
	Cells map[string]map[string]Cell
	// Thresholds are the ones the cells were classified with; a golden
	// learned from the signature needs them (see Golden).
	Thresholds Thresholds
}

// ComputeSignature classifies every series during w against its baseline.
// settle is skipped at the start of w (see Settle).
func ComputeSignature(series []Series, w Window, th Thresholds) Signature {
	sig := Signature{Fault: w.Name, Cells: map[string]map[string]Cell{}, Thresholds: th}
	for _, s := range series {
		c := Compare(s, w, th.floor(s.Family))
		if sig.Cells[s.Service] == nil {
			sig.Cells[s.Service] = map[string]Cell{}
		}
		sig.Cells[s.Service][s.Family] = Cell{Trend: th.Classify(c), Comparison: c}
	}
	return sig
}

// Golden is a signature file: trends, so that diffs are readable, and for
// every rise or fall the band of ratios the learning runs saw, so that a
// fault that got much weaker or stronger no longer matches.
type Golden struct {
	Fault string `json:"fault"`
	// Runs is how many runs the golden was learned from; 0 in files older
	// than learning.
	Runs   int                         `json:"runs,omitempty"`
	Trends map[string]map[string]Trend `json:"trends"`
	// Bands by service, then family: only rise and fall cells have one, and
	// a cell without one (files older than bands) is checked by trend only.
	Bands map[string]map[string]Band `json:"bands,omitempty"`
}

// Band is the smallest and largest ratio (during / baseline) seen for a
// cell across the runs a golden was learned from, and the smallest and
// largest effect (during − baseline, in the family's unit).
type Band struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// EffectMin and EffectMax bound the effect: positive for a rise,
	// negative for a fall; both zero in files older than effects, whose
	// cells are checked by their ratio.
	EffectMin float64 `json:"effect_min,omitempty"`
	EffectMax float64 `json:"effect_max,omitempty"`
}

// hasEffect reports whether b bounds the effect.
func (b Band) hasEffect() bool { return b.EffectMin != 0 || b.EffectMax != 0 }

// BandSlack widens a golden band on its weak side when a run is checked
// against it. Where the band bounds the effect, a rise passes with an
// effect of at least EffectMin/BandSlack and a fall with one of at most
// EffectMax/BandSlack (both towards zero); else a rise passes with a ratio
// of at least Min/BandSlack, a fall with one of at most Max·BandSlack. The
// strong side is not checked: a stronger fault is not a regression of the
// harness, and a ratio is (baseline + effect)/baseline, so the same delay is
// a larger ratio on a quieter machine whose baseline p95 is lower (the
// goldens of 2026-12-05 were learned beside a compiler; the demo on a quiet
// machine saw 2–3× their ratios).
//
// The effect is what the fault adds, and it is the better measure: a busier
// machine raises the baseline p95 and so lowers the ratio of the same delay
// (read-post's 13.6–14.3× of the delay golden read 8.47× beside a cold
// build of the tools, its baseline p95 66 ms instead of ~40 ms, its effect
// 0.50 s as in learning), while a fault three times weaker gives a third of
// the effect wherever it runs. So with effects 1.5 catches a fault three
// times weaker as long as the learning runs' smallest effect is within 2×
// of a typical run's. What follows is the reasoning for a ratio band.
//
// 1.5 is the factor DefaultThresholds already take for "no change" on a
// noisy machine (flat is within 1.5× of the baseline), applied to a ratio
// the learning runs have bounded. What it must catch is a fault three times
// weaker: a delay d on top of a latency b gives a ratio r = 1+d/b, and d/3
// gives 1+d/(3b), which is r/3 when the delay dominates and still r/2.45 at
// r = 9; below r ≈ 9 the weakened ratio falls under the rise threshold (3)
// and the trend alone fails it. So 1.5 catches it as long as the learning
// runs' lowest ratio is within 2.45/1.5 ≈ 1.6× of a typical run, while a
// run must stray 1.5× beyond everything seen in learning to fail. A slack
// of 2, the obvious round number, would let a 3× weaker fault through
// whenever the band is wider than 1.2×.
const BandSlack = 1.5

// Golden returns what a golden file holds of s alone: its trends, and a
// band of exactly its ratio and effect for every rise and fall. A rise or
// fall that cleared its threshold by less than BandSlack is unknown there:
// checked against that golden, a run whose ratio is a little weaker (a
// busier machine raises the baseline a delay is divided by) would fall into
// the dead zone and fail, although its effect is within the band. On the
// offline node a 0.45 s delay on read-post's 0.18 s baseline gave 3.42×,
// 14 % above the rise threshold.
func (s Signature) Golden() Golden {
	g := Golden{Fault: s.Fault, Runs: 1, Trends: map[string]map[string]Trend{}, Bands: map[string]map[string]Band{}}
	for svc, fams := range s.Cells {
		g.Trends[svc] = map[string]Trend{}
		for f, c := range fams {
			t := c.Trend
			if (t == Rise || t == Fall) && !s.Thresholds.clears(c.Comparison, t) {
				t = Unknown
			}
			g.Trends[svc][f] = t
			if (t == Rise || t == Fall) && c.Ratio > 0 && !math.IsInf(c.Ratio, 0) {
				if g.Bands[svc] == nil {
					g.Bands[svc] = map[string]Band{}
				}
				g.Bands[svc][f] = Band{Min: c.Ratio, Max: c.Ratio, EffectMin: c.Delta, EffectMax: c.Delta}
			}
		}
	}
	return g
}

// clears reports whether c is a rise or fall by at least BandSlack beyond
// th's ratio threshold for it. Zero thresholds (a signature built by hand)
// set no margin.
func (th Thresholds) clears(c Comparison, t Trend) bool {
	if th.Rise == 0 {
		return true
	}
	if t == Rise {
		return c.Ratio >= th.Rise*BandSlack
	}
	return c.Ratio <= 1/(th.Rise*BandSlack)
}

// Learn merges the goldens of single runs of one fault into one golden: a
// cell keeps its trend only where every run agrees (a cell missing from a
// run counts as disagreeing), any other becomes unknown and is not
// asserted; a rise or fall gets the band of every run's ratio, rounded
// outwards to three significant digits for a readable file.
func Learn(runs []Golden) (Golden, error) {
	if len(runs) == 0 {
		return Golden{}, errors.New("learn signature: no runs")
	}
	out := Golden{Fault: runs[0].Fault, Trends: map[string]map[string]Trend{}, Bands: map[string]map[string]Band{}}
	for i, r := range runs {
		if r.Fault != out.Fault {
			return Golden{}, fmt.Errorf("learn signature: run %d is of fault %q, run 1 of %q", i+1, r.Fault, out.Fault)
		}
		out.Runs += max(r.Runs, 1)
		for svc, fams := range r.Trends {
			if out.Trends[svc] == nil {
				out.Trends[svc] = map[string]Trend{}
			}
			for f := range fams {
				out.Trends[svc][f] = Unknown
			}
		}
	}
	for svc, fams := range out.Trends {
		for f := range fams {
			t, band, ok := agree(runs, svc, f)
			if !ok {
				continue
			}
			fams[f] = t
			if t != Rise && t != Fall {
				continue
			}
			if band.Min <= 0 {
				// A run without a band (an old golden merged in) leaves
				// the cell checked by trend only.
				continue
			}
			if out.Bands[svc] == nil {
				out.Bands[svc] = map[string]Band{}
			}
			b := Band{Min: round3(band.Min, math.Floor), Max: round3(band.Max, math.Ceil)}
			if band.hasEffect() {
				b.EffectMin, b.EffectMax = round3(band.EffectMin, math.Floor), round3(band.EffectMax, math.Ceil)
			}
			out.Bands[svc][f] = b
		}
	}
	return out, nil
}

// agree returns the trend every run gives the cell and the union of their
// bands (Min 0 when a run has none, no effect when a run has none).
func agree(runs []Golden, svc, fam string) (Trend, Band, bool) {
	var t Trend
	band := Band{Min: math.Inf(1), Max: math.Inf(-1)}
	effects := true
	for i, r := range runs {
		rt, ok := r.Trends[svc][fam]
		if !ok || rt == Unknown || (i > 0 && rt != t) {
			return Unknown, Band{}, false
		}
		t = rt
		b, ok := r.Bands[svc][fam]
		if !ok {
			band.Min, effects = 0, false
			continue
		}
		band.Min, band.Max = math.Min(band.Min, b.Min), math.Max(band.Max, b.Max)
		switch {
		case !b.hasEffect():
			effects = false
		case i == 0:
			band.EffectMin, band.EffectMax = b.EffectMin, b.EffectMax
		default:
			band.EffectMin, band.EffectMax = math.Min(band.EffectMin, b.EffectMin), math.Max(band.EffectMax, b.EffectMax)
		}
	}
	if !effects {
		band.EffectMin, band.EffectMax = 0, 0
	}
	return t, band, true
}

// round3 rounds x to three significant digits in the direction of dir
// (math.Floor or math.Ceil).
func round3(x float64, dir func(float64) float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(x))))
	return dir(x*p) / p
}

// UpdateEnv names the environment variable that makes a signature check
// (matchers.MatchSignatureFile) learn the golden file instead of comparing with it. It is an environment
// variable, not a test flag, because a flag breaks `go test ./...` in every
// package that does not define it.
//
// Its value N is the number of runs to learn from: each match appends the
// run's signature to the golden's side file (RunsSuffix) and succeeds; the
// match that brings the side file to N runs writes the golden learned from
// them (see Learn) and removes the side file. A side file holding runs of
// another N is an error, not a silent mix of two sessions. A Ginkgo suite runs an Ordered
// container's BeforeAll once per process, so the runs accumulate across
// invocations: run the suite N times with the same N.
const UpdateEnv = "VECRO_UPDATE_SIGNATURES"

// RunsSuffix is appended to a golden file's path to name the side file that
// collects learning runs, one JSON golden of a single run per line.
const RunsSuffix = ".runs.jsonl"

// UpdateRuns reads UpdateEnv: the number of runs to learn from, 0 when it
// is unset, empty or "0" (compare).
func UpdateRuns() (int, error) {
	v := os.Getenv(UpdateEnv)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want the number of runs to learn from (1 or more), or 0 to compare", UpdateEnv, v)
	}
	return n, nil
}

// learningRun is a line of the side file: the golden of one run and the
// number of runs its session learns from.
type learningRun struct {
	Of int `json:"of"`
	Golden
}

// RecordRun appends sig to the side file of the golden at path and, with n
// runs there, writes the golden learned from them. The text says which.
func RecordRun(path string, sig Signature, n int) (string, error) {
	side := path + RunsSuffix
	line, err := json.Marshal(learningRun{Of: n, Golden: sig.Golden()})
	if err != nil {
		return "", fmt.Errorf("encode signature run %s: %w", side, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("record signature run %s: %w", side, err)
	}
	f, err := os.OpenFile(side, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("record signature run %s: %w", side, err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("record signature run %s: %w", side, err)
	}
	runs, err := readRuns(side)
	if err != nil {
		return "", err
	}
	goldens := make([]Golden, len(runs))
	for i, r := range runs {
		// A session left unfinished with another N would otherwise lend
		// its runs to this one without a word.
		if r.Of != n {
			return "", fmt.Errorf("signature runs %s: run %d was recorded to learn from %d runs, this one from %d (remove the file to start over)", side, i+1, r.Of, n)
		}
		goldens[i] = r.Golden
	}
	if len(runs) < n {
		return fmt.Sprintf("signature run %d of %d recorded in %s; the golden is written after run %d", len(runs), n, side, n), nil
	}
	g, err := Learn(goldens)
	if err != nil {
		return "", fmt.Errorf("%w (in %s; remove it to start over)", err, side)
	}
	if err := WriteGolden(path, g); err != nil {
		return "", err
	}
	if err := os.Remove(side); err != nil {
		return "", fmt.Errorf("signature %s written, but: %w", path, err)
	}
	return fmt.Sprintf("signature learned from %d runs written to %s", n, path), nil
}

// readRuns reads a side file of learning runs, oldest first.
func readRuns(path string) ([]learningRun, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signature runs %s: %w", path, err)
	}
	var runs []learningRun
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r learningRun
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("read signature runs %s: line %d: %w", path, i+1, err)
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("read signature runs %s: line %d: %w", path, i+1, err)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Diff checks a run's signature against a golden: one line per cell that
// breaks it (see the package doc for the rules), and how many cells were
// compared.
func Diff(want Golden, got Signature) (diffs []string, compared int) {
	for _, svc := range sortedKeys(want.Trends) {
		for _, f := range sortedKeys(want.Trends[svc]) {
			w := want.Trends[svc][f]
			if w == Unknown {
				continue
			}
			c, ok := got.Cells[svc][f]
			if !ok {
				if w != Flat {
					compared++
					diffs = append(diffs, fmt.Sprintf("  %s %s: golden %s, missing from this run", svc, f, w))
				}
				continue
			}
			if w == Flat && c.Trend == Unknown {
				continue
			}
			compared++
			numbers := fmt.Sprintf("ratio %.3g, z %.3g; during %s, baseline %s", c.Ratio, c.Z, c.During, c.Base)
			if w != c.Trend {
				diffs = append(diffs, fmt.Sprintf("  %s %s: golden %s, got %s (%s)", svc, f, w, c.Trend, numbers))
				continue
			}
			b, ok := want.Bands[svc][f]
			if !ok || w == Flat {
				continue
			}
			if b.hasEffect() {
				if lo, hi := b.EffectMin/BandSlack, b.EffectMax/BandSlack; (w == Rise && c.Delta < lo) || (w == Fall && c.Delta > hi) {
					diffs = append(diffs, fmt.Sprintf("  %s %s: %s by %+.4g (%.3g×), weaker than the golden band of effects [%.4g, %.4g] widened by %g to [%.4g, %.4g] (%s)",
						svc, f, w, c.Delta, c.Ratio, b.EffectMin, b.EffectMax, BandSlack, lo, hi, numbers))
				}
				continue
			}
			if lo, hi := b.Min/BandSlack, b.Max*BandSlack; (w == Rise && c.Ratio < lo) || (w == Fall && c.Ratio > hi) {
				diffs = append(diffs, fmt.Sprintf("  %s %s: %s by %.3g×, weaker than the golden band [%.3g, %.3g] widened by %g to [%.3g, %.3g] (%s)",
					svc, f, w, c.Ratio, b.Min, b.Max, BandSlack, lo, hi, numbers))
			}
		}
	}
	return diffs, compared
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WriteSignature writes the golden of sig alone (see Signature.Golden).
func WriteSignature(path string, sig Signature) error {
	return WriteGolden(path, sig.Golden())
}

// WriteGolden writes a golden file.
func WriteGolden(path string, g Golden) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode signature %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write signature %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write signature %s: %w", path, err)
	}
	return nil
}

// ReadSignature reads a golden file.
func ReadSignature(path string) (Golden, error) {
	var g Golden
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return g, fmt.Errorf("golden signature %s does not exist", path)
	}
	if err != nil {
		return g, fmt.Errorf("read signature %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("read signature %s: %w", path, err)
	}
	if err := g.check(); err != nil {
		return g, fmt.Errorf("read signature %s: %w", path, err)
	}
	return g, nil
}

// check rejects what a hand edit can break: a trend that is not one, and a
// band that no ratio can lie in.
func (g Golden) check() error {
	for svc, fams := range g.Trends {
		for f, t := range fams {
			if !slices.Contains([]Trend{Rise, Fall, Flat, Unknown}, t) {
				return fmt.Errorf("%s %s: unknown trend %q", svc, f, t)
			}
		}
	}
	for svc, fams := range g.Bands {
		for f, b := range fams {
			if !(b.Min > 0 && b.Min <= b.Max) || math.IsInf(b.Max, 0) {
				return fmt.Errorf("%s %s: band [%g, %g] is not a range of positive ratios", svc, f, b.Min, b.Max)
			}
			if b.hasEffect() && !(b.EffectMin <= b.EffectMax && (b.EffectMin > 0 || b.EffectMax < 0)) {
				return fmt.Errorf("%s %s: effects [%g, %g] are not a range of one sign", svc, f, b.EffectMin, b.EffectMax)
			}
		}
	}
	return nil
}

// Count returns how many cells have each trend: a quick summary for reports.
func (s Signature) Count() map[Trend]int {
	out := map[Trend]int{}
	for _, fams := range s.Cells {
		for _, c := range fams {
			out[c.Trend]++
		}
	}
	return out
}
