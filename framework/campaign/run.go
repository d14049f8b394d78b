package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
)

// Options tune Run; the zero value runs the cases one at a time, quietly.
type Options struct {
	// Progress receives the campaign's progress: on a terminal a line
	// redrawn every second (the running case, its phase, the time left),
	// elsewhere one line per finished case.
	Progress io.Writer
	// Logger receives the campaign's events and, unless Prepare sets
	// another, every case's; default none.
	Logger *slog.Logger
	// RetryFailed runs the cases an earlier run left failed again; by
	// default they keep their outcome, as evidence, and are not rerun.
	RetryFailed bool
	// Parallel is how many cases run at once, each in its own slot
	// (0 to Parallel-1); 0 and 1 mean one. Above 1 Run refuses unless
	// Isolated or ForceParallel is set (see the package doc).
	Parallel int
	// Isolated says that cases in different slots do not share what they
	// measure: Prepare gives each slot a namespace of its own on a
	// cluster. ForceParallel runs them side by side although they do.
	Isolated, ForceParallel bool
	// Prepare is called with each case's experiment and the slot it runs
	// in before it runs, to set what the caller sets on every run: a
	// runtime (one per slot, or per case), a logger, social9. No two cases
	// run in the same slot at once.
	Prepare func(slot int, c *Case, e *experiment.Experiment)
	// Starting, when set, is told what this run will do once cases.csv is
	// read and before the first case starts: how many cases an earlier run
	// left alone (kept), how many run now, and their estimated time — so a
	// resumed campaign announces the rest, not the whole plan.
	Starting func(kept, toRun int, estimate time.Duration)

	// run runs one experiment; tests put a fake here.
	run func(context.Context, *experiment.Experiment) (*experiment.Result, error)
}

// MaxConsecutiveFailures stops a campaign whose last cases all failed
// without writing a dataset (a runtime that cannot deploy, a machine too
// busy to reach steady state): their rows say failed, the rest stay
// planned for a later run, rather than every case failing the same way.
const MaxConsecutiveFailures = 3

// Summary is what a Run did.
type Summary struct {
	// Dir is the corpus: <artifacts>/<campaign>.
	Dir string
	// Cases is how many the plan has; Kept how many an earlier run had
	// completed (or failed, without RetryFailed) and this one left alone.
	Cases, Kept int
	// Outcomes of the cases this run ran.
	Complete, Failed, Partial int
	// Failures say why each failed case failed, in the order they ran.
	Failures []CaseError
	Elapsed  time.Duration
}

// CaseError is why a case failed.
type CaseError struct {
	Case string
	Err  error
}

func (e CaseError) Error() string { return e.Case + ": " + e.Err.Error() }

