package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CampaignFile is a dataset-generation campaign (kind: Campaign): fault
// templates × targets × repetitions on one system or several, each
// combination a case that runs as an experiment of its own. It is read by the decoder of the
// other kinds, so its problems name file, line and field the same way;
// package campaign expands it into its cases and runs them.
//
//	apiVersion: vecro/v1
//	kind: Campaign                         # required: a campaign is never told by its keys
//	name: social-small                     # names the corpus, <artifacts>/<name>/
//	system: ../systems/social.yaml         # a path relative to this file, or the definition inline
//	# systems: [../systems/social.yaml, ../systems/chain.yaml]   # or several: each case runs on one
//	faults:                                # fault templates
//	  - name: delay
//	    behaviors: {net-delay: {time: [100ms, 400ms], jitter: 20ms}}   # a list: one case per strength
//	  - name: cpu
//	    mode: one                          # all (default), one or N%, as in a fault file
//	    behaviors: {cpu-stress: {load: 100}}
//	targets: [posts-storage-db, user-info] # service names, all, or selectors:
//	# targets: [{type: mongodb}, {role: leaf}, {role: storage}, {role: fan-in}, {role: entry}]
//	repetitions: 2                         # default 1
//	seed: 42                               # default 0; each case's seed derives from it and the case's id
//	fault-window: {start: 35s, duration: 30s}
//	step: 1s
//	phases: {warm-up: 15s, recovery: 5s}   # the baseline runs from the warm-up's end to the fault
//	load: {rate: "40", arrivals: poisson}  # as an experiment's
//	windows: {rate: 5s, quantile: 10s, resource: 5s}
//	families: [latency_p95, error_rate]
//	steady-state: {max-error-rate: 0.05, max-p99: 5s}
//	guardrail: {max-error-rate: 0.95, for: 10s}
//	no-plots: true
//	social9: true                          # and original-metric-names, trace-sample: as an experiment's
//
// A template's behaviours are a fault file's, except that any parameter
// may be a list of strengths: the template has one variant per
// combination of its lists, in file order (time: [100ms, 400ms] with
// jitter: [10ms, 20ms] is four). Each variant is checked as a fault file
// with that fault would be, so its problems read the same.
//
// A target is a service's name, all (every service), or a selector: a
// mapping of type (a service type) and role — leaf (calls no service),
// storage (a storage type), fan-in (called by two services or more) or
// entry (called by none, where load goes); type and role together select
// the services that have both. A service chosen twice is one target.
//
// A variant that cannot act on a target (on: db on a base service) is an
// error when the target is named: it was asked for. A target that a
// selector chose is skipped for that variant instead, with the reason in
// Variant.Skip, since a selector such as all is meant to range over
// services of every kind; a variant that no target can take is an error.
//
// With several systems (systems:, each named differently), the templates
// and targets apply to each system on its own: a named target is a target
// in the systems that have a service of that name (an error when none
// has), a selector chooses in each system, and a variant that no target of
// any system can take is an error. Case ids then start with the system's
// name.
type CampaignFile struct {
	Name string
	// Systems are the systems the cases run on, in file order, each with
	// its targets and the templates' variants as they apply to it.
	Systems []*CampaignSystem
	// Repetitions is how many times each case runs (default 1).
	Repetitions int
	// Seed is the campaign's base seed; cases derive theirs from it.
	Seed int64
	// FaultWindow is every case's fault: an offset from t0 and a length.
	FaultWindow struct {
		Start    Duration
		Duration Duration
	}
	// Experiment holds what every case's experiment shares, as an
	// experiment file would (step, phases, load, windows, families,
	// steady state, guardrail, no-plots, social9, original-metric-names,
	// trace-sample); its name, seed, system and faults are each case's own.
	Experiment ExperimentFile

	// File is where the definition was read from; errors name it.
	File string

	meta *fileMeta
}

// CampaignSystem is one system of a campaign.
type CampaignSystem struct {
	// Ref is the system as written; System is the definition it names,
	// read and validated (nil when it has problems).
	Ref    Ref
	System *System
	// Field is where the file names it: system, or systems[i].
	Field string
	// Faults are the fault templates, each with its variants, whose Skip
	// is this system's.
	Faults []FaultTemplate
	// Targets are the services of this system the templates are applied
	// to, each once, in the order the targets list first chose them.
	Targets []CampaignTarget
}

