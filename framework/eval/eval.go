package eval

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options are how a corpus is shown to a method (RCAEval's options).
type Options struct {
	// TDelta is added to the injection time the method is told: a method
	// run as if the fault were noticed Δ late (RCAEval's --tdelta).
	TDelta time.Duration
	// Length, when set, cuts each blinded case to Length on either side of
	// the injection time it is told (RCAEval's --length).
	Length time.Duration
	// Progress, if set, gets a line per case.
	Progress io.Writer
}

// CaseResult is one case's answer, as scored.
type CaseResult struct {
	Case     string   `json:"case"`
	Behavior string   `json:"behavior,omitempty"`
	Answers  []string `json:"answers,omitempty"`
	// Top are the first TopK services the method ranked.
	Top []string `json:"top,omitempty"`
	// Rank is the place of the first root cause in the ranking (1 is
	// first), 0 when it is not ranked.
	Rank int `json:"rank"`
	// Flagged is how many anomaly windows the method answered.
	Flagged int `json:"flagged"`
	// Skip says why the case was not scored; Err is the method's failure,
	// scored as no answer.
	Skip string `json:"skip,omitempty"`
	Err  string `json:"error,omitempty"`

	answer Answer
	c      Case
}

// Group is the scores of a method over the cases of one behaviour, or over
// all cases (Behavior "all").
type Group struct {
	Behavior string
	Ranking  Ranking
	// Detection is nil when the method answered no anomaly windows at all.
	Detection *Detection
	// Errors counts the cases the method failed on (scored as no answer).
	Errors int
}

// All is the Group over every scored case.
const All = "all"

// Report is a method's scores on a corpus.
type Report struct {
	Method string
	// Oracle is set for a method that was given the ground truth: its
	// scores test the scorer, not a method.
	Oracle bool
	Cases  []CaseResult
	// Groups are by behaviour, sorted, then All.
	Groups []Group
}

// Errors counts the cases the method failed on.
func (r *Report) Errors() int {
	n := 0
	for _, c := range r.Cases {
		if c.Err != "" {
			n++
		}
	}
	return n
}

// Group returns the scores of behaviour (or All), nil when no case had it.
func (r *Report) Group(behavior string) *Group {
	for i := range r.Groups {
		if r.Groups[i].Behavior == behavior {
			return &r.Groups[i]
		}
	}
	return nil
}

// Evaluate runs every method on every scorable case and scores the
// answers: one Report per method, in the order given. Each case is blinded
// once, in a fresh temporary directory removed after it, and that copy is
// shown to every method in turn; a method that changed it (wrote a scratch
// file there, say) leaves the next one a fresh copy. The error is the
// corpus's or the context's; a method's failure on a case is that case's
// Err.
func Evaluate(ctx context.Context, cases []Case, methods []Method, opts Options) ([]*Report, error) {
	reps := make([]*Report, len(methods))
	for j, m := range methods {
		reps[j] = &Report{Method: m.Name()}
		if c, ok := m.(Command); ok {
			reps[j].Oracle = c.UsesLabels()
		}
	}
	for i, c := range cases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		results, err := evaluateCase(ctx, c, methods, opts)
		if err != nil {
			return nil, err
		}
		for j, res := range results {
			if opts.Progress != nil {
				status := fmt.Sprintf("rank %d", res.Rank)
				switch {
				case res.Skip != "":
					status = "skipped: " + res.Skip
				case res.Err != "":
					status = "error: " + res.Err
				}
				fmt.Fprintf(opts.Progress, "%s [%d/%d] %s: %s\n", methods[j].Name(), i+1, len(cases), c.ID, status)
			}
			reps[j].Cases = append(reps[j].Cases, res)
		}
	}
	for _, r := range reps {
		r.Groups = group(r.Cases)
	}
	return reps, nil
}

// evaluateCase blinds c once and runs every method on it. Only the
// context's end is an error: a method's failure, or a blinding that fails
// (a broken case), is each method's Err on the case.
func evaluateCase(ctx context.Context, c Case, methods []Method, opts Options) ([]CaseResult, error) {
	results := make([]CaseResult, len(methods))
	for j := range results {
		results[j] = CaseResult{Case: c.ID, Behavior: c.Behavior(), Answers: c.Answers(), Skip: c.Skip, c: c}
	}
	if c.Skip != "" {
		return results, nil
	}
	tmp, err := os.MkdirTemp("", "vecro-eval-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	told := c.InjectTime().Add(opts.TDelta)
	var cut Window
	if opts.Length > 0 {
		cut = Window{Start: told.Add(-opts.Length), End: told.Add(opts.Length)}
	}
	blind := filepath.Join(tmp, "dataset")
	var shown string // the copy's fingerprint, "" until it is made
	for j, m := range methods {
		res := &results[j]
		if fp, ferr := fingerprint(blind); shown == "" || ferr != nil || fp != shown {
			if shown, err = reblind(c.Dir, blind, cut); err != nil {
				res.Err = fmt.Sprintf("blind the dataset: %v", err)
				continue
			}
		}
		a, aerr := m.Analyze(ctx, Input{Case: c.ID, Dir: blind, InjectTime: told, Labels: filepath.Join(c.Dir, "labels.csv")})
		if aerr != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Err = aerr.Error()
		}
		res.answer = a
		top := dedup(a.Ranks)
		res.Top = top[:min(TopK, len(top))]
		for k, s := range top {
			if slices.Contains(res.Answers, s) {
				res.Rank = k + 1
				break
			}
		}
		res.Flagged = len(a.Anomalies)
	}
	return results, nil
}

// reblind writes src's blinded copy to dst afresh and returns its
// fingerprint.
func reblind(src, dst string, cut Window) (string, error) {
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	if err := Blind(src, dst, cut); err != nil {
		return "", err
	}
	return fingerprint(dst)
}

// fingerprint names every file under dir with its size, mode and
// modification time: a method that wrote, removed or touched anything
// there changes it. (Permissions would not keep a method out: the
// harness often runs as root.)
func fingerprint(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %v %d\n", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	return b.String(), err
}

// group scores the results by behaviour and over all.
func group(results []CaseResult) []Group {
	detects := slices.ContainsFunc(results, func(r CaseResult) bool { return r.answer.HasAnomalies })
	byName := map[string]*Group{}
	var names []string
	get := func(b string) *Group {
		g, ok := byName[b]
		if !ok {
			g = &Group{Behavior: b}
			if detects {
				g.Detection = &Detection{}
			}
			byName[b] = g
			if b != All {
				names = append(names, b)
			}
		}
		return g
	}
	for _, r := range results {
		if r.Skip != "" {
			continue
		}
		var truth []Window
		for _, f := range r.c.Faults {
			truth = append(truth, Window{Start: f.Start, End: f.End})
		}
		for _, g := range []*Group{get(r.Behavior), get(All)} {
			g.Ranking.Add(r.answer.Ranks, r.Answers, len(r.c.Candidates))
			if g.Detection != nil {
				g.Detection.Add(r.c.Grid(), truth, r.answer.Anomalies)
			}
			if r.Err != "" {
				g.Errors++
			}
		}
	}
	slices.Sort(names)
	out := make([]Group, 0, len(names)+1)
	for _, n := range names {
		out = append(out, *byName[n])
	}
	if g, ok := byName[All]; ok {
		out = append(out, *g)
	}
	return out
}
