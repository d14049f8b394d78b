package campaign

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// Case is one experiment of a campaign's matrix.
type Case struct {
	// ID names the case in cases.csv and its dataset's directory:
	// [<system>-]<fault>[-<strength>]-<target>-r<repetition>, the system's
	// name when the campaign has several.
	ID string
	// System is the name of the system the case runs.
	System   string
	Fault    string
	Strength string
	Target   string
	// Repetition counts from 1.
	Repetition int
	Seed       int64
	// Behaviors are the fault's behaviours and Params each one's
	// parameters as JSON (the agents' wire form), in the same order.
	Behaviors []string
	Params    []string
	// Duration is the case's timeline, from t0 to the end of recovery.
	Duration time.Duration
	// Experiment runs the case. Run works on a copy of it, so that a plan
	// can be run again.
	Experiment *experiment.Experiment
}

// Skip is a case left out of the matrix: a variant a selector's target
// cannot take (spec.Variant.Skip).
type Skip struct {
	System, Fault, Strength, Target, Reason string
}

// Plan is an expanded campaign.
type Plan struct {
	// Name is the campaign's: the corpus is <artifacts>/<Name>/.
	Name string
	// Systems are the names of the systems the cases run, in file order.
	Systems []string
	// File is the campaign file's path.
	File    string
	Cases   []Case
	Skipped []Skip
}

// CaseOverhead is what a case costs beyond its timeline: deploying the
// system, collecting the metrics, writing the dataset, stopping. Measured
// on the social system (25 services, five MongoDB-protocol stores on
// FerretDB) with warm caches, scenario after scenario: deploy 2–3 s,
// collection and dataset (plots included) 2.3–4.6 s, and consecutive
// 70 s runs 74–75 s apart; 8 s leaves room for a busier machine. The
// first run on a fresh machine also builds the service binary and FerretDB
// (minutes, once), which no per-case constant should carry.
const CaseOverhead = 8 * time.Second

// Estimate is how long running every case takes: the sum of their
// timelines and CaseOverhead each.
func (p Plan) Estimate() time.Duration {
	var d time.Duration
	for _, c := range p.Cases {
		d += c.Duration + CaseOverhead
	}
	return d
}

// LoadFile reads a campaign file and expands it; every problem of the
// file and of its expansion is reported, each naming file, line and field.
func LoadFile(path string) (Plan, error) {
	cf, err := spec.LoadCampaign(path)
	if err != nil {
		return Plan{}, err
	}
	return Expand(cf)
}

// CheckFile reports every problem of a campaign file; nil when it would run.
func CheckFile(path string) error {
	_, err := LoadFile(path)
	return err
}

