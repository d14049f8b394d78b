package experiment

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// File is an experiment definition (kind: Experiment), the same experiment a
// Go spec builds, for dataset-generation jobs without Go code:
//
//	apiVersion: vecro/v1
//	kind: Experiment
//	name: social-delay
//	system: ../systems/social.yaml     # a path relative to this file, or the definition inline
//	faults: ../faults/social-delay.yaml
//	seed: 42
//	step: 1s
//	phases: {warm-up: 10s, recovery: 20s}
//	load: {users: 2, delay: 200ms}      # or {rate: "50", arrivals: poisson}
//	windows: {rate: 5s, quantile: 10s, resource: 5s}
//	families: [latency_p95, request_rate]
//	steady-state: {max-error-rate: 0.05, max-p99: 5s}
//	guardrail: {max-error-rate: 0.95, for: 10s}
//	social9: true
//	original-metric-names: true         # also serve vecro_base_<system>_*
type File struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Name       string          `yaml:"name"`
	System     yaml.RawMessage `yaml:"system"`
	Faults     yaml.RawMessage `yaml:"faults"`
	Seed       *int64          `yaml:"seed"`
	Step       string          `yaml:"step"`
	Runtime    string          `yaml:"runtime"`
	Phases     struct {
		WarmUp   string `yaml:"warm-up"`
		Baseline string `yaml:"baseline"`
		Recovery string `yaml:"recovery"`
	} `yaml:"phases"`
	Load struct {
		Services []string `yaml:"services"`
		Users    int      `yaml:"users"`
		Delay    string   `yaml:"delay"`
		Rate     string   `yaml:"rate"`
		Arrivals string   `yaml:"arrivals"`
		Method   string   `yaml:"method"`
		Body     string   `yaml:"body"`
		Timeout  string   `yaml:"timeout"`
	} `yaml:"load"`
	Windows struct {
		Rate     string `yaml:"rate"`
		Quantile string `yaml:"quantile"`
		Resource string `yaml:"resource"`
	} `yaml:"windows"`
	Families    []string `yaml:"families"`
	SteadyState struct {
		MaxErrorRate float64 `yaml:"max-error-rate"`
		MaxP99       string  `yaml:"max-p99"`
	} `yaml:"steady-state"`
	Guardrail struct {
		MaxErrorRate float64 `yaml:"max-error-rate"`
		For          string  `yaml:"for"`
	} `yaml:"guardrail"`
	Social9 bool `yaml:"social9"`
	NoPlots bool `yaml:"no-plots"`
	// OriginalMetricNames: the services also serve the original's metric
	// names (vecro_base_<system>_*).
	OriginalMetricNames bool `yaml:"original-metric-names"`
}

