package experiment

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
)

// Experiment is one chaos experiment: a system, the faults to inject, the
// load that exercises it and the phases around the faults. Run it with Run
// (or ginkgorun.MustRun in a Ginkgo spec).
type Experiment struct {
	// Name names the dataset directory; default: the fault file's name, or
	// the system's.
	Name string
	// System is the system under test.
	System *spec.System
	// Faults are injected on the timeline; nil runs a baseline only.
	Faults *spec.FaultFile
	// Load drives the system from t0 to the end of recovery.
	Load Load
	// Phases around the faults.
	Phases Phases
	// Step is the dataset's resolution (and the scrape interval of the
	// embedded runtime). Default 1s.
	Step time.Duration
	// Seed makes the run replayable: fault draws, replica choice, load
	// arrivals, service jitter. It wins over the fault file's seed; when
	// both are absent one is drawn and recorded in the manifest.
	Seed *int64
	// Runtime runs the system; default: the embedded runtime
	// (runtime/local) with its defaults.
	Runtime runtime.Runtime
	// ArtifactsDir receives the dataset as <Name>/<run-id>/; default
	// $ARTIFACTS_DIR, else "artifacts".
	ArtifactsDir string
	// Families are the metric families collected; default all of them.
	Families []string
	// Windows are the range-selector lengths of the families' PromQL;
	// default ShortWindows, which suit phases of tens of seconds.
	Windows metrics.Windows
	// SteadyState is checked at the end of the baseline, before the first
	// fault starts.
	SteadyState SteadyState
	// Guardrail aborts the run when the system breaks down.
	Guardrail Guardrail
	// Social9 also writes the original VECROsim dataset layout.
	Social9 bool
	// RCAEval also writes the run in RCAEval's layout under rcaeval/ in
	// its dataset (as `vecro export --format rcaeval` would): one case
	// folder per applied fault, <target>_<fault>/1/, which RCAEval's
	// loaders and baselines read unchanged.
	RCAEval bool
	// NoPlots skips the PNG plots.
	NoPlots bool
	// OriginalMetricNames makes the embedded runtime's services also serve
	// the original's vecro_base_<system>_* series, for the original's
	// scripts; a Runtime given here has its own option.
	OriginalMetricNames bool
	// TraceSampleRatio is the share of load requests traced, each as a
	// whole trace (the services follow its root's decision), where the
	// runtime collects spans: 0 means all of them; lower it for long runs.
	TraceSampleRatio float64
	// Jaeger, when set, is a jaeger executable that the embedded runtime
	// runs beside the system (local.Options.Jaeger), so that the traces
	// can be searched while the run goes on; a Runtime given here has its
	// own option.
	Jaeger string
	// Logger receives the run's events; default none.
	Logger *slog.Logger
	// StateFile, when set, receives the running deployment's state (as
	// `vecro deploy` writes it) from deploy to stop, so that `vecro faults
	// clear` and `vecro collect` work on a running experiment.
	StateFile string
	// Progress receives a progress line every second (a terminal) or every
	// phase change (anything else); nil for none.
	Progress io.Writer

	// err is a problem found while the experiment was put together (by
	// FromFiles), reported by Run, so that construction can be inline.
	err error
}