// FaultTemplate is one entry of a campaign's faults.
type FaultTemplate struct {
	Name string
	Mode Mode
	// Variants are the template's strengths, one per combination of the
	// parameters written as lists; one variant when none is a list.
	Variants []Variant
}

// Variant is a fault template at one strength.
type Variant struct {
	// Strength names the variant in case ids: the values chosen from the
	// lists joined by "-" ("100ms", "100ms-20ms"), made safe for a
	// directory name; empty when no parameter is a list.
	Strength string
	// Behaviors are the variant's behaviours, as in a fault file.
	Behaviors Behaviors
	// Skip holds the targets a selector chose that the variant cannot
	// act on, with why; those cases are left out of the matrix.
	Skip map[string]string
}

// CampaignTarget is one service a campaign's templates are applied to.
type CampaignTarget struct {
	Service string
	// Named: the targets list names the service, rather than all or a
	// selector choosing it.
	Named bool
}

// Target roles in the call graph, for target selectors.
const (
	RoleLeaf    = "leaf"
	RoleStorage = "storage"
	RoleFanIn   = "fan-in"
	RoleEntry   = "entry"
)

// TargetRoles are the roles a target selector may name.
var TargetRoles = []string{RoleLeaf, RoleStorage, RoleFanIn, RoleEntry}

// campaignDoc is a campaign as written. Targets and behaviours are Refs
// because each may be a scalar or a mapping (a target) or holds lists
// where a Behaviors has values (a template), which the decoder reads only
// through a Ref's node; ParseCampaign reads them on from there.
type campaignDoc struct {
	APIVersion  string             `yaml:"apiVersion,omitempty"`
	Kind        string             `yaml:"kind,omitempty"`
	Name        string             `yaml:"name" vecro:"required"`
	System      Ref                `yaml:"system,omitempty" vecro:"required,or=systems"`
	Systems     []Ref              `yaml:"systems,omitempty"`
	Faults      []faultTemplateDoc `yaml:"faults" vecro:"required"`
	Targets     []Ref              `yaml:"targets" vecro:"required"`
	Repetitions int                `yaml:"repetitions,omitempty"`
	Seed        int64              `yaml:"seed,omitempty"`
	FaultWindow struct {
		Start    Duration `yaml:"start" vecro:"required"`
		Duration Duration `yaml:"duration" vecro:"required"`
	} `yaml:"fault-window" vecro:"required"`
	Step   Duration `yaml:"step,omitempty"`
	Phases struct {
		WarmUp   Duration `yaml:"warm-up,omitempty"`
		Recovery Duration `yaml:"recovery,omitempty"`
	} `yaml:"phases,omitempty"`
	Load    ExperimentLoad `yaml:"load,omitempty"`
	Windows struct {
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
	NoPlots             bool    `yaml:"no-plots,omitempty"`
	Social9             bool    `yaml:"social9,omitempty"`
	OriginalMetricNames bool    `yaml:"original-metric-names,omitempty"`
	TraceSample         float64 `yaml:"trace-sample,omitempty"`
}

type faultTemplateDoc struct {
	Name      string `yaml:"name" vecro:"required"`
	Mode      Mode   `yaml:"mode,omitempty"`
	Behaviors Ref    `yaml:"behaviors" vecro:"required"`
}

// targetSelector is a target written as a mapping.
type targetSelector struct {
	Type ServiceType `yaml:"type,omitempty"`
	Role string      `yaml:"role,omitempty"`
}

// LoadCampaign reads a campaign and the system it names, and checks them
// together: every problem of the campaign, its templates' variants and
// its targets, each naming file, line and field; a system file's own
// problems follow the one on the system: key.
func LoadCampaign(path string) (*CampaignFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read campaign: %w", err)
	}
	return ParseCampaign(path, data)
}

// ParseCampaign decodes and checks a campaign; name is the file name its
// errors carry, and a system path in it is relative to name's directory.
// What needs packages above this one (the load's rate, the families, the
// baseline the fault window leaves) is checked by package campaign.
func ParseCampaign(name string, data []byte) (*CampaignFile, error) {
	if err := wrongKind(name, data, KindCampaign); err != nil {
		return nil, err
	}
	var doc campaignDoc
	d, ok := decodeFile(name, data, &doc)
	if !ok {
		return nil, d.errs.err()
	}
	p := &campaignParser{
		d:   d,
		c:   &checker{file: name, meta: d.meta},
		doc: &doc,
		cf:  &CampaignFile{Name: doc.Name, Repetitions: 1, Seed: doc.Seed, File: name, meta: d.meta},
		// Every variant of every template repeats the checks that do not
		// depend on it (the fault window's); one report of each is enough.
		seen: map[string]bool{},
	}
	p.errs = append(p.errs, refErrors(d.errs)...)
	p.parse()
	if err := p.result(); err != nil {
		return nil, err
	}
	return p.cf, nil
}

