package spec

import (
	"fmt"
	"os"
	"reflect"

	"github.com/goccy/go-yaml/ast"
)

// ExperimentFile is an experiment definition (kind: Experiment) as written:
// what a Go spec builds, for dataset-generation jobs without Go code. It is
// decoded by the same decoder as systems and faults, so its problems name
// file, line and field the same way, and package experiment turns it into a
// runnable Experiment.
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
//	rcaeval: true                       # also RCAEval's layout, under rcaeval/ in the dataset
//	original-metric-names: true         # also serve vecro_base_<system>_*
//	trace-sample: 0.1                   # trace a tenth of the load's requests (default: all)
type ExperimentFile struct {
	APIVersion string           `yaml:"apiVersion,omitempty"`
	Kind       string           `yaml:"kind,omitempty"`
	Name       string           `yaml:"name"`
	System     Ref              `yaml:"system" vecro:"required"`
	Faults     *Ref             `yaml:"faults,omitempty"`
	Seed       *int64           `yaml:"seed,omitempty"`
	Step       Duration         `yaml:"step,omitempty"`
	Runtime    string           `yaml:"runtime,omitempty"`
	Phases     ExperimentPhases `yaml:"phases,omitempty"`
	Load       ExperimentLoad   `yaml:"load,omitempty"`
	Windows    struct {
		Rate     Duration `yaml:"rate,omitempty"`
		Quantile Duration `yaml:"quantile,omitempty"`
		Resource Duration `yaml:"resource,omitempty"`
	} `yaml:"windows,omitempty"`
	Families    []string `yaml:"families,omitempty"`
	SteadyState struct {
		MaxErrorRate float64  `yaml:"max-error-rate,omitempty"`
		MaxP99       Duration `yaml:"max-p99,omitempty"`
	} `yaml:"steady-state,omitempty"`
	Guardrail struct {
		MaxErrorRate float64  `yaml:"max-error-rate,omitempty"`
		For          Duration `yaml:"for,omitempty"`
	} `yaml:"guardrail,omitempty"`
	Social9 bool `yaml:"social9,omitempty"`
	// RCAEval: also RCAEval's layout (Experiment.RCAEval).
	RCAEval bool `yaml:"rcaeval,omitempty"`
	NoPlots bool `yaml:"no-plots,omitempty"`
	// OriginalMetricNames: the services also serve the original's metric
	// names (vecro_base_<system>_*).
	OriginalMetricNames bool `yaml:"original-metric-names,omitempty"`
	// TraceSample is the share of load requests traced, 0 < r ≤ 1; absent
	// or 0 traces them all (Experiment.TraceSampleRatio).
	TraceSample float64 `yaml:"trace-sample,omitempty"`

	// File is where the definition was read from; errors name it.
	File string `yaml:"-"`

	meta *fileMeta
}

// ExperimentPhases are the phases around the faults.
type ExperimentPhases struct {
	WarmUp   Duration `yaml:"warm-up,omitempty"`
	Baseline Duration `yaml:"baseline,omitempty"`
	Recovery Duration `yaml:"recovery,omitempty"`
}

// ExperimentLoad is the load of an experiment: closed-loop users or an
// open-loop rate.
type ExperimentLoad struct {
	Services []string `yaml:"services,omitempty"`
	Users    int      `yaml:"users,omitempty"`
	Delay    Duration `yaml:"delay,omitempty"`
	Rate     string   `yaml:"rate,omitempty"`
	Arrivals string   `yaml:"arrivals,omitempty"`
	Method   string   `yaml:"method,omitempty"`
	Body     string   `yaml:"body,omitempty"`
	Timeout  Duration `yaml:"timeout,omitempty"`
}

// Ref is a definition an experiment refers to: the path of its file
// (relative to the experiment's), or the definition written inline.
type Ref struct {
	Path string
	// inline is the definition's node when written inline; its lines are
	// the experiment file's.
	inline ast.Node
}

// Inline reports whether the definition is written inline.
func (r Ref) Inline() bool { return r.inline != nil }

// Empty reports whether nothing is referred to.
func (r Ref) Empty() bool { return r.Path == "" && r.inline == nil }

var typeRef = reflect.TypeFor[Ref]()

// decodeRef reads a path (a scalar) or an inline definition (a mapping).
func (d *decoder) decodeRef(n ast.Node, v reflect.Value, path string) {
	if _, ok := n.(*ast.MappingNode); ok {
		v.Set(reflect.ValueOf(Ref{inline: n}))
		return
	}
	if s, ok := d.scalar(n, path, "a path to a definition file, or the definition inline"); ok {
		if s == "" {
			d.fail(n, path, "is empty")
			return
		}
		v.Set(reflect.ValueOf(Ref{Path: s}))
	}
}

// LoadExperiment reads an experiment definition. It decodes the file alone:
// the definitions it refers to are read by LoadSystem and LoadFaults (or
// ParseSystemRef and ParseFaultsRef when inline).
func LoadExperiment(path string) (*ExperimentFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read experiment: %w", err)
	}
	return ParseExperiment(path, data)
}

// ParseExperiment decodes an experiment definition; name is the file name
// its errors carry. Its apiVersion and kind are checked here; the rest of
// its meaning (load, phases against faults) by package experiment. When
// the file decoded at all, the ExperimentFile is returned beside the
// problems, so that the caller can still read the definitions it refers to
// and report all problems at once.
func ParseExperiment(name string, data []byte) (*ExperimentFile, error) {
	if err := wrongKind(name, data, KindExperiment); err != nil {
		return nil, err
	}
	var ef ExperimentFile
	d, ok := decodeFile(name, data, &ef)
	if !ok {
		return nil, d.errs.err()
	}
	ef.File, ef.meta = name, d.meta
	c := &checker{file: name, meta: d.meta}
	c.apiVersion(ef.APIVersion)
	c.kind(ef.Kind, KindExperiment)
	return &ef, append(d.errs, c.errs...).err()
}

// Line returns the line of a field of the file ("phases.warm-up"), or of
// its nearest present parent; 0 for an ExperimentFile built in Go.
func (ef *ExperimentFile) Line(field string) int {
	if ef.meta == nil {
		return 0
	}
	return ef.meta.line(field)
}

// ParseSystemRef decodes and validates a system written inline at r: its
// errors carry name and the lines of the file it is written in.
func ParseSystemRef(name string, r Ref) (*System, error) {
	var sys System
	d := decodeNode(name, r.inline, &sys)
	sys.File, sys.meta = name, d.meta
	if err := append(d.errs, sys.problems()...).err(); err != nil {
		return nil, err
	}
	return &sys, nil
}

// ParseFaultsRef is ParseSystemRef for a fault definition written inline.
func ParseFaultsRef(name string, r Ref) (*FaultFile, error) {
	var ff FaultFile
	d := decodeNode(name, r.inline, &ff)
	ff.File, ff.meta = name, d.meta
	if err := append(d.errs, ff.problems()...).err(); err != nil {
		return nil, err
	}
	return &ff, nil
}