// Run runs the plan's cases and writes the corpus under artifactsDir (see
// the package doc). It returns an error when the corpus cannot be kept
// (cases.csv unreadable, written by another campaign), when too many
// cases in a row failed, or when ctx ended: then cases.csv says which
// cases are complete, and a second Run resumes. A case that failed is in
// Summary.Failures, not in the error.
func Run(ctx context.Context, plan Plan, artifactsDir string, opts Options) (sum Summary, err error) {
	started := time.Now()
	defer func() { sum.Elapsed = time.Since(started) }()
	workers := max(opts.Parallel, 1)
	if workers > 1 && !opts.Isolated && !opts.ForceParallel {
		return sum, fmt.Errorf("campaign %s: %d cases at once on one machine would share its CPUs and measure each other's load: the local runtime runs cases one at a time (run on Kubernetes, where each slot has a namespace of its own, or force it anyway with --force-parallel)", plan.Name, workers)
	}
	if len(plan.Cases) == 0 {
		return sum, fmt.Errorf("campaign %s: no cases to run", plan.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.run == nil {
		opts.run = func(ctx context.Context, e *experiment.Experiment) (*experiment.Result, error) { return e.Run(ctx) }
	}
	corpus := filepath.Join(artifactsDir, plan.Name)
	sum.Dir, sum.Cases = corpus, len(plan.Cases)
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		return sum, fmt.Errorf("campaign %s: %w", plan.Name, err)
	}
	index := filepath.Join(corpus, dataset.CasesFile)
	rows := make([]Row, len(plan.Cases))
	for i, c := range plan.Cases {
		rows[i] = c.Row()
	}
	if fileExists(index) {
		old, err := ReadCases(index)
		if err != nil {
			return sum, fmt.Errorf("campaign %s: %w", plan.Name, err)
		}
		if rows, err = resume(corpus, rows, old, opts.RetryFailed); err != nil {
			return sum, fmt.Errorf("campaign %s: %w", plan.Name, err)
		}
	}
	var todo []int
	for i, r := range rows {
		if r.Status == dataset.CasePlanned {
			todo = append(todo, i)
		}
	}
	sum.Kept = len(rows) - len(todo)
	if err := WriteCases(index, rows); err != nil {
		return sum, fmt.Errorf("campaign %s: %w", plan.Name, err)
	}
	log := opts.Logger.With("campaign", plan.Name)
	log.Info("campaign", "cases", len(rows), "kept", sum.Kept, "to run", len(todo), "corpus", corpus)

	prog := newProgress(opts.Progress, len(rows), sum.Kept, workers)
	defer prog.close()
	var estimate time.Duration
	for _, i := range todo {
		est := plan.Cases[i].Duration + CaseOverhead
		prog.plan(est)
		estimate += est
	}
	if opts.Starting != nil {
		opts.Starting(sum.Kept, len(todo), estimate)
	}

	var (
		mu        sync.Mutex
		saveErr   error
		streak    int // cases in a row that failed without a dataset
		streakErr error
	)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	// save rewrites the index with row i changed; it runs under mu.
	save := func(i int, r Row) {
		rows[i] = r
		if err := WriteCases(index, rows); err != nil && saveErr == nil {
			saveErr = err
			stop(err)
		}
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for _, i := range todo {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for slot := range workers {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				c := plan.Cases[i]
				mu.Lock()
				r := rows[i]
				r.Status = dataset.CasePartial
				save(i, r)
				mu.Unlock()
				removePartials(filepath.Join(corpus, c.ID), log)

				e := *c.Experiment
				e.ArtifactsDir, e.Logger, e.Progress = corpus, opts.Logger, prog.caseWriter(c.ID)
				if opts.Prepare != nil {
					opts.Prepare(slot, &c, &e)
				}
				prog.begin(c.ID, c.Duration+CaseOverhead)
				began := time.Now()
				res, runErr := opts.run(ctx, &e)
				interrupted := ctx.Err() != nil
				r = outcome(corpus, r, res, interrupted)

				mu.Lock()
				save(i, r)
				switch r.Status {
				case dataset.CaseComplete:
					sum.Complete++
				case dataset.CaseFailed:
					sum.Failed++
					if runErr == nil {
						runErr = errors.New("the dataset is marked failed")
					}
					sum.Failures = append(sum.Failures, CaseError{Case: c.ID, Err: runErr})
				case dataset.CasePartial:
					sum.Partial++
				}
				if r.Status == dataset.CaseFailed && r.Dataset == "" {
					if streak++; streak >= MaxConsecutiveFailures && streakErr == nil {
						streakErr = fmt.Errorf("the last %d cases failed without a dataset (the last: %v): stopped; the cases not run stay planned", streak, runErr)
						stop(streakErr)
					}
				} else if r.Status == dataset.CaseComplete {
					streak = 0
				}
				mu.Unlock()
				prog.end(c.ID, r.Status, time.Since(began), runErr)
				log.Info("case", "case", c.ID, "status", r.Status, "dataset", r.Dataset, "err", runErr)
			}
		})
	}
	wg.Wait()
	switch {
	case saveErr != nil:
		return sum, fmt.Errorf("campaign %s: %w", plan.Name, saveErr)
	case streakErr != nil:
		return sum, fmt.Errorf("campaign %s: %w", plan.Name, streakErr)
	case ctx.Err() != nil:
		done := sum.Kept + sum.Complete + sum.Failed
		return sum, fmt.Errorf("campaign %s: stopped after %d of %d cases (%v); %s says which, run the campaign again to resume",
			plan.Name, done, len(rows), context.Cause(ctx), index)
	}
	return sum, nil
}