// Line returns the line of a field of the file ("fault-window.start"), or
// of its nearest present parent; 0 for a CampaignFile built in Go.
func (cf *CampaignFile) Line(field string) int {
	if cf.meta == nil {
		return 0
	}
	return cf.meta.line(field)
}

// campaignParser holds one ParseCampaign's state.
type campaignParser struct {
	d   *decoder
	c   *checker
	doc *campaignDoc
	cf  *CampaignFile
	// errs are the problems found outside c (the variants', reworded
	// decoder errors); seen dedupes them.
	errs ErrorList
	seen map[string]bool
	// sysErrs are the problems on the system: key or a systems: item,
	// each with the system file's own problems, listed right after it.
	sysErrs []systemErr
	// namedAt is where the targets list names each service it names.
	namedAt map[string]int
	// multi is set for a campaign with systems: rather than system:.
	multi bool
	// templ are the fault templates and their variants, before any
	// system's skips; checks are each variant's, by template and variant.
	templ  []FaultTemplate
	checks [][]variantCheck
}

type systemErr struct {
	at   *Error
	list ErrorList
}

func (p *campaignParser) parse() {
	doc, c, cf := p.doc, p.c, p.cf
	c.apiVersion(doc.APIVersion)
	c.kind(doc.Kind, KindCampaign)
	if doc.Kind == "" {
		// ReadKind never infers a campaign, so neither does this: a file
		// vecro validate cannot place must not run.
		c.add("kind", "missing kind: Campaign (a campaign is never told by its keys)")
	}
	c.dnsLabel("name", "campaign name", doc.Name)
	p.systems()
	if c.set("repetitions", doc.Repetitions != 0) {
		if doc.Repetitions < 1 {
			c.add("repetitions", "repetitions is %d; want at least 1", doc.Repetitions)
		} else {
			cf.Repetitions = doc.Repetitions
		}
	}
	if c.set("step", doc.Step != 0) && doc.Step <= 0 {
		c.add("step", "step is %s; want more than 0", doc.Step)
	}
	for _, ph := range []struct {
		field string
		d     Duration
	}{{"phases.warm-up", doc.Phases.WarmUp}, {"phases.recovery", doc.Phases.Recovery}} {
		if ph.d < 0 {
			c.add(ph.field, "%s is negative", ph.field)
		}
	}
	cf.FaultWindow.Start, cf.FaultWindow.Duration = doc.FaultWindow.Start, doc.FaultWindow.Duration
	cf.Experiment = ExperimentFile{
		Name:                doc.Name,
		Step:                doc.Step,
		Phases:              ExperimentPhases{WarmUp: doc.Phases.WarmUp, Recovery: doc.Phases.Recovery},
		Load:                doc.Load,
		Windows:             doc.Windows,
		Families:            doc.Families,
		SteadyState:         doc.SteadyState,
		Guardrail:           doc.Guardrail,
		NoPlots:             doc.NoPlots,
		Social9:             doc.Social9,
		OriginalMetricNames: doc.OriginalMetricNames,
		TraceSample:         doc.TraceSample,
		File:                p.cf.File,
		meta:                p.d.meta,
	}
	p.templates()
	p.nameTargets()
	for _, cs := range cf.Systems {
		p.targets(cs)
	}
	p.namedNowhere()
	p.variantSkips()
}

// systems reads the system: key, or each item of systems:, as an
// experiment's system: is read.
func (p *campaignParser) systems() {
	doc, c := p.doc, p.c
	hasOne, hasMany := c.set("system", !doc.System.Empty()), c.set("systems", len(doc.Systems) > 0)
	switch {
	case hasOne && hasMany:
		c.add("systems", "both system and systems: give one system, or a list of them")
		return
	case hasMany:
		p.multi = true
		for i, r := range doc.Systems {
			p.system(r, fmt.Sprintf("systems[%d]", i))
		}
	case hasOne:
		p.system(doc.System, "system")
	default:
		return // the decoder reports it missing
	}
	names := map[string]string{}
	for _, cs := range p.cf.Systems {
		if cs.System == nil {
			continue
		}
		if prev, dup := names[cs.System.Name]; dup {
			c.add(cs.Field, "system %q again (also %s): case ids and datasets are named after the system", cs.System.Name, prev)
			continue
		}
		names[cs.System.Name] = cs.Field
	}
}

