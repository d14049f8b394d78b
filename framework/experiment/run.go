package experiment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/eval"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/local"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
)

// cleanupTimeout bounds clearing faults and flushing spans, which run even
// when the run's context is cancelled.
const cleanupTimeout = 30 * time.Second

// stopTimeout bounds the runtime's teardown, which runs even when the run's
// context is cancelled, after the faults are cleared. It is longer than
// cleanupTimeout because a Kubernetes namespace is gone only once its pods
// have stopped (their grace period) and the namespace controller has swept
// it: on the offline 2-core node that took over 30 s, and the run failed
// with the system still terminating. The kube runtime bounds its own wait
// (kube.Options.DeleteTimeout, 3 min by default, for its pods and then its
// namespace); this is the margin above it, and the local runtime's Stop
// returns in seconds.
const stopTimeout = 5 * time.Minute

// minBaselineSteps is the fewest baseline samples the assertions accept.
const minBaselineSteps = 5

// Run deploys the system, starts load (t0), pushes the fault timeline to the
// agents ahead of time, watches steady state and guardrails, and when load
// ends collects the agents' ground truth and every metric family, writes the
// dataset and stops the runtime. Faults are cleared on every way out.
func (e *Experiment) Run(ctx context.Context) (res *Result, err error) {
	if err := e.normalize(); err != nil {
		return nil, err
	}
	seed := e.seed()
	rt := e.Runtime
	if rt == nil {
		l, err := local.New(local.Options{Seed: seed, ScrapeInterval: e.Step, Logger: e.Logger, LegacyMetrics: e.OriginalMetricNames, Jaeger: e.Jaeger})
		if err != nil {
			return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
		}
		rt = l
	}
	started := time.Now()
	id := runID(started, seed)
	log := e.Logger.With("experiment", e.Name, "run", id)
	prog := newProgress(e.Progress)
	defer prog.done()

	prog.say("deploying %s (%d services) on the %s runtime", e.System.Name, len(e.System.Services), rt.Name())
	dep, err := rt.Start(ctx, e.System)
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if serr := rt.Stop(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("experiment %s: stop runtime: %w", e.Name, serr))
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("experiment %s: deploy: %w", e.Name, err)
	}
	log.Info("deployed", "services", len(dep.Services), "prometheus", dep.PrometheusURL)
	if dep.JaegerURL != "" {
		prog.say("traces searchable in Jaeger while the run goes on: %s", dep.JaegerURL)
	}
	if iso, ok := strings.CutPrefix(dep.Isolation, "none: "); ok {
		// A fault here reaches services that share nothing with its target
		// but the machine: the dataset says so (manifest isolation), and so
		// does the output, before anyone reads the numbers.
		prog.say("warning: services are not isolated from one another (%s): resource faults will also slow unrelated services", iso)
		log.Warn("services are not isolated", "reason", iso)
	}
	if e.StateFile != "" {
		dep.PID = os.Getpid()
		if err := runtime.Save(e.StateFile, dep); err != nil {
			return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
		}
		defer os.Remove(e.StateFile)
	}

	// The timeline's length does not depend on t0, so load can be given its
	// duration before it starts.
	probe, err := NewTimeline(time.Time{}, e.Phases, e.Faults, minBaselineSteps*e.Step)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
	}
	ls, err := e.loadSpec(dep, probe.Duration(), fault.DeriveSeed(seed, "load"))
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
	}
	// The load's root spans go where the services' spans go; the provider
	// is flushed once load ends, before the spans are read.
	flushRoots := func() {}
	if dep.Traces != nil && dep.OTLPEndpoint != "" {
		tp, err := traces.NewProvider(traces.ExportOptions{
			Endpoint: dep.OTLPEndpoint, SampleRatio: e.TraceSampleRatio, System: e.System.Name, Service: traces.LoadService,
		})
		if err != nil {
			return nil, fmt.Errorf("experiment %s: load tracing: %w", e.Name, err)
		}
		ls.Tracer = tp.Tracer("github.com/vecrosim/vecro/framework/load")
		var once sync.Once
		flushRoots = func() {
			once.Do(func() {
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
				defer cancel()
				if err := tp.Shutdown(fctx); err != nil {
					log.Warn("flush the load's spans", "err", err)
				}
			})
		}
		defer flushRoots()
	}
	lr, err := load.Start(ctx, ls)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: start load: %w", e.Name, err)
	}
	defer lr.Stop()
	t0 := lr.Stats().Start
	tl, _ := NewTimeline(t0, e.Phases, e.Faults, minBaselineSteps*e.Step)

	var planned []fault.Planned
	agents := dep.Agents()
	if e.Faults != nil {
		targets := fault.Targets{}
		for _, s := range dep.Services {
			eps, _ := dep.AgentsOf(s.Name)
			targets[s.Name] = eps
		}
		planned, err = fault.Plan(e.Faults, targets, t0, seed)
		if err != nil {
			return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
		}
		var as []agent.Assignment
		for _, p := range planned {
			for _, ep := range p.Agents {
				as = append(as, agent.Assignment{Endpoint: ep, Fault: p.Wire()})
			}
		}
		// Every way out of Run clears every agent, including a panic in the
		// code below and a cancelled context.
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			if _, cerr := agent.ClearAll(cctx, agents); cerr != nil {
				err = errors.Join(err, fmt.Errorf("experiment %s: clear faults: %w", e.Name, cerr))
			}
		}()
		if _, err := agent.PushAll(ctx, as); err != nil {
			return nil, fmt.Errorf("experiment %s: push faults: %w", e.Name, err)
		}
		log.Info("faults pushed", "faults", len(planned), "assignments", len(as))
	}

	if err := e.watch(ctx, tl, lr, dep.Failures, agents, prog); err != nil {
		return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
	}
	report := lr.Wait()
	flushRoots()

	res = &Result{Name: e.Name, RunID: id, Seed: seed, Timeline: tl, Load: report, Deployment: dep, Runtime: rt.Name()}
	// failed is the ground truth's verdict on the run: it does not stop the
	// collection, since a dataset of what really happened is the evidence.
	var failed error
	if len(planned) > 0 {
		res.Windows = groundTruth(ctx, planned, agents, log)
		failed = checkApplied(res.Windows, log, prog)
	}

	// One more scrape, so the last step's samples are in the TSDB; and
	// the services' last batch of spans.
	prog.say("collecting %d metric families", len(e.Families))
	settle := e.Step + e.Step/2
	if dep.Traces != nil {
		settle = max(settle, 2*traces.DefaultBatchTimeout)
	}
	if err := sleep(ctx, settle); err != nil {
		return nil, err
	}
	r := metrics.Range{Start: t0, End: tl.End, Step: e.Step}
	res.Tables = map[string]metrics.Table{}
	for _, name := range e.Families {
		fam, _ := metrics.LookupFamily(name)
		t, err := metrics.CollectTable(ctx, dep.Metrics, fam.WithWindows(e.Windows), metrics.Flavor(rt.Name()), metrics.Scope{System: e.System.Name, Namespace: dep.Namespace}, r)
		if err != nil {
			return nil, fmt.Errorf("experiment %s: collect %s: %w", e.Name, name, err)
		}
		res.Tables[name] = declaredColumns(t, fam, e.System)
	}

	collected := time.Now()
	if dep.Traces != nil {
		spans, st, err := dep.Traces.Spans(ctx, t0, collected)
		if err != nil {
			return nil, fmt.Errorf("experiment %s: collect spans: %w", e.Name, err)
		}
		res.Traces = &dataset.Traces{Spans: spans, Stats: st, SampleRatio: cmp.Or(e.TraceSampleRatio, 1)}
	}
	if dep.Logs != nil {
		lines, st, err := dep.Logs.Lines(ctx, t0, collected)
		if err != nil {
			return nil, fmt.Errorf("experiment %s: collect logs: %w", e.Name, err)
		}
		res.Logs = &dataset.Logs{Lines: lines, Stats: st, Dropped: logLinesDropped(ctx, dep.Metrics, e.System.Name, r),
			Written: logLinesWritten(ctx, dep.Metrics, e.System.Name, t0, collected)}
		if w := res.Logs.Written; w >= 0 && float64(len(lines)) < 0.98*w-50 {
			prog.say("logs: %d lines read of about %.0f written in the run: the rest were lost before they could be read (a kubelet rotating a container's log at its size limit keeps the last file only)", len(lines), w)
		}
	}

	res.Dir, err = dataset.Write(e.ArtifactsDir, e.datasetRun(res, failed))
	if err != nil {
		return res, errors.Join(fmt.Errorf("experiment %s: %w", e.Name, err), failed)
	}
	if failed != nil {
		prog.say("dataset of the failed run written to %s", res.Dir)
		return res, fmt.Errorf("experiment %s: %w (dataset marked failed: %s)", e.Name, failed, res.Dir)
	}
	prog.say("dataset written to %s", res.Dir)
	if e.RCAEval {
		n, err := exportRCAEval(res)
		if err != nil {
			return res, fmt.Errorf("experiment %s: %w", e.Name, err)
		}
		prog.say("%d RCAEval cases written to %s", n, filepath.Join(res.Dir, RCAEvalDir))
	}
	return res, nil
}

