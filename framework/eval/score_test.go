package eval_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/eval"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f ± %g", what, got, want, tol)
	}
}

// A worked example by hand: four cases whose root cause the method puts
// first, second, fourth, and nowhere in its first five.
func TestACAndAvgWorkedExample(t *testing.T) {
	var r eval.Ranking
	cands := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	r.Add([]string{"a", "b", "c"}, []string{"a"}, len(cands))
	r.Add([]string{"b", "a", "c"}, []string{"a"}, len(cands))
	// A service ranked twice counts at its first place only.
	r.Add([]string{"b", "b", "c", "d", "a"}, []string{"a"}, len(cands))
	r.Add([]string{"b", "c", "d", "e", "f", "a"}, []string{"a"}, len(cands))
	for k, want := range []float64{0.25, 0.5, 0.5, 0.75, 0.75} {
		near(t, fmt.Sprintf("AC@%d", k+1), r.AC(k+1), want, 1e-12)
	}
	near(t, "Avg@5", r.Avg(5), (0.25+0.5+0.5+0.75+0.75)/5, 1e-12)
	// Chance with 8 candidates: AC@k = k/8, Avg@5 = (1+2+3+4+5)/8/5.
	near(t, "chance Avg@5", r.Chance(5), 15.0/40, 1e-12)
}

// RCAEval's evaluator tests (tests/test_evaluator.py), reproduced: the
// same candidate counts, case counts and seeds' role, the same bounds.
func TestRCAEvalEvaluatorCases(t *testing.T) {
	const nodes, cases = 12, 50
	names := make([]string, nodes)
	for i := range names {
		names[i] = fmt.Sprintf("svc-%d", i)
	}
	t.Run("random ranker lands at chance", func(t *testing.T) {
		var observed, expected float64
		for seed := range 20 {
			rng := rand.New(rand.NewPCG(uint64(seed), 0))
			var r eval.Ranking
			for range cases {
				answer := names[rng.IntN(nodes)]
				ranks := append([]string(nil), names...)
				rng.Shuffle(len(ranks), func(i, j int) { ranks[i], ranks[j] = ranks[j], ranks[i] })
				r.Add(ranks, []string{answer}, nodes)
			}
			observed += r.Avg(5) / 20
			expected += r.Chance(5) / 20
		}
		// With 12 candidates chance Avg@5 is the mean of 1/12..5/12: 0.25.
		near(t, "chance Avg@5", expected, 3.0/nodes, 1e-12)
		near(t, "random Avg@5", observed, expected, 0.05)
	})
	t.Run("perfect ranker scores one", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(0, 0))
		var r eval.Ranking
		for range cases {
			answer := names[rng.IntN(nodes)]
			ranks := []string{answer}
			for _, n := range names {
				if n != answer {
					ranks = append(ranks, n)
				}
			}
			r.Add(ranks, []string{answer}, nodes)
		}
		near(t, "Avg@5", r.Avg(5), 1, 1e-12)
		near(t, "chance Avg@5", r.Chance(5), 3.0/nodes, 1e-12)
	})
	t.Run("constant ranker scores its answer's frequency", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 0))
		var r eval.Ranking
		hits := 0
		for range cases {
			answer := names[rng.IntN(10)]
			if answer == names[0] {
				hits++
			}
			r.Add([]string{names[0]}, []string{answer}, 10)
		}
		freq := float64(hits) / cases
		near(t, "AC@1", r.AC(1), freq, 1e-12)
		if r.Avg(5) > freq+1e-9 {
			t.Errorf("Avg@5 %.3f above the constant answer's frequency %.3f", r.Avg(5), freq)
		}
		near(t, "chance Avg@5", r.Chance(5), 3.0/10, 1e-12)
	})
	t.Run("a short precise ranking keeps the candidate set's chance", func(t *testing.T) {
		var r eval.Ranking
		r.Add([]string{"svc-1", "svc-2", "svc-3"}, []string{"svc-1"}, 30)
		near(t, "Avg@5", r.Avg(5), 1, 1e-12)
		near(t, "chance Avg@5", r.Chance(5), 3.0/30, 1e-12)
	})
	t.Run("never placing the answer scores zero", func(t *testing.T) {
		var r eval.Ranking
		for range 10 {
			r.Add(names, []string{"svc-0-misspelled"}, 14)
		}
		near(t, "Avg@5", r.Avg(5), 0, 0)
		near(t, "chance Avg@5", r.Chance(5), 3.0/14, 1e-12)
	})
}

