package experiment

import (
	"math"
	"slices"
	"time"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
)

// Result is a finished run: its timeline, the faults' windows as the agents
// measured them, the load report, every metric family, and the dataset.
type Result struct {
	Name, RunID string
	Seed        int64
	Runtime     string
	Timeline    Timeline
	// Windows are the faults' ground truth from the agents.
	Windows []fault.Window
	Load    *load.Report
	// Tables are the metric families by name, one column per service.
	Tables map[string]metrics.Table
	// Traces are the run's spans and Logs its request log lines, where the
	// runtime collects them (nil where it does not).
	Traces *dataset.Traces
	Logs   *dataset.Logs
	// Dir is the dataset's directory.
	Dir string
	// Deployment is where the system ran (stopped by now).
	Deployment *runtime.Deployment
}

// Series is one service's values of a family, with the run's baseline: the
// actual value of the matchers package. In an edge family, service is an
// edge, "caller->callee" (see Edge). An unknown family or service gives a
// series without samples, which every matcher reports as such.
func (r *Result) Series(family, service string) analysis.Series {
	s := analysis.Series{Family: family, Service: service, Baseline: r.Timeline.Baseline}
	t, ok := r.Tables[family]
	if !ok {
		return s
	}
	col := slices.Index(t.Columns, service)
	s.Times = t.Times
	s.Values = make([]float64, len(t.Times))
	for i := range t.Times {
		s.Values[i] = math.NaN()
		if col >= 0 {
			s.Values[i] = t.Rows[i][col]
		}
	}
	return s
}

// Fault is the window of the named fault as the agents applied it (all its
// behaviours together). An assertion needs a window even for a fault no
// agent applied, so such a fault gives its planned window; the dataset's
// labels never do. An unknown name gives an empty window.
func (r *Result) Fault(name string) analysis.Window {
	w := analysis.Window{Name: name}
	for _, fw := range r.Windows {
		if fw.Fault != name {
			continue
		}
		s, e, ok := fw.Span()
		if !ok {
			continue
		}
		if w.Start.IsZero() || s.Before(w.Start) {
			w.Start = s
		}
		if e.After(w.End) {
			w.End = e
		}
	}
	if w.Start.IsZero() {
		for _, pw := range r.Timeline.Faults {
			if pw.Name == name {
				return pw
			}
		}
	}
	return w
}

// Signature classifies every (service, family) during the named fault
// against the baseline, skipping settle at the fault's start (the windowed
// queries' lag). With no families given, all collected ones count.
func (r *Result) Signature(faultName string, settle time.Duration, families ...string) analysis.Signature {
	if len(families) == 0 {
		for f := range r.Tables {
			families = append(families, f)
		}
		slices.Sort(families)
	}
	var series []analysis.Series
	for _, f := range families {
		for _, svc := range r.Tables[f].Columns {
			series = append(series, r.Series(f, svc))
		}
	}
	w := r.Fault(faultName)
	w.Start = w.Start.Add(settle)
	return analysis.ComputeSignature(series, w, analysis.DefaultThresholds())
}