// RCAEvalDir is where in a dataset Experiment.RCAEval writes RCAEval's
// layout.
const RCAEvalDir = "rcaeval"

// exportRCAEval writes the dataset of res in RCAEval's layout beside it. A
// fault that cannot be exported (applied on some instances only: RCAEval
// cannot say so) is an error, as the option asked for every fault.
func exportRCAEval(res *Result) (int, error) {
	c, err := eval.LoadCase(res.RunID, res.Dir)
	if err != nil {
		return 0, fmt.Errorf("RCAEval export: %w", err)
	}
	exported, skipped, err := eval.ExportRCAEval([]eval.Case{c}, filepath.Join(res.Dir, RCAEvalDir))
	if err == nil && len(skipped) > 0 {
		err = fmt.Errorf("not exported: %s", strings.Join(skipped, "; "))
	}
	if err != nil {
		return len(exported), fmt.Errorf("RCAEval export of %s: %w", res.Dir, err)
	}
	return len(exported), nil
}

// logLinesDropped is how many request log lines the instances' rate caps
// dropped by the end of r, or -1 when the metrics cannot say.
func logLinesDropped(ctx context.Context, src metrics.Source, system string, r metrics.Range) float64 {
	v, ok := systemTotal(ctx, src, "vecro_log_lines_dropped_total", system, r.End)
	if !ok {
		return -1
	}
	return v
}