// Two root causes: AC@1 can find at most one of them, so it counts it
// whole (divided by min(k, 2)), and AC@k finds both for k ≥ 2.
func TestACWithTwoRootCauses(t *testing.T) {
	var r eval.Ranking
	r.Add([]string{"x", "a", "b"}, []string{"a", "b"}, 10)
	for k, want := range []float64{0, 0.5, 1, 1, 1} {
		near(t, fmt.Sprintf("AC@%d", k+1), r.AC(k+1), want, 1e-12)
	}
	// Chance of AC@1 with two answers among ten: 1·2/(10·1) = 0.2.
	var c eval.Ranking
	c.Add(nil, []string{"a", "b"}, 10)
	near(t, "chance AC@1", c.Chance(1), 0.2, 1e-12)
}

func TestDetectionPointwiseAdjustedAndDelay(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var grid []time.Time
	for s := range 20 {
		grid = append(grid, at(s))
	}
	truth := []eval.Window{{Start: at(4), End: at(8)}, {Start: at(12), End: at(15)}}
	// One point late into the first window, one false alarm, the second
	// window never flagged.
	flagged := []eval.Window{{Start: at(6), End: at(7)}, {Start: at(17), End: at(18)}}
	var d eval.Detection
	d.Add(grid, truth, flagged)
	if d.TP != 1 || d.FP != 1 || d.FN != 6 {
		t.Errorf("point-wise TP/FP/FN %d/%d/%d, want 1/1/6", d.TP, d.FP, d.FN)
	}
	// Point adjustment credits the whole first window (4 points).
	if d.AdjTP != 4 || d.AdjFP != 1 || d.AdjFN != 3 {
		t.Errorf("adjusted TP/FP/FN %d/%d/%d, want 4/1/3", d.AdjTP, d.AdjFP, d.AdjFN)
	}
	if d.Windows != 2 || d.Missed != 1 || len(d.Delays) != 1 || d.Delays[0] != 2*time.Second {
		t.Errorf("windows %d missed %d delays %v, want 2, 1, [2s]", d.Windows, d.Missed, d.Delays)
	}
	p, r, f1 := eval.PRF(d.TP, d.FP, d.FN)
	near(t, "precision", p, 0.5, 1e-12)
	near(t, "recall", r, 1.0/7, 1e-12)
	near(t, "F1", f1, 2*0.5*(1.0/7)/(0.5+1.0/7), 1e-12)
	// A flag that starts before the window and runs into it is found with
	// no delay.
	var e eval.Detection
	e.Add(grid, truth[:1], []eval.Window{{Start: at(2), End: at(5)}})
	if len(e.Delays) != 1 || e.Delays[0] != 0 || e.FP != 2 {
		t.Errorf("early flag: delays %v FP %d, want [0s] and 2", e.Delays, e.FP)
	}
	for _, n := range []int{1, 19, 20, 21, 100} {
		var f eval.Detection
		for i := range n {
			f.Delays = append(f.Delays, time.Duration(i+1)*time.Second)
		}
		want := time.Duration(math.Ceil(0.95*float64(n))) * time.Second
		if got := f.DelayP95(); got != want {
			t.Errorf("p95 of 1..%d s = %v, want %v (nearest rank)", n, got, want)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	a, err := eval.ParseAnswer([]byte(`{"ranks": ["a", "b"], "anomalies": [{"start": "2026-01-01T00:00:01Z", "end": "2026-01-01T00:00:03Z"}]}`))
	if err != nil || len(a.Ranks) != 2 || len(a.Anomalies) != 1 || !a.HasRanks || !a.HasAnomalies {
		t.Fatalf("%+v, %v", a, err)
	}
	if a, err := eval.ParseAnswer([]byte(`{"anomalies": []}`)); err != nil || a.HasRanks || !a.HasAnomalies {
		t.Errorf("an empty anomaly list is an answer: %+v, %v", a, err)
	}
	for in, want := range map[string]string{
		``:                "not a JSON object",
		`["a"]`:           "not a JSON object",
		`{}`:              `neither "ranks" nor "anomalies"`,
		`{"rank": ["a"]}`: `unknown key "rank"`,
		`{"ranks": "a"}`:  "want a list of service names",
		`{"anomalies": [{"start": "2026-01-01T00:00:03Z", "end": "2026-01-01T00:00:01Z"}]}`: "is not after start",
		`{"anomalies": [{"start": "2026-01-01T00:00:03Z"}]}`:                                "start and end are required",
		`{"anomalies": [{"start": "yesterday", "end": "2026-01-01T00:00:01Z"}]}`:            "RFC 3339",
	} {
		if _, err := eval.ParseAnswer([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAnswer(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

// The schema users read and the parser agree on the keys.
func TestAnswerSchemaMatchesParser(t *testing.T) {
	b, err := os.ReadFile("../../docs/eval-answer.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		AdditionalProperties bool                       `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.AdditionalProperties || len(s.Properties) != 2 || s.Properties["ranks"] == nil || s.Properties["anomalies"] == nil {
		t.Errorf("schema: additionalProperties %v, properties %v: want exactly ranks and anomalies, nothing else", s.AdditionalProperties, s.Properties)
	}
}
