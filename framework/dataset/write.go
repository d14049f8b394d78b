package dataset

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// TimeFormat is how every timestamp column is written: RFC 3339 in UTC with
// milliseconds. A unix_ms column stands beside it.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Manifest is manifest.json: everything needed to understand and rerun a run.
type Manifest struct {
	Experiment string `json:"experiment"`
	RunID      string `json:"run_id"`
	Runtime    string `json:"runtime"`
	// Namespace is the system's namespace: on Kubernetes where it ran (the
	// definition's, --namespace, or a campaign slot's), on the embedded
	// runtime the definition's.
	Namespace string `json:"namespace,omitempty"`
	// Monitoring is what collected the metrics (runtime.Deployment).
	Monitoring string            `json:"monitoring,omitempty"`
	Seed       int64             `json:"seed"`
	System     *spec.System      `json:"system"`
	Faults     *spec.FaultFile   `json:"faults,omitempty"`
	Load       any               `json:"load,omitempty"`
	Phases     map[string]any    `json:"phases,omitempty"`
	T0         time.Time         `json:"t0"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	Step       spec.Duration     `json:"step"`
	Baseline   [2]time.Time      `json:"baseline"`
	Families   map[string]string `json:"families,omitempty"`
	Versions   map[string]string `json:"versions,omitempty"`
	// Isolation is how the runtime kept the services' resources apart
	// (runtime.Deployment); "none: …" where nothing did, so that a fault's
	// reach into unrelated services is not taken for the system's.
	Isolation string `json:"isolation,omitempty"`
	// Traces and Logs describe traces.csv and logs.csv; Write fills them
	// in from Run.Traces and Run.Logs.
	Traces *TracesSummary `json:"traces,omitempty"`
	Logs   *LogsSummary   `json:"logs,omitempty"`
	// Files lists every file of the run, relative to its directory.
	Files []string `json:"files"`
	// Complete is false in a .partial directory's manifest.
	Complete bool `json:"complete"`
	// Status is StatusOK, or StatusFailed for a run whose ground truth
	// disowns it; empty means StatusOK. Write makes it StatusFailed
	// whenever a fault's window failed (no agent applied it).
	Status string `json:"status"`
	// Failure says why a failed run failed.
	Failure string `json:"failure,omitempty"`
}

// Run statuses in the manifest. A failed run is still written whole, as
// evidence, but under <run-id>.failed: a directory named by its run id
// alone is always a complete run that went as its definition says, so
// whatever gathers datasets by name cannot take a failed one for it.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
	// FailedSuffix ends a failed run's directory name.
	FailedSuffix = ".failed"
)

// Run is everything a dataset is written from.
type Run struct {
	Manifest Manifest
	// Tables are the metric families over the run, one column per service.
	Tables  []metrics.Table
	Windows []fault.Window
	// Load writes load.csv (framework/load owns its columns); nil for none.
	Load func(io.Writer) error
	// Social9 also writes the original VECROsim layout under social9/.
	Social9 bool
	// NoPlots skips the PNGs (they are the slowest part).
	NoPlots bool
	// Traces writes traces.csv and callgraph.dot; nil writes neither.
	Traces *Traces
	// Logs writes logs.csv; nil does not.
	Logs *Logs
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Write writes r under root as <experiment>/<run-id>/ (<run-id>.failed/
// when the manifest's Status is StatusFailed, as a failed fault window
// makes it) and returns that directory.
// It writes into <run-id>.partial and renames it when every file is
// written; on error the .partial directory is left with what it had.
func Write(root string, r Run) (string, error) {
	m := &r.Manifest
	if !runIDPattern.MatchString(m.Experiment) || !runIDPattern.MatchString(m.RunID) {
		return "", fmt.Errorf("write dataset: experiment %q and run id %q must be non-empty and use only letters, digits, '.', '_' and '-'", m.Experiment, m.RunID)
	}
	final := filepath.Join(root, m.Experiment, m.RunID)
	switch m.Status {
	case "", StatusOK:
		m.Status = StatusOK
	case StatusFailed:
	default:
		return "", fmt.Errorf("write dataset %s: status %q: want %q or %q", final, m.Status, StatusOK, StatusFailed)
	}
	// Whoever writes the dataset (an experiment, `vecro collect`), a fault
	// that no agent applied makes it a failed run: its labels would
	// otherwise describe a run that did not happen.
	for _, w := range r.Windows {
		if w.Status != fault.StatusFailed {
			continue
		}
		if m.Status != StatusFailed {
			m.Status, m.Failure = StatusFailed, ""
		}
		if p := w.Problem(); !strings.Contains(m.Failure, p) {
			m.Failure = strings.TrimPrefix(m.Failure+"; "+p, "; ")
		}
	}
	if m.Status == StatusFailed {
		final += FailedSuffix
	}
	if _, err := os.Stat(final); err == nil {
		return "", fmt.Errorf("write dataset: %s already exists", final)
	}
	dir := filepath.Join(root, m.Experiment, m.RunID) + ".partial"
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("write dataset: clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write dataset: %w", err)
	}
	w := &writer{dir: dir}
	m.Complete = false
	if r.Traces != nil {
		sum := r.Traces.Summarize(m.System)
		m.Traces = &sum
	}
	if r.Logs != nil {
		sum := r.Logs.Summarize()
		m.Logs = &sum
	}
	// The manifest goes first, so that even a .partial directory says what
	// run it was.
	w.json("manifest.json", m)
	w.csv("labels.csv", func(c *csv.Writer) error { return writeLabels(c, r.Windows) })
	tables := slices.Clone(r.Tables)
	sort.Slice(tables, func(i, j int) bool { return tables[i].Family < tables[j].Family })
	for _, t := range tables {
		w.csv(filepath.Join("metrics", t.Family+".csv"), func(c *csv.Writer) error { return writeTable(c, t) })
	}
	w.csv("metrics.csv", func(c *csv.Writer) error { return writeLong(c, tables, r.Windows) })
	if r.Load != nil {
		w.file("load.csv", r.Load)
	}
	if r.Traces != nil {
		w.csv("traces.csv", func(c *csv.Writer) error { return writeTraces(c, r.Traces.Spans, r.Windows) })
		w.file("callgraph.dot", func(out io.Writer) error { return WriteCallGraph(out, m.Experiment, r.Traces.Spans) })
	}
	if r.Logs != nil {
		w.csv("logs.csv", func(c *csv.Writer) error { return writeLogs(c, r.Logs.Lines, r.Windows) })
	}
	if r.Social9 {
		byFamily := map[string]metrics.Table{}
		for _, t := range tables {
			byFamily[t.Family] = t
		}
		names := make([]string, 0, len(Social9Families))
		for n := range Social9Families {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			if t, ok := byFamily[Social9Families[name]]; ok {
				w.csv(filepath.Join("social9", name+".csv"), func(c *csv.Writer) error { return writeTable(c, t) })
			}
		}
	}
	if !r.NoPlots {
		for _, t := range tables {
			w.file(filepath.Join("plots", t.Family+".png"), func(out io.Writer) error { return Plot(out, t, r.Windows) })
		}
	}
	if w.err != nil {
		return dir, fmt.Errorf("write dataset %s: %w", dir, w.err)
	}
	m.Files = append(slices.Clone(w.files), "manifest.json")
	sort.Strings(m.Files)
	m.Complete = true
	w.json("manifest.json", m)
	if w.err != nil {
		return dir, fmt.Errorf("write dataset %s: %w", dir, w.err)
	}
	if err := os.Rename(dir, final); err != nil {
		return dir, fmt.Errorf("write dataset: complete %s: %w", final, err)
	}
	return final, nil
}

// writer keeps the first error, so that Write reads as the list of files.
type writer struct {
	dir   string
	files []string
	err   error
}

func (w *writer) file(rel string, fill func(io.Writer) error) {
	if w.err != nil {
		return
	}
	path := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.err = err
		return
	}
	f, err := os.Create(path)
	if err != nil {
		w.err = err
		return
	}
	bw := bufio.NewWriter(f)
	err = fill(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.err = fmt.Errorf("%s: %w", rel, err)
		return
	}
	if rel != "manifest.json" {
		w.files = append(w.files, filepath.ToSlash(rel))
	}
}

func (w *writer) csv(rel string, fill func(*csv.Writer) error) {
	w.file(rel, func(out io.Writer) error {
		c := csv.NewWriter(out)
		if err := fill(c); err != nil {
			return err
		}
		c.Flush()
		return c.Error()
	})
}

func (w *writer) json(rel string, v any) {
	w.file(rel, func(out io.Writer) error {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func formatValue(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func unixMS(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func errorMS(applied, planned time.Time) string {
	if applied.IsZero() {
		return ""
	}
	return strconv.FormatFloat(float64(applied.Sub(planned))/float64(time.Millisecond), 'f', 3, 64)
}

func effectNames(ws []fault.Window) []string {
	set := map[string]bool{}
	for _, w := range ws {
		for k := range w.Effect {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func writeLabels(c *csv.Writer, ws []fault.Window) error {
	effects := effectNames(ws)
	header := slices.Clone(LabelColumns)
	for _, e := range effects {
		header = append(header, EffectPrefix+e)
	}
	if err := c.Write(header); err != nil {
		return err
	}
	for _, w := range ws {
		endErr := ""
		if !w.AppliedEnd.IsZero() {
			endErr = errorMS(w.AppliedEnd, w.PlannedEnd)
		}
		errs := ""
		if len(w.Errors) > 0 {
			b, err := json.Marshal(w.Errors) // map keys come out sorted
			if err != nil {
				return fmt.Errorf("fault %s: errors: %w", w.Fault, err)
			}
			errs = string(b)
		}
		row := []string{
			w.Fault, w.Behavior, w.Target, strings.Join(w.Instances, ";"), strings.Join(w.AppliedInstances, ";"), string(w.Status), errs, w.Params,
			formatTime(w.PlannedStart), formatTime(w.PlannedEnd), formatTime(w.AppliedStart), formatTime(w.AppliedEnd),
			errorMS(w.AppliedStart, w.PlannedStart), endErr,
		}
		for _, e := range effects {
			v, ok := w.Effect[e]
			if !ok {
				v = math.NaN()
			}
			row = append(row, formatValue(v))
		}
		if err := c.Write(row); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(c *csv.Writer, t metrics.Table) error {
	if err := c.Write(append(slices.Clone(FamilyTimeColumns), t.Columns...)); err != nil {
		return err
	}
	if len(t.Rows) != len(t.Times) {
		return fmt.Errorf("family %s: %d rows for %d timestamps", t.Family, len(t.Rows), len(t.Times))
	}
	row := make([]string, 0, 2+len(t.Columns))
	for i, ts := range t.Times {
		if len(t.Rows[i]) != len(t.Columns) {
			return fmt.Errorf("family %s: row %d has %d values for %d columns", t.Family, i, len(t.Rows[i]), len(t.Columns))
		}
		row = append(row[:0], formatTime(ts), unixMS(ts))
		for _, v := range t.Rows[i] {
			row = append(row, formatValue(v))
		}
		if err := c.Write(row); err != nil {
			return err
		}
	}
	return nil
}

func writeLong(c *csv.Writer, tables []metrics.Table, ws []fault.Window) error {
	if err := c.Write(LongColumns); err != nil {
		return err
	}
	// Rows go by timestamp, then family, then service, so that a reader can
	// stream one instant at a time.
	type cell struct {
		t   time.Time
		fam int
		row int
	}
	var cells []cell
	for fi, t := range tables {
		for ri := range t.Times {
			cells = append(cells, cell{t.Times[ri], fi, ri})
		}
	}
	sort.SliceStable(cells, func(i, j int) bool { return cells[i].t.Before(cells[j].t) })
	for _, x := range cells {
		t := tables[x.fam]
		active := fault.ActiveAt(ws, x.t)
		names := make([]string, 0, len(active))
		targets := map[string]bool{}
		for _, w := range active {
			if !slices.Contains(names, w.Fault) {
				names = append(names, w.Fault)
			}
			targets[w.Target] = true
		}
		for ci, svc := range t.Columns {
			v := t.Rows[x.row][ci]
			if math.IsNaN(v) {
				continue
			}
			on := "0"
			if onTarget(svc, targets) {
				on = "1"
			}
			if err := c.Write([]string{formatTime(x.t), unixMS(x.t), svc, t.Family, formatValue(v), strings.Join(names, ";"), on}); err != nil {
				return err
			}
		}
	}
	return nil
}