// Load is the experiment's load: a closed loop (Users, Delay: the seed's
// semantics) unless Rate is set (an open loop at that schedule).
type Load struct {
	// Services get the requests; default the system's entry services (those
	// no other service calls).
	Services []string `json:"services,omitempty"`
	Users    int      `json:"users,omitempty"`
	// Delay is each user's period.
	Delay time.Duration `json:"delay,omitempty"`
	// Rate is an open-loop schedule in load.ParseSchedule's syntax
	// ("200", "10..200/30s", "100,200@30s").
	Rate string `json:"rate,omitempty"`
	// Arrivals is "uniform" (default) or "poisson".
	Arrivals string        `json:"arrivals,omitempty"`
	Method   string        `json:"method,omitempty"`
	Body     string        `json:"body,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
}

// DefaultLoad is a light closed loop: enough traffic for stable per-second
// metrics on every entry service without saturating a 2-core machine.
var DefaultLoad = Load{Users: 2, Delay: 200 * time.Millisecond}

// SteadyState bounds the baseline: the experiment refuses to inject into a
// system that is already sick. Zero fields take the defaults.
type SteadyState struct {
	// MaxErrorRate is the largest share of failed requests over the
	// baseline. Default 0.05.
	MaxErrorRate float64 `json:"max_error_rate,omitempty"`
	// MaxP99 bounds the median of the client's per-second p99 latency over
	// the baseline. Default 5s.
	MaxP99 time.Duration `json:"max_p99,omitempty"`
}

// Guardrail aborts a run whose error rate stays above MaxErrorRate for For:
// faults are cleared at once and Run returns an error.
type Guardrail struct {
	// MaxErrorRate default 0.95: only a system that is down trips it, since
	// some faults (http-abort) fail requests on purpose. Negative disables.
	MaxErrorRate float64       `json:"max_error_rate,omitempty"`
	For          time.Duration `json:"for,omitempty"`
}

// ShortWindows are the PromQL windows for test-length phases: the
// original's 1 m quantile window would smear a 30 s fault.
var ShortWindows = metrics.Windows{Rate: 5 * time.Second, Quantile: 10 * time.Second, Resource: 5 * time.Second}

// FromFiles reads a system and a fault definition (faultsPath may be empty)
// into an Experiment, checking the faults against the system. A problem is
// kept and reported by Run, so that a spec reads
// ginkgorun.MustRun(ctx, experiment.FromFiles(...)).
func FromFiles(systemPath, faultsPath string) *Experiment {
	e := &Experiment{}
	sys, err := spec.LoadSystem(systemPath)
	if err != nil {
		e.err = err
		return e
	}
	e.System = sys
	if faultsPath != "" {
		ff, err := spec.LoadFaults(faultsPath)
		if err != nil {
			e.err = err
			return e
		}
		if err := spec.CheckFaults(ff, sys); err != nil {
			e.err = err
			return e
		}
		e.Faults = ff
	}
	return e
}

// Err reports a problem found while the experiment was put together.
func (e *Experiment) Err() error { return e.err }

// normalize checks e and fills in its defaults.
func (e *Experiment) normalize() error {
	if e.err != nil {
		return e.err
	}
	if e.System == nil {
		return errors.New("experiment: no system")
	}
	if e.Faults != nil {
		if err := spec.CheckFaults(e.Faults, e.System); err != nil {
			return err
		}
	}
	if e.Name == "" {
		e.Name = e.System.Name
		if e.Faults != nil && e.Faults.Name != "" {
			e.Name = e.Faults.Name
		}
	}
	if e.Step <= 0 {
		e.Step = time.Second
	}
	if !(e.TraceSampleRatio >= 0 && e.TraceSampleRatio <= 1) {
		return fmt.Errorf("experiment %s: trace sample ratio %g: want 0 < r ≤ 1 (0: all)", e.Name, e.TraceSampleRatio)
	}
	if e.Windows == (metrics.Windows{}) {
		e.Windows = ShortWindows
	}
	if e.ArtifactsDir == "" {
		e.ArtifactsDir = os.Getenv("ARTIFACTS_DIR")
		if e.ArtifactsDir == "" {
			e.ArtifactsDir = "artifacts"
		}
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Load.Users == 0 && e.Load.Delay == 0 && e.Load.Rate == "" {
		services := e.Load.Services
		e.Load = DefaultLoad
		e.Load.Services = services
	}
	if len(e.Load.Services) == 0 {
		e.Load.Services = e.System.EntryServices()
	}
	if e.SteadyState.MaxErrorRate == 0 {
		e.SteadyState.MaxErrorRate = 0.05
	}
	if e.SteadyState.MaxP99 == 0 {
		e.SteadyState.MaxP99 = 5 * time.Second
	}
	if e.Guardrail.MaxErrorRate == 0 {
		e.Guardrail.MaxErrorRate = 0.95
	}
	if e.Guardrail.For == 0 {
		e.Guardrail.For = 10 * time.Second
	}
	if len(e.Families) == 0 {
		e.Families = metrics.FamilyNames()
	}
	for _, f := range e.Families {
		if _, err := metrics.LookupFamily(f); err != nil {
			return fmt.Errorf("experiment %s: %w", e.Name, err)
		}
	}
	return nil
}

// seed returns the run's seed and where it came from.
func (e *Experiment) seed() int64 {
	if e.Seed != nil {
		return *e.Seed
	}
	if e.Faults != nil && e.Faults.Seed != nil {
		return *e.Faults.Seed
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) &^ (1 << 63))
}

// loadSpec turns the experiment's load into the generator's spec, targets
// resolved from the deployment.
func (e *Experiment) loadSpec(dep *runtime.Deployment, d time.Duration, seed int64) (load.Spec, error) {
	urls := map[string]string{}
	for _, s := range dep.Services {
		urls[s.Name] = s.URL
	}
	targets, err := load.Resolve(urls, e.Load.Services)
	if err != nil {
		return load.Spec{}, err
	}
	s := load.Spec{
		Targets: targets, Method: e.Load.Method, Body: e.Load.Body, Timeout: e.Load.Timeout,
		Duration: d, Seed: seed, Logger: e.Logger,
	}
	if e.Load.Rate != "" {
		sched, err := load.ParseSchedule(e.Load.Rate)
		if err != nil {
			return s, fmt.Errorf("experiment %s: load rate: %w", e.Name, err)
		}
		s.Rate, s.Arrivals = sched, load.Arrivals(e.Load.Arrivals)
	} else {
		s.Users, s.Delay = e.Load.Users, e.Load.Delay
	}
	return s, nil
}

// runID names a run by its start time and seed: sortable and unique enough
// for one machine, and it says how to replay the run.
func runID(t time.Time, seed int64) string {
	return fmt.Sprintf("%s-s%d", t.UTC().Format("20060102T150405Z"), seed)
}