// logLinesWritten is about how many request and error log lines the
// instances wrote between from and to, by their counters at both ends, or
// -1 when the metrics cannot say.
func logLinesWritten(ctx context.Context, src metrics.Source, system string, from, to time.Time) float64 {
	end, ok := systemTotal(ctx, src, "vecro_log_lines_total", system, to)
	if !ok {
		return -1
	}
	// No sample yet at the start: the instances wrote nothing before it.
	start, _ := systemTotal(ctx, src, "vecro_log_lines_total", system, from)
	return end - start
}

// systemTotal is the sum of the system's instances' counter at t, and
// whether the metrics hold it.
func systemTotal(ctx context.Context, src metrics.Source, counter, system string, t time.Time) (float64, bool) {
	if src == nil {
		return 0, false
	}
	ss, err := src.Query(ctx, fmt.Sprintf("sum(%s{vecro_system=%q})", counter, system), t)
	if err != nil || len(ss) != 1 || len(ss[0].Points) == 0 {
		return 0, false
	}
	return ss[0].Points[len(ss[0].Points)-1].V, true
}

// groundTruth reads every agent's record of its faults and merges them into
// windows. An agent that cannot be read does not void what the others
// measured: its instances count as not having applied their faults, with
// the reason, so the run fails or warns on what is known.
func groundTruth(ctx context.Context, planned []fault.Planned, agents []agent.Endpoint, log *slog.Logger) []fault.Window {
	reports, lerr := agent.ListAll(ctx, agents)
	unread := map[string]string{}
	if lerr != nil {
		log.Warn("some agents could not be read", "err", lerr)
		for _, ep := range agents {
			if _, ok := reports[ep.Instance]; ok {
				continue
			}
			// ListAll joins its failures; ask again to tell which is whose.
			sts, err := agent.NewClient(ep).List(ctx)
			if err != nil {
				unread[ep.Instance] = err.Error()
				continue
			}
			reports[ep.Instance] = sts
		}
	}
	ws := fault.Windows(planned, reports)
	for i := range ws {
		for _, in := range ws[i].NotApplied() {
			if why, ok := unread[in]; ok {
				ws[i].Errors[in] = "could not read the agent: " + why
			}
		}
	}
	return ws
}

