package experiment

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// LoadFile reads an experiment definition (spec.ExperimentFile) and the
// system and fault definitions it refers to, and checks them together.
// Paths in it are relative to the file. Every problem is reported, each
// naming its file, line and field: the experiment's own and an inline
// definition's with the experiment file's lines, a referred file's as that
// file's errors, beneath the key that refers to it.
func LoadFile(path string) (*Experiment, *spec.ExperimentFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read experiment: %w", err)
	}
	f, err := spec.ParseExperiment(path, data)
	if f == nil {
		return nil, nil, err
	}
	var errs spec.ErrorList
	appendErr(&errs, path, err)
	fail := func(field, format string, args ...any) {
		errs = append(errs, &spec.Error{File: path, Line: f.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	e := FromSpec(f)
	if f.Runtime != "" && f.Runtime != "local" {
		fail("runtime", "runtime %q: experiment files run on the local runtime; run on Kubernetes with `vecro run --runtime kube`", f.Runtime)
	}
	if !(f.TraceSample >= 0 && f.TraceSample <= 1) {
		fail("trace-sample", "%g: want a share of the requests, 0 < r ≤ 1 (absent: all)", f.TraceSample)
	}

	dir := filepath.Dir(path)
	// referred holds a referred file's problems by the index in errs of the
	// problem that names the reference, so that they stay beneath it.
	referred := map[int]spec.ErrorList{}
	// refer reads the system or faults key; a referred file's own problems
	// follow one on the key's line, which says where the reference is.
	refer := func(field string, r spec.Ref, load func(string) error, inline func(string) error) {
		if r.Inline() {
			// Inline: the definition's errors carry this file's name.
			appendErr(&errs, path, inline(fmt.Sprintf("%s (inline %s)", path, field)))
			return
		}
		full := r.Path
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, r.Path)
		}
		err := load(full)
		var list spec.ErrorList
		switch {
		case err == nil:
		case errors.As(err, &list):
			fail(field, "%s has %d problem(s), listed below", r.Path, len(list))
			referred[len(errs)-1] = list
		default:
			fail(field, "%v", err)
		}
	}
	if f.System.Path != "" || f.System.Inline() {
		refer("system", f.System,
			func(p string) (err error) { e.System, err = spec.LoadSystem(p); return err },
			func(n string) (err error) { e.System, err = spec.ParseSystemRef(n, f.System); return err })
	}
	if f.Faults != nil {
		refer("faults", *f.Faults,
			func(p string) (err error) { e.Faults, err = spec.LoadFaults(p); return err },
			func(n string) (err error) { e.Faults, err = spec.ParseFaultsRef(n, *f.Faults); return err })
	}
	if e.System != nil && e.Faults != nil {
		appendErr(&errs, path, spec.CheckFaults(e.Faults, e.System))
	}
	if len(errs) > 0 {
		return nil, nil, withReferred(errs, referred)
	}
	return e, f, nil
}

// FromSpec builds an Experiment from the settings of an experiment
// definition: everything but its system and faults, which the caller
// resolves (LoadFile from the files it refers to, a campaign per case).
func FromSpec(f *spec.ExperimentFile) *Experiment {
	e := &Experiment{Name: f.Name, Seed: f.Seed, Families: f.Families, Social9: f.Social9, RCAEval: f.RCAEval, NoPlots: f.NoPlots, OriginalMetricNames: f.OriginalMetricNames,
		TraceSampleRatio: f.TraceSample}
	e.Step = f.Step.D()
	e.Phases = Phases{WarmUp: f.Phases.WarmUp.D(), Baseline: f.Phases.Baseline.D(), Recovery: f.Phases.Recovery.D()}
	l := f.Load
	e.Load = Load{Services: l.Services, Users: l.Users, Delay: l.Delay.D(), Rate: l.Rate, Arrivals: l.Arrivals, Method: l.Method, Body: l.Body, Timeout: l.Timeout.D()}
	e.Windows = metrics.Windows{Rate: f.Windows.Rate.D(), Quantile: f.Windows.Quantile.D(), Resource: f.Windows.Resource.D()}
	if e.Windows != (metrics.Windows{}) {
		e.Windows = metrics.Family{Windows: ShortWindows}.WithWindows(e.Windows).Windows
	}
	e.SteadyState = SteadyState{MaxErrorRate: f.SteadyState.MaxErrorRate, MaxP99: f.SteadyState.MaxP99.D()}
	e.Guardrail = Guardrail{MaxErrorRate: f.Guardrail.MaxErrorRate, For: f.Guardrail.For.D()}
	return e
}

// PlannedTimeline places e's phases and faults from t0 as Run will, the
// step's default and the baseline Run demands included: for an estimate,
// or a check before anything is deployed.
func (e *Experiment) PlannedTimeline(t0 time.Time) (Timeline, error) {
	step := e.Step
	if step <= 0 {
		step = time.Second // normalize's default
	}
	return NewTimeline(t0, e.Phases, e.Faults, minBaselineSteps*step)
}

// withReferred orders errs by line and puts each referred file's problems
// right after the problem that names the reference.
func withReferred(errs spec.ErrorList, referred map[int]spec.ErrorList) spec.ErrorList {
	idx := make([]int, len(errs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(errs[a].Line, errs[b].Line) })
	out := make(spec.ErrorList, 0, len(errs))
	for _, i := range idx {
		out = append(out, errs[i])
		out = append(out, referred[i]...)
	}
	return out
}

// CheckFile reports every problem of an experiment definition and of the
// files it refers to; nil when it would run.
func CheckFile(path string) error {
	_, _, err := LoadFile(path)
	return err
}

// appendErr adds err's problems to errs, keeping an ErrorList's items.
func appendErr(errs *spec.ErrorList, path string, err error) {
	if err == nil {
		return
	}
	var list spec.ErrorList
	if errors.As(err, &list) {
		*errs = append(*errs, list...)
		return
	}
	*errs = append(*errs, &spec.Error{File: path, Msg: err.Error()})
}
