package experiment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"

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
}

// LoadFile reads an experiment definition. Paths in it are relative to the
// file. Errors name the file and, where the YAML parser gives one, the line.
func LoadFile(path string) (*Experiment, *File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read experiment: %w", err)
	}
	var f File
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, nil, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, true))
	}
	if f.APIVersion != "" && f.APIVersion != spec.APIVersion {
		return nil, nil, fmt.Errorf("%s: apiVersion %q: want %s", path, f.APIVersion, spec.APIVersion)
	}
	if f.Kind != "Experiment" {
		return nil, nil, fmt.Errorf("%s: kind %q: want Experiment", path, f.Kind)
	}
	e := &Experiment{Name: f.Name, Seed: f.Seed, Families: f.Families, Social9: f.Social9, NoPlots: f.NoPlots}
	var errs []error
	dur := func(field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := spec.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, field, err))
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
		errs = append(errs, fmt.Errorf("%s: runtime %q: experiment files run on the local runtime; run on Kubernetes with `vecro run --runtime kube`", path, f.Runtime))
	}

	dir := filepath.Dir(path)
	if len(f.System) == 0 {
		errs = append(errs, fmt.Errorf("%s: system: missing (a path or an inline definition)", path))
	} else if sys, err := part(dir, path, "system", f.System, spec.LoadSystem, spec.ParseSystem); err != nil {
		errs = append(errs, err)
	} else {
		e.System = sys
	}
	if len(f.Faults) > 0 {
		ff, err := part(dir, path, "faults", f.Faults, spec.LoadFaults, spec.ParseFaults)
		if err != nil {
			errs = append(errs, err)
		} else {
			e.Faults = ff
		}
	}
	if e.System != nil && e.Faults != nil {
		if err := spec.CheckFaults(e.Faults, e.System); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return e, &f, nil
}

// part reads a system or fault definition given as a path (a YAML string)
// or inline (a mapping).
func part[T any](dir, path, field string, raw yaml.RawMessage, load func(string) (T, error), parse func(string, []byte) (T, error)) (T, error) {
	var p string
	if err := yaml.Unmarshal(raw, &p); err == nil {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		v, err := load(p)
		if err != nil {
			return v, fmt.Errorf("%s: %s: %w", path, field, err)
		}
		return v, nil
	}
	return parse(fmt.Sprintf("%s (inline %s)", path, field), raw)
}
