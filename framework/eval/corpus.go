package eval

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/fault"
)

// Case is one dataset of a corpus, with the ground truth its scores are
// measured against.
type Case struct {
	// ID names the case: cases.csv's case column, or the run directory
	// relative to the corpus when the corpus has no cases.csv.
	ID string
	// Dir is the case's run directory.
	Dir string
	// System is the name of the system the case ran.
	System string
	// Faults are the faults some agent applied (labels.csv status applied
	// or partial), with their applied windows. A fault no agent applied
	// never happened, and is no answer.
	Faults []Fault
	// Candidates are the system's services: what a ranking chooses from.
	Candidates []string
	// Start, End and Step are the dataset's grid, on which anomaly windows
	// are scored.
	Start, End time.Time
	Step       time.Duration
	// Skip says why the case is not scored (empty when it is): it did not
	// complete, its ground truth failed it, or no fault was applied.
	Skip string
}

// Fault is one applied fault of a case.
type Fault struct {
	Name, Behavior, Target string
	// Start and End are the applied window, as the agents measured it.
	Start, End time.Time
	// Partial is set when only some of the planned instances applied it.
	Partial bool
}

// InjectTime is the earliest applied start of the case's faults: the time
// RCAEval calls inject_time.
func (c Case) InjectTime() time.Time {
	var t time.Time
	for _, f := range c.Faults {
		if t.IsZero() || f.Start.Before(t) {
			t = f.Start
		}
	}
	return t
}

// Behavior is the case's fault behaviour, for grouping scores; a case of
// several behaviours is grouped under them joined by "+", sorted.
func (c Case) Behavior() string {
	var bs []string
	for _, f := range c.Faults {
		if !slices.Contains(bs, f.Behavior) {
			bs = append(bs, f.Behavior)
		}
	}
	slices.Sort(bs)
	return strings.Join(bs, "+")
}

// Answers are the targets of the case's applied faults: its root causes.
func (c Case) Answers() []string {
	var out []string
	for _, f := range c.Faults {
		if !slices.Contains(out, f.Target) {
			out = append(out, f.Target)
		}
	}
	return out
}

// Grid is the dataset's evaluation steps, Start to End inclusive.
func (c Case) Grid() []time.Time {
	if c.Step <= 0 || c.End.Before(c.Start) {
		return nil
	}
	var out []time.Time
	for t := c.Start; !t.After(c.End); t = t.Add(c.Step) {
		out = append(out, t)
	}
	return out
}

// LoadCorpus reads the cases of a corpus directory: the rows of its
// cases.csv when it has one (a campaign's corpus; rows that did not
// complete are returned with Skip set), else every complete run directory
// beneath it (a directory holding manifest.json, not .partial, not
// .failed), sorted by path.
func LoadCorpus(dir string) ([]Case, error) {
	idx := filepath.Join(dir, dataset.CasesFile)
	if _, err := os.Stat(idx); err == nil {
		return loadIndexed(dir, idx)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("corpus %s: %w", dir, err)
	}
	var runs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasSuffix(p, ".partial") || strings.HasSuffix(p, dataset.FailedSuffix)) {
			return fs.SkipDir
		}
		if !d.IsDir() && d.Name() == "manifest.json" {
			runs = append(runs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", dir, err)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("corpus %s: no %s and no dataset run (a directory with manifest.json) beneath it", dir, dataset.CasesFile)
	}
	slices.Sort(runs)
	cases := make([]Case, 0, len(runs))
	for _, r := range runs {
		id, _ := filepath.Rel(dir, r)
		c, err := LoadCase(id, r)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func loadIndexed(dir, idx string) ([]Case, error) {
	rows, err := dataset.Cases(idx)
	if err != nil {
		return nil, err
	}
	var cases []Case
	seen := map[string]bool{}
	for i, r := range rows {
		id := r["case"]
		if id == "" || seen[id] {
			return nil, fmt.Errorf("%s:%d: case %q: empty or repeated case id", idx, i+2, id)
		}
		seen[id] = true
		if r["status"] != dataset.CaseComplete || r["dataset"] == "" {
			cases = append(cases, Case{ID: id, Skip: "status " + r["status"]})
			continue
		}
		run := r["dataset"]
		if !filepath.IsAbs(run) {
			run = filepath.Join(dir, run)
		}
		c, err := LoadCase(id, run)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: case %s: %w", idx, i+2, id, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// LoadCase reads one run directory's manifest and ground truth. A run that
// cannot be scored is returned with Skip set; an error means the directory
// is not a readable dataset.
func LoadCase(id, dir string) (Case, error) {
	c := Case{ID: id, Dir: dir}
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		return c, err
	}
	switch {
	case !m.Complete:
		c.Skip = "incomplete run"
	case m.Status == dataset.StatusFailed:
		c.Skip = "ground truth failed the run: " + m.Failure
	}
	if m.System != nil {
		c.System = m.System.Name
		for _, s := range m.System.Services {
			c.Candidates = append(c.Candidates, s.Name)
		}
	}
	c.Start, c.End, c.Step = m.Start, m.End, m.Step.D()
	labels, err := dataset.Labels(dir)
	if err != nil {
		return c, err
	}
	for i, l := range labels {
		if l["status"] != string(fault.StatusApplied) && l["status"] != string(fault.StatusPartial) {
			continue
		}
		f := Fault{Name: l["fault"], Behavior: l["behavior"], Target: l["target"], Partial: l["status"] == string(fault.StatusPartial)}
		if f.Start, err = time.Parse(time.RFC3339Nano, l["applied_start"]); err != nil {
			return c, fmt.Errorf("%s:%d: applied_start: %w", filepath.Join(dir, "labels.csv"), i+2, err)
		}
		if f.End, err = time.Parse(time.RFC3339Nano, l["applied_end"]); err != nil {
			return c, fmt.Errorf("%s:%d: applied_end: %w", filepath.Join(dir, "labels.csv"), i+2, err)
		}
		c.Faults = append(c.Faults, f)
	}
	if len(c.Faults) == 0 && c.Skip == "" {
		c.Skip = "no fault was applied"
	}
	return c, nil
}