// checkApplied fails a run in which a fault was applied on no instance
// (every agent refused it, or none has a record of it): its dataset would
// label a fault that never happened. A fault applied on some of its
// instances is a warning; its labels say which.
func checkApplied(ws []fault.Window, log *slog.Logger, prog *progress) error {
	var errs []error
	for _, w := range ws {
		switch w.Status {
		case fault.StatusFailed:
			errs = append(errs, errors.New(w.Problem()))
			log.Error("fault not applied", "fault", w.Fault, "behavior", w.Behavior, "errors", w.Errors)
		case fault.StatusPartial:
			prog.say("warning: %s", w.Problem())
			log.Warn("fault applied on some instances only", "fault", w.Fault, "behavior", w.Behavior,
				"applied", w.AppliedInstances, "errors", w.Errors)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("ground truth: %w", errors.Join(errs...))
}

// watch waits for the timeline to end: it prints progress, checks steady
// state at the end of the baseline (and withdraws every fault if the
// system is sick), trips the guardrail, and fails on the first of the
// deployment's failures: a dead process locally, a restarted or lost pod on
// Kubernetes, the same way on both (a nil channel never fires).
func (e *Experiment) watch(ctx context.Context, tl Timeline, lr *load.Run, failures <-chan error, agents []agent.Endpoint, prog *progress) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	checked := false
	// The complete seconds so far.
	var secs []load.Second
	abort := func(why error) error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, cerr := agent.ClearAll(cctx, agents)
		lr.Stop()
		return errors.Join(why, cerr)
	}
	for {
		select {
		case <-ctx.Done():
			return abort(fmt.Errorf("interrupted in %s: %w", tl.Phase(time.Now()), context.Cause(ctx)))
		case <-lr.Done():
			return nil
		case err := <-failures:
			return abort(fmt.Errorf("the system failed during %s: %w", tl.Phase(time.Now()), err))
		case now := <-tick.C:
			secs = append(secs, lr.Seconds(len(secs))...)
			prog.update(tl, now, lr.Stats())
			if !checked && len(tl.Faults) > 0 && !now.Before(tl.Faults[0].Start.Add(-e.Step)) {
				checked = true
				if err := e.SteadyState.check(secs, tl); err != nil {
					return abort(fmt.Errorf("steady state not reached, no fault injected: %w", err))
				}
			}
			if err := e.Guardrail.check(secs); err != nil {
				return abort(fmt.Errorf("guardrail tripped during %s: %w", tl.Phase(now), err))
			}
		}
	}
}

// check looks at the client's per-second statistics over the baseline.
func (s SteadyState) check(secs []load.Second, tl Timeline) error {
	var sent, failed uint64
	var p99s []float64
	for _, sec := range secs {
		if sec.Time.Before(tl.Baseline.Start) || !sec.Time.Before(tl.Baseline.End) {
			continue
		}
		sent += sec.OK + sec.Errors
		failed += sec.Errors
		if sec.P99 > 0 {
			p99s = append(p99s, float64(sec.P99))
		}
	}
	if sent == 0 {
		return errors.New("no request was answered during the baseline")
	}
	if rate := float64(failed) / float64(sent); rate > s.MaxErrorRate {
		return fmt.Errorf("error rate %.3f over the baseline, above %.3f (%d of %d requests failed)", rate, s.MaxErrorRate, failed, sent)
	}
	sort.Float64s(p99s)
	if len(p99s) > 0 {
		if m := time.Duration(p99s[len(p99s)/2]); m > s.MaxP99 {
			return fmt.Errorf("median per-second p99 %v over the baseline, above %v", m, s.MaxP99)
		}
	}
	return nil
}