// resume carries an earlier run's outcomes over into the plan's rows:
// complete cases whose dataset is still whole, and failed ones unless
// retryFailed; every other case is planned again. A row for a case the
// plan does not have, or defines otherwise (another seed, other
// parameters), means the corpus is another campaign's, or this one's
// before an edit: mixing them would be a corpus no one file describes.
func resume(corpus string, planned, old []Row, retryFailed bool) ([]Row, error) {
	at := make(map[string]int, len(planned))
	for i, r := range planned {
		at[r.Case] = i
	}
	out := append([]Row(nil), planned...)
	for _, o := range old {
		i, ok := at[o.Case]
		if !ok {
			return nil, fmt.Errorf("%s holds case %s, which the campaign does not plan: the corpus is another campaign's or an earlier version's; write to another artifacts directory, or move it away", dataset.CasesFile, o.Case)
		}
		if o.definition() != planned[i].definition() {
			return nil, fmt.Errorf("%s has case %s as %s, the campaign plans it as %s: the campaign changed since; write to another artifacts directory, or move the corpus away",
				dataset.CasesFile, o.Case, describe(o), describe(planned[i]))
		}
		switch o.Status {
		case dataset.CaseComplete:
			if o.Dataset != "" && whole(filepath.Join(corpus, o.Dataset)) {
				out[i] = o
			}
		case dataset.CaseFailed:
			if !retryFailed {
				out[i] = o
			}
		}
	}
	return out, nil
}

// describe names what defines a case, for the resume error.
func describe(r Row) string {
	return fmt.Sprintf("%s %s on %s with %s, seed %d (system %s)", r.Fault, r.Behavior, r.Target, r.Params, r.Seed, r.System)
}

// whole reports whether dir holds a complete dataset of a run that went
// as planned.
func whole(dir string) bool {
	m, err := dataset.ReadManifest(dir)
	return err == nil && m.Complete && (m.Status == "" || m.Status == dataset.StatusOK)
}

// outcome is row r after its case ran: read from the dataset the run
// wrote, if any — its manifest says complete or failed and its labels.csv
// the first fault's windows — and otherwise failed, or partial when the
// run was interrupted (a case to run again).
func outcome(corpus string, r Row, res *experiment.Result, interrupted bool) Row {
	r.Status, r.Dataset = dataset.CaseFailed, ""
	r.PlannedStart, r.PlannedEnd, r.AppliedStart, r.AppliedEnd = "", "", "", ""
	if interrupted {
		r.Status = dataset.CasePartial
	}
	if res == nil || res.Dir == "" {
		return r
	}
	m, err := dataset.ReadManifest(res.Dir)
	if err != nil || !m.Complete {
		// A .partial directory: the run stopped while writing it.
		r.Status = dataset.CasePartial
		return r
	}
	if rel, err := relTo(corpus, res.Dir); err == nil {
		r.Dataset = rel
	}
	r.Status = dataset.CaseFailed
	if m.Status == "" || m.Status == dataset.StatusOK {
		r.Status = dataset.CaseComplete
	}
	labels, err := dataset.Labels(res.Dir)
	if err != nil || len(labels) == 0 {
		return r
	}
	first := labels[0]
	for _, l := range labels[1:] {
		if l["planned_start"] < first["planned_start"] {
			first = l
		}
	}
	r.PlannedStart, r.PlannedEnd = first["planned_start"], first["planned_end"]
	r.AppliedStart, r.AppliedEnd = first["applied_start"], first["applied_end"]
	return r
}

// relTo is dir relative to base, both made absolute first.
func relTo(base, dir string) (string, error) {
	ab, err := filepath.Abs(base)
	if err != nil {
		return "", err
	}
	ad, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.Rel(ab, ad)
}

// removePartials removes what an interrupted run of a case left: run
// directories that never completed. The case runs again into a new one.
func removePartials(caseDir string, log *slog.Logger) {
	entries, err := os.ReadDir(caseDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasSuffix(e.Name(), ".partial") {
			p := filepath.Join(caseDir, e.Name())
			if err := os.RemoveAll(p); err != nil {
				log.Warn("remove an interrupted run's directory", "dir", p, "err", err)
			}
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