// system reads one system of the campaign; field is where it is written.
func (p *campaignParser) system(r Ref, field string) {
	cs := &CampaignSystem{Ref: r, Field: field}
	p.cf.Systems = append(p.cf.Systems, cs)
	if p.c.meta.isBad(field) {
		return
	}
	switch {
	case r.Inline():
		sys, err := ParseSystemRef(p.cf.File+" (inline system)", r)
		cs.System = sys
		p.appendErr(err)
	case r.Path != "":
		full := r.Path
		if !filepath.IsAbs(full) {
			full = filepath.Join(filepath.Dir(p.cf.File), r.Path)
		}
		sys, err := LoadSystem(full)
		cs.System = sys
		var list ErrorList
		at := &Error{File: p.cf.File, Line: p.c.meta.line(field), Field: field}
		switch {
		case err == nil:
			return
		case errors.As(err, &list):
			at.Msg = fmt.Sprintf("%s has %d problem(s), listed below", r.Path, len(list))
		default:
			at.Msg = err.Error()
		}
		cs.System = nil
		p.sysErrs = append(p.sysErrs, systemErr{at: at, list: list})
	}
}

// appendErr keeps err's problems; an error that is not a list becomes one
// problem of the file.
func (p *campaignParser) appendErr(err error) {
	if err == nil {
		return
	}
	var list ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			p.addOnce(e)
		}
		return
	}
	p.addOnce(&Error{File: p.cf.File, Msg: err.Error()})
}

func (p *campaignParser) addOnce(e *Error) {
	if k := e.Error(); !p.seen[k] {
		p.seen[k] = true
		p.errs = append(p.errs, e)
	}
}

// result is every problem in line order, the system file's right after
// the problem that names it.
func (p *campaignParser) result() error {
	all := append(p.c.errs, p.errs...)
	listed := map[*Error]ErrorList{}
	for _, se := range p.sysErrs {
		all = append(all, se.at)
		listed[se.at] = se.list
	}
	if len(all) == 0 {
		return nil
	}
	// Problems found by different passes meet on a line (a flow-style
	// targets list): the field's order keeps them readable.
	slices.SortStableFunc(all, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return compareFields(a.Field, b.Field)
	})
	if len(listed) == 0 {
		return all
	}
	out := make(ErrorList, 0, len(all))
	for _, e := range all {
		out = append(out, e)
		out = append(out, listed[e]...)
	}
	return out
}

// compareFields orders field paths with their indices as numbers:
// targets[2] before targets[10].
func compareFields(a, b string) int {
	for a != "" && b != "" {
		na, ra := leadingNumber(a)
		nb, rb := leadingNumber(b)
		switch {
		case ra != a && rb != b: // both start with a number
			if na != nb {
				return na - nb
			}
			a, b = ra, rb
		case a[0] != b[0]:
			return int(a[0]) - int(b[0])
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) - len(b)
}

// leadingNumber splits the digits s starts with off it.
func leadingNumber(s string) (int, string) {
	n, i := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 9; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, s[i:]
}

// refErrors rewords the decoder's errors on the two fields read through a
// Ref, whose messages speak of definition files.
func refErrors(errs ErrorList) ErrorList {
	for _, e := range errs {
		rest, ok := strings.CutPrefix(e.Msg, "want a path to a definition file, or the definition inline, ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(e.Field, "targets["):
			e.Msg = "want a service name, all, or a selector such as {role: leaf}, " + rest
		case strings.HasSuffix(e.Field, ".behaviors"):
			e.Msg = "want a mapping of behaviours such as {net-delay: {time: 100ms}}, " + rest
		}
	}
	return errs
}

// subDecoder is a decoder for a node of this file: it sees the file's
// anchors, and its lines are the file's.
func (p *campaignParser) subDecoder() *decoder {
	d := newDecoder(p.cf.File)
	d.anchors = p.d.anchors
	return d
}