// LoadFile reads an experiment definition and the system and fault
// definitions it refers to, and checks them together. Paths in it are
// relative to the file. Every problem is reported, each naming its file,
// line and field: the experiment's own as *spec.Error, a referred file's
// as that file's errors.
func LoadFile(path string) (*Experiment, *File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read experiment: %w", err)
	}
	// A system or fault file given where an experiment is wanted is told
	// apart before the strict decode calls its keys unknown.
	switch k, kerr := spec.ReadKind(path, data); {
	case k == spec.KindExperiment:
	case kerr != nil:
		return nil, nil, spec.ErrorList{kerr.(*spec.Error)}
	default:
		return nil, nil, spec.ErrorList{{File: path, Line: topLine(data, "kind"), Field: "kind",
			Msg: fmt.Sprintf("this is %s; an experiment (kind: Experiment) is wanted here: name the file in an experiment's %s: key", k.Describe(), map[spec.Kind]string{spec.KindSystem: "system", spec.KindFaults: "faults"}[k])}}
	}
	var f File
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, nil, spec.ErrorList{yamlError(path, err)}
	}
	loc := locator(data)
	var errs spec.ErrorList
	fail := func(field, format string, args ...any) {
		errs = append(errs, &spec.Error{File: path, Line: loc(field), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if f.APIVersion != "" && f.APIVersion != spec.APIVersion {
		fail("apiVersion", "unsupported apiVersion %q: this vecro reads %s (or no apiVersion)", f.APIVersion, spec.APIVersion)
	}
	e := &Experiment{Name: f.Name, Seed: f.Seed, Families: f.Families, Social9: f.Social9, NoPlots: f.NoPlots, OriginalMetricNames: f.OriginalMetricNames}
	dur := func(field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := spec.ParseDuration(s)
		if err != nil {
			fail(field, "%v", err)
		}
		return d.D()
	}
	e.Step = dur("step", f.Step)
	e.Phases = Phases{WarmUp: dur("phases.warm-up", f.Phases.WarmUp), Baseline: dur("phases.baseline", f.Phases.Baseline), Recovery: dur("phases.recovery", f.Phases.Recovery)}
	e.Load = Load{Services: f.Load.Services, Users: f.Load.Users, Delay: dur("load.delay", f.Load.Delay), Rate: f.Load.Rate,
		Arrivals: f.Load.Arrivals, Method: f.Load.Method, Body: f.Load.Body, Timeout: dur("load.timeout", f.Load.Timeout)}
	e.Windows = metrics.Windows{Rate: dur("windows.rate", f.Windows.Rate), Quantile: dur("windows.quantile", f.Windows.Quantile), Resource: dur("windows.resource", f.Windows.Resource)}
	if e.Windows != (metrics.Windows{}) {
		e.Windows = metrics.Family{Windows: ShortWindows}.WithWindows(e.Windows).Windows
	}
	e.SteadyState = SteadyState{MaxErrorRate: f.SteadyState.MaxErrorRate, MaxP99: dur("steady-state.max-p99", f.SteadyState.MaxP99)}
	e.Guardrail = Guardrail{MaxErrorRate: f.Guardrail.MaxErrorRate, For: dur("guardrail.for", f.Guardrail.For)}
	if f.Runtime != "" && f.Runtime != "local" {
		fail("runtime", "runtime %q: experiment files run on the local runtime; run on Kubernetes with `vecro run --runtime kube`", f.Runtime)
	}

	dir := filepath.Dir(path)
	// referred holds a referred file's problems by the index in errs of the
	// problem that names the reference, so that they stay beneath it.
	referred := map[int]spec.ErrorList{}
	// refer reads the system or faults key; a referred file's own problems
	// follow one on the key's line, which says where the reference is.
	refer := func(field string, raw yaml.RawMessage, load func(string) error, parse func(string, []byte) error) {
		var p string
		if err := yaml.Unmarshal(raw, &p); err != nil {
			// Inline: the definition's errors carry this file's name.
			if err := parse(fmt.Sprintf("%s (inline %s)", path, field), raw); err != nil {
				appendErr(&errs, path, err)
			}
			return
		}
		full := p
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, p)
		}
		err := load(full)
		var list spec.ErrorList
		switch {
		case err == nil:
		case errors.As(err, &list):
			fail(field, "%s has %d problem(s), listed below", p, len(list))
			referred[len(errs)-1] = list
		default:
			fail(field, "%v", err)
		}
	}
	if len(f.System) == 0 {
		fail("system", "missing: a path to a system definition, or the definition inline")
	} else {
		refer("system", f.System,
			func(p string) (err error) { e.System, err = spec.LoadSystem(p); return err },
			func(n string, b []byte) (err error) { e.System, err = spec.ParseSystem(n, b); return err })
	}
	if len(f.Faults) > 0 {
		refer("faults", f.Faults,
			func(p string) (err error) { e.Faults, err = spec.LoadFaults(p); return err },
			func(n string, b []byte) (err error) { e.Faults, err = spec.ParseFaults(n, b); return err })
	}
	if e.System != nil && e.Faults != nil {
		if err := spec.CheckFaults(e.Faults, e.System); err != nil {
			appendErr(&errs, path, err)
		}
	}
	if len(errs) > 0 {
		return nil, nil, withReferred(errs, referred)
	}
	return e, &f, nil
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
	var list spec.ErrorList
	if errors.As(err, &list) {
		*errs = append(*errs, list...)
		return
	}
	*errs = append(*errs, &spec.Error{File: path, Msg: err.Error()})
}

// yamlError locates the YAML library's error (syntax, unknown field, wrong
// type) in the file.
func yamlError(path string, err error) *spec.Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &spec.Error{File: path, Line: line, Msg: ye.GetMessage()}
	}
	return &spec.Error{File: path, Msg: err.Error()}
}

// locator returns the line of a dotted field path ("phases.warm-up") in
// data, or of its nearest present parent; 0 when data does not parse.
func locator(data []byte) func(field string) int {
	f, err := parser.ParseBytes(data, 0)
	if err != nil || len(f.Docs) == 0 || f.Docs[0] == nil {
		return func(string) int { return 0 }
	}
	root := f.Docs[0].Body
	return func(field string) int {
		n, line := root, 0
		for key := range strings.SplitSeq(field, ".") {
			m, ok := n.(*ast.MappingNode)
			if !ok {
				return line
			}
			var next ast.Node
			for _, mv := range m.Values {
				if mv.Key != nil && mv.Key.GetToken() != nil && mv.Key.GetToken().Value == key {
					line, next = mv.Key.GetToken().Position.Line, mv.Value
					break
				}
			}
			if next == nil {
				return line
			}
			n = next
		}
		return line
	}
}

// topLine is the line of a top-level key, 0 when absent.
func topLine(data []byte, key string) int { return locator(data)(key) }