// check trips when every complete second of the last For failed more than
// MaxErrorRate of its answers.
func (g Guardrail) check(secs []load.Second) error {
	if g.MaxErrorRate < 0 {
		return nil
	}
	n := int(g.For / time.Second)
	if n < 1 || len(secs) < n {
		return nil
	}
	var sent, failed uint64
	for _, sec := range secs[len(secs)-n:] {
		answered := sec.OK + sec.Errors
		if answered == 0 || float64(sec.Errors)/float64(answered) <= g.MaxErrorRate {
			return nil
		}
		sent += answered
		failed += sec.Errors
	}
	return fmt.Errorf("error rate above %.2f for %v (%d of %d requests failed)", g.MaxErrorRate, g.For, failed, sent)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// datasetRun assembles what the dataset package writes; a non-nil failed
// marks the dataset failed with that reason.
func (e *Experiment) datasetRun(res *Result, failed error) dataset.Run {
	tables := make([]metrics.Table, 0, len(res.Tables))
	fams := map[string]string{}
	for _, name := range e.Families {
		t := res.Tables[name]
		tables = append(tables, t)
		fam, _ := metrics.LookupFamily(name)
		var ns string
		if res.Deployment != nil {
			ns = res.Deployment.Namespace
		}
		fams[name], _ = fam.WithWindows(e.Windows).Expr(metrics.Flavor(res.Runtime), metrics.Scope{System: e.System.Name, Namespace: ns})
	}
	seconds := res.Load.Seconds
	status, failure := dataset.StatusOK, ""
	if failed != nil {
		status, failure = dataset.StatusFailed, failed.Error()
	}
	return dataset.Run{
		Manifest: dataset.Manifest{
			Experiment: e.Name, RunID: res.RunID, Runtime: res.Runtime, Namespace: namespaceOf(res.Deployment), Monitoring: monitoringOf(res.Deployment), Isolation: isolationOf(res.Deployment), Seed: res.Seed,
			System: e.System, Faults: e.Faults, Load: e.Load,
			Phases: map[string]any{"warm_up": e.Phases.withDefaults().WarmUp.String(), "baseline": res.Timeline.Baseline.End.Sub(res.Timeline.Baseline.Start).String(),
				"recovery": e.Phases.withDefaults().Recovery.String(), "steady_state": e.SteadyState, "guardrail": e.Guardrail},
			T0: res.Timeline.T0, Start: res.Timeline.T0, End: res.Timeline.End, Step: spec.Duration(e.Step),
			Baseline: [2]time.Time{res.Timeline.Baseline.Start, res.Timeline.Baseline.End},
			Families: fams, Versions: versions(),
			Status: status, Failure: failure,
		},
		Tables:  tables,
		Windows: res.Windows,
		Load:    func(w io.Writer) error { return load.WriteCSV(w, seconds) },
		Social9: e.Social9,
		NoPlots: e.NoPlots,
		Traces:  res.Traces,
		Logs:    res.Logs,
	}
}

func isolationOf(dep *runtime.Deployment) string {
	if dep == nil {
		return ""
	}
	return dep.Isolation
}

func namespaceOf(dep *runtime.Deployment) string {
	if dep == nil {
		return ""
	}
	return dep.Namespace
}

func monitoringOf(dep *runtime.Deployment) string {
	if dep == nil {
		return ""
	}
	return dep.Monitoring
}

// versions records what produced a dataset: the module's version and
// revision, Go, and the libraries that shape the numbers.
func versions() map[string]string {
	v := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v["go"] = bi.GoVersion
	v["vecro"] = bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v["vecro_revision"] = s.Value
		}
	}
	for _, d := range bi.Deps {
		if slices.Contains([]string{"github.com/prometheus/prometheus", "github.com/prometheus/client_golang", "github.com/Shopify/toxiproxy/v2", "github.com/HdrHistogram/hdrhistogram-go"}, d.Path) {
			v[d.Path] = d.Version
		}
	}
	return v
}