// Expand builds the campaign's matrix: for each repetition, each template,
// each of its variants and each target, a case. Repetitions come
// outermost, so that a campaign stopped halfway has every other case once
// rather than some cases every time. It also checks what the spec package
// cannot: the load, the families, and that the fault window leaves the
// baseline an experiment demands.
func Expand(cf *spec.CampaignFile) (Plan, error) {
	if cf == nil || len(cf.Systems) == 0 {
		return Plan{}, errors.New("expand campaign: no campaign, or no system")
	}
	p := Plan{Name: cf.Name, File: cf.File}
	for _, cs := range cf.Systems {
		if cs.System == nil {
			return Plan{}, fmt.Errorf("expand campaign: %s was not read", cs.Field)
		}
		p.Systems = append(p.Systems, cs.System.Name)
	}
	var errs spec.ErrorList
	fail := func(field, format string, args ...any) {
		errs = append(errs, &spec.Error{File: cf.File, Line: cf.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	checkSettings(cf, fail)

	ids := map[string]Case{}
	for rep := 1; rep <= cf.Repetitions; rep++ {
		for _, cs := range cf.Systems {
			for _, t := range cs.Faults {
				for _, v := range t.Variants {
					for _, tg := range cs.Targets {
						if why, skip := v.Skip[tg.Service]; skip {
							if rep == 1 {
								p.Skipped = append(p.Skipped, Skip{System: cs.System.Name, Fault: t.Name, Strength: v.Strength, Target: tg.Service, Reason: why})
							}
							continue
						}
						c, err := newCase(cf, cs.System, t, v, tg.Service, rep)
						if err != nil {
							return Plan{}, err
						}
						if prev, dup := ids[c.ID]; dup {
							fail("faults", "cases %s/%s/%s/%s and %s/%s/%s/%s would both be called %q: rename a template, a target or a system",
								prev.System, prev.Fault, prev.Strength, prev.Target, c.System, c.Fault, c.Strength, c.Target, c.ID)
							continue
						}
						ids[c.ID] = c
						p.Cases = append(p.Cases, c)
					}
				}
			}
		}
	}
	if len(p.Cases) > 0 {
		if _, err := p.Cases[0].Experiment.PlannedTimeline(time.Time{}); err != nil {
			fail("fault-window.start", "%v", err)
		}
	}
	if len(errs) > 0 {
		return Plan{}, errs
	}
	return p, nil
}

// checkSettings checks the settings every case shares, as Run would find
// them wrong at its start, once for all cases and before anything starts.
func checkSettings(cf *spec.CampaignFile, fail func(field, format string, args ...any)) {
	l := cf.Experiment.Load
	if l.Rate != "" {
		if _, err := load.ParseSchedule(l.Rate); err != nil {
			fail("load.rate", "%v", err)
		}
		if l.Users != 0 || l.Delay != 0 {
			fail("load", "both rate (an open loop) and users or delay (a closed loop): choose one")
		}
	}
	switch load.Arrivals(l.Arrivals) {
	case "", load.Uniform, load.Poisson:
	default:
		fail("load.arrivals", "unknown arrivals %q; want %s or %s", l.Arrivals, load.Uniform, load.Poisson)
	}
	if l.Users < 0 {
		fail("load.users", "users is %d; want 0 or more", l.Users)
	}
	for i, s := range l.Services {
		for _, cs := range cf.Systems {
			if cs.System.Service(s) == nil {
				fail(fmt.Sprintf("load.services[%d]", i), "%q is not a service of system %q", s, cs.System.Name)
			}
		}
	}
	if ts := cf.Experiment.TraceSample; !(ts >= 0 && ts <= 1) {
		fail("trace-sample", "%g: want a share of the requests, 0 < r ≤ 1 (absent: all)", ts)
	}
	for i, f := range cf.Experiment.Families {
		if _, err := metrics.LookupFamily(f); err != nil {
			fail(fmt.Sprintf("families[%d]", i), "%v", err)
		}
	}
}

// newCase builds one case's experiment: the campaign's settings, and a
// fault file with the variant on the target.
func newCase(cf *spec.CampaignFile, sys *spec.System, t spec.FaultTemplate, v spec.Variant, target string, rep int) (Case, error) {
	var parts []string
	if len(cf.Systems) > 1 {
		parts = append(parts, sys.Name)
	}
	parts = append(parts, t.Name)
	if v.Strength != "" {
		parts = append(parts, v.Strength)
	}
	parts = append(parts, target, fmt.Sprintf("r%d", rep))
	c := Case{ID: strings.Join(parts, "-"), System: sys.Name, Fault: t.Name, Strength: v.Strength, Target: target, Repetition: rep}
	c.Seed = fault.DeriveSeed(cf.Seed, c.ID)
	for _, b := range v.Behaviors.List() {
		js, err := json.Marshal(b)
		if err != nil {
			return Case{}, fmt.Errorf("case %s: encode %s parameters: %w", c.ID, b.Kind(), err)
		}
		c.Behaviors = append(c.Behaviors, b.Kind())
		c.Params = append(c.Params, string(js))
	}

	ef := cf.Experiment
	ef.Name, ef.Seed = c.ID, &c.Seed
	e := experiment.FromSpec(&ef)
	e.System = sys
	e.Faults = &spec.FaultFile{
		Name: c.ID, Namespace: sys.EffectiveNamespace(), Seed: &c.Seed,
		Faults: []spec.Fault{{
			Name: t.Name, Target: target, Mode: t.Mode, Behaviors: v.Behaviors,
			Start: cf.FaultWindow.Start, Duration: cf.FaultWindow.Duration,
		}},
	}
	c.Experiment = e
	tl, err := e.PlannedTimeline(time.Time{})
	if err == nil {
		c.Duration = tl.Duration()
	}
	return c, nil
}

// Row is the case's planned row of cases.csv: status planned, no dataset.
// A fault with several behaviours has one entry per behaviour in fault,
// behavior, target and params, as labels.csv has one row per behaviour.
func (c Case) Row() Row {
	n := max(len(c.Behaviors), 1)
	return Row{
		Case: c.ID, System: c.System,
		Fault:      strings.Join(slices.Repeat([]string{c.Fault}, n), ";"),
		Behavior:   strings.Join(c.Behaviors, ";"),
		Target:     strings.Join(slices.Repeat([]string{c.Target}, n), ";"),
		Params:     strings.Join(c.Params, ";"),
		Repetition: c.Repetition, Seed: c.Seed,
		Status: dataset.CasePlanned,
	}
}
