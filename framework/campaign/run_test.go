package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/fault"
)

func TestCasesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), dataset.CasesFile)
	rows := []Row{
		{Case: "delay-a-r1", System: "s", Fault: "delay", Behavior: "net-delay", Target: "a", Params: `{"time":"100ms","jitter":"1ms"}`,
			Repetition: 1, Seed: -3, Status: dataset.CaseComplete, Dataset: "delay-a-r1/20260101T000000Z-s1",
			PlannedStart: "2026-01-01T00:00:35.000Z", PlannedEnd: "2026-01-01T00:01:05.000Z", AppliedStart: "2026-01-01T00:00:35.001Z", AppliedEnd: "2026-01-01T00:01:05.002Z"},
		{Case: "two-a-r2", System: "s", Fault: "two;two", Behavior: "net-delay;cpu-stress", Target: "a;a", Params: `{"time":"1s"};{"load":50}`,
			Repetition: 2, Seed: 1 << 62, Status: dataset.CasePlanned},
	}
	if err := WriteCases(path, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCases(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, rows) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, rows)
	}
	b, _ := os.ReadFile(path)
	if header, _, _ := strings.Cut(string(b), "\n"); header != strings.Join(dataset.CaseColumns, ",") {
		t.Errorf("header %q", header)
	}
	// The temporary file is renamed, never left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries", len(entries))
	}

	for name, text := range map[string]string{
		"header": "case,system\nx,y\n",
		"status": strings.Join(dataset.CaseColumns, ",") + "\nc,s,f,b,t,{},1,1,done,,,,,\n",
		"seed":   strings.Join(dataset.CaseColumns, ",") + "\nc,s,f,b,t,{},1,x,planned,,,,,\n",
	} {
		p := filepath.Join(t.TempDir(), "cases.csv")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCases(p); err == nil {
			t.Errorf("%s: read a broken cases.csv", name)
		}
	}
}

// fakeRun stands in for experiment.Run: it writes a dataset as Run would,
// its labels' applied window a few ms off the planned one, unless fail
// says otherwise for the case ("error": no dataset; "unapplied": a fault no
// agent applied; "interrupt": ctx cancelled mid-run).
type fakeRun struct {
	t      *testing.T
	mu     sync.Mutex
	ran    []string
	fail   map[string]string
	cancel context.CancelFunc
	during func(e *experiment.Experiment) // called while the case "runs"
	t0     time.Time
}

func (f *fakeRun) run(ctx context.Context, e *experiment.Experiment) (*experiment.Result, error) {
	f.mu.Lock()
	f.ran = append(f.ran, e.Name)
	mode := f.fail[e.Name]
	f.mu.Unlock()
	if f.during != nil {
		f.during(e)
	}
	switch mode {
	case "error":
		return nil, fmt.Errorf("experiment %s: steady state not reached, no fault injected", e.Name)
	case "interrupt":
		f.cancel()
		return nil, fmt.Errorf("experiment %s: interrupted in baseline: %w", e.Name, ctx.Err())
	}
	t0 := f.t0
	if t0.IsZero() {
		t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	ff := e.Faults.Faults[0]
	w := fault.Window{
		Fault: ff.Name, Behavior: ff.Behaviors.List()[0].Kind(), Target: ff.Target, Params: "{}",
		Instances: []string{ff.Target + "-0"}, AppliedInstances: []string{ff.Target + "-0"}, Status: fault.StatusApplied,
		PlannedStart: t0.Add(ff.Start.D()), PlannedEnd: t0.Add(ff.End().D()),
		AppliedStart: t0.Add(ff.Start.D() + 3*time.Millisecond), AppliedEnd: t0.Add(ff.End().D() + 4*time.Millisecond),
	}
	if mode == "unapplied" {
		w.AppliedInstances, w.Status, w.AppliedStart, w.AppliedEnd = nil, fault.StatusFailed, time.Time{}, time.Time{}
		w.Errors = map[string]string{ff.Target + "-0": "refused"}
	}
	dir, err := dataset.Write(e.ArtifactsDir, dataset.Run{
		Manifest: dataset.Manifest{Experiment: e.Name, RunID: fmt.Sprintf("run-s%d", *e.Seed), Runtime: "fake", Seed: *e.Seed,
			System: e.System, Faults: e.Faults, T0: t0, Start: t0, End: t0.Add(70 * time.Second), Step: 1},
		Windows: []fault.Window{w},
		NoPlots: true,
	})
	if err != nil {
		f.t.Errorf("fake run %s: %v", e.Name, err)
		return nil, err
	}
	res := &experiment.Result{Name: e.Name, Dir: dir}
	if mode == "unapplied" {
		return res, fmt.Errorf("experiment %s: ground truth: fault %s applied nowhere", e.Name, ff.Name)
	}
	return res, nil
}

// smallPlan is a plan of n cases on the social system (nothing runs it
// for real here).
func smallPlan(t *testing.T, n int) Plan {
	t.Helper()
	p, err := LoadFile(writeCampaign(t, "  - name: delay\n    behaviors: {net-delay: {time: 100ms}}\n",
		"[user-info, login]", fmt.Sprintf("repetitions: %d\nseed: 7\n", (n+1)/2)))
	if err != nil {
		t.Fatal(err)
	}
	p.Cases = p.Cases[:n]
	return p
}

func statuses(t *testing.T, dir string) []string {
	t.Helper()
	rows, err := ReadCases(filepath.Join(dir, dataset.CasesFile))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Case + ":" + r.Status
	}
	return out
}

func TestRunAndResume(t *testing.T) {
	arts := t.TempDir()
	p := smallPlan(t, 4)
	f := &fakeRun{t: t}
	// While a case runs, cases.csv already says it is under way.
	f.during = func(e *experiment.Experiment) {
		for _, s := range statuses(t, filepath.Join(arts, p.Name)) {
			if strings.HasPrefix(s, e.Name+":") && s != e.Name+":partial" {
				t.Errorf("while %s runs, cases.csv has %s", e.Name, s)
			}
		}
	}
	sum, err := Run(context.Background(), p, arts, Options{run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(arts, "c")
	if sum.Dir != corpus || sum.Cases != 4 || sum.Complete != 4 || sum.Kept != 0 || len(f.ran) != 4 {
		t.Fatalf("summary %+v, ran %v", sum, f.ran)
	}
	rows, err := ReadCases(filepath.Join(corpus, dataset.CasesFile))
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	want := Row{
		Case: "delay-user-info-r1", System: "social", Fault: "delay", Behavior: "net-delay", Target: "user-info", Params: `{"time":"100ms"}`,
		Repetition: 1, Seed: p.Cases[0].Seed, Status: dataset.CaseComplete, Dataset: filepath.Join("delay-user-info-r1", fmt.Sprintf("run-s%d", p.Cases[0].Seed)),
		// The windows are the dataset's labels', the applied ones as the
		// (fake) agents measured them.
		PlannedStart: "2026-01-01T00:00:30.000Z", PlannedEnd: "2026-01-01T00:00:50.000Z",
		AppliedStart: "2026-01-01T00:00:30.003Z", AppliedEnd: "2026-01-01T00:00:50.004Z",
	}
	if r != want {
		t.Errorf("row\n%+v\nwant\n%+v", r, want)
	}
	if !whole(filepath.Join(corpus, r.Dataset)) {
		t.Errorf("%s is not a whole dataset", r.Dataset)
	}

	// Again: every case is complete and its dataset there, so none runs.
	f.ran = nil
	sum, err = Run(context.Background(), p, arts, Options{run: f.run})
	if err != nil || sum.Kept != 4 || len(f.ran) != 0 {
		t.Fatalf("second run: %v, %+v, ran %v", err, sum, f.ran)
	}

	// A complete case whose dataset went away runs again; so does a
	// partial one, whose leftover directory is cleared first.
	if err := os.RemoveAll(filepath.Join(corpus, rows[1].Dataset)); err != nil {
		t.Fatal(err)
	}
	rows[2].Status, rows[2].Dataset = dataset.CasePartial, ""
	if err := WriteCases(filepath.Join(corpus, dataset.CasesFile), rows); err != nil {
		t.Fatal(err)
	}
	// The earlier run's dataset goes too: it is in the way of the fake's
	// run id, which, unlike a real one, does not change with the time.
	if err := os.RemoveAll(filepath.Join(corpus, rows[2].Case)); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(corpus, rows[2].Case, "20260101T000000Z-s1.partial")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	f.ran = nil
	var kept, toRun int
	var est time.Duration
	starting := func(k, n int, e time.Duration) { kept, toRun, est = k, n, e }
	sum, err = Run(context.Background(), p, arts, Options{run: f.run, Starting: starting})
	if err != nil || sum.Kept != 2 || sum.Complete != 2 || !slices.Equal(f.ran, []string{rows[1].Case, rows[2].Case}) {
		t.Fatalf("resume: %v, %+v, ran %v", err, sum, f.ran)
	}
	// The resumed run announces the two cases it runs, not the plan's four.
	if want := p.Cases[1].Duration + p.Cases[2].Duration + 2*CaseOverhead; kept != 2 || toRun != 2 || est != want {
		t.Errorf("Starting(%d, %d, %v), want (2, 2, %v)", kept, toRun, est, want)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("the interrupted run's directory is still there: %v", err)
	}
}

func TestRunFailures(t *testing.T) {
	arts := t.TempDir()
	p := smallPlan(t, 4)
	f := &fakeRun{t: t, fail: map[string]string{p.Cases[1].ID: "error", p.Cases[2].ID: "unapplied"}}
	sum, err := Run(context.Background(), p, arts, Options{run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Complete != 2 || sum.Failed != 2 || len(sum.Failures) != 2 || sum.Failures[0].Case != p.Cases[1].ID ||
		!strings.Contains(sum.Failures[1].Error(), "applied nowhere") {
		t.Fatalf("summary %+v", sum)
	}
	rows, _ := ReadCases(filepath.Join(arts, "c", dataset.CasesFile))
	// No dataset for the one that stopped early; the evidence of the one
	// whose fault was applied nowhere, with no applied window.
	if r := rows[1]; r.Status != dataset.CaseFailed || r.Dataset != "" || r.PlannedStart != "" {
		t.Errorf("failed early: %+v", r)
	}
	if r := rows[2]; r.Status != dataset.CaseFailed || !strings.HasSuffix(r.Dataset, dataset.FailedSuffix) || r.PlannedStart == "" || r.AppliedStart != "" {
		t.Errorf("failed ground truth: %+v", r)
	}

	// Failed cases keep their outcome unless retried.
	f.ran, f.fail = nil, nil
	if sum, err := Run(context.Background(), p, arts, Options{run: f.run}); err != nil || len(f.ran) != 0 || sum.Kept != 4 {
		t.Fatalf("rerun: %v %+v ran %v", err, sum, f.ran)
	}
	if _, err := Run(context.Background(), p, arts, Options{run: f.run, RetryFailed: true}); err != nil || len(f.ran) != 2 {
		t.Fatalf("retry: %v ran %v", err, f.ran)
	}
	if got := statuses(t, filepath.Join(arts, "c")); slices.ContainsFunc(got, func(s string) bool { return !strings.HasSuffix(s, ":complete") }) {
		t.Errorf("after the retry: %v", got)
	}
}

// TestRunStopsFailingStreak: cases that all fail at once stop the
// campaign, leaving the rest planned.
func TestRunStopsFailingStreak(t *testing.T) {
	p := smallPlan(t, 6)
	f := &fakeRun{t: t, fail: map[string]string{}}
	for _, c := range p.Cases {
		f.fail[c.ID] = "error"
	}
	arts := t.TempDir()
	sum, err := Run(context.Background(), p, arts, Options{run: f.run})
	if err == nil || !strings.Contains(err.Error(), "the last 3 cases failed without a dataset") || len(f.ran) != 3 || sum.Failed != 3 {
		t.Fatalf("%v; %+v; ran %v", err, sum, f.ran)
	}
	got := statuses(t, filepath.Join(arts, "c"))
	if n := len(slices.DeleteFunc(got, func(s string) bool { return !strings.HasSuffix(s, ":planned") })); n != 3 {
		t.Errorf("%d cases left planned: %v", n, got)
	}
}

// TestRunInterrupted: a cancelled context stops the campaign with the case
// under way partial and the rest planned, cases.csv consistent; the next
// run resumes from there.
func TestRunInterrupted(t *testing.T) {
	p := smallPlan(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeRun{t: t, cancel: cancel, fail: map[string]string{p.Cases[1].ID: "interrupt"}}
	arts := t.TempDir()
	var out strings.Builder
	sum, err := Run(ctx, p, arts, Options{run: f.run, Progress: &out})
	if err == nil || !strings.Contains(err.Error(), "stopped after 1 of 4 cases") || !strings.Contains(err.Error(), "run the campaign again to resume") {
		t.Fatalf("error %v", err)
	}
	if sum.Complete != 1 || sum.Partial != 1 || len(f.ran) != 2 {
		t.Errorf("summary %+v ran %v", sum, f.ran)
	}
	want := []string{p.Cases[0].ID + ":complete", p.Cases[1].ID + ":partial", p.Cases[2].ID + ":planned", p.Cases[3].ID + ":planned"}
	if got := statuses(t, filepath.Join(arts, "c")); !slices.Equal(got, want) {
		t.Errorf("cases.csv %v, want %v", got, want)
	}
	// Not a terminal: one line per finished case, nothing redrawn.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "[1/4] "+p.Cases[0].ID+" complete in ") || !strings.Contains(lines[0], " · ETA ") ||
		!strings.HasPrefix(lines[1], "[2/4] "+p.Cases[1].ID+" partial in ") || strings.Contains(out.String(), "\r") {
		t.Errorf("progress:\n%s", out.String())
	}

	f.ran, f.fail = nil, nil
	sum, err = Run(context.Background(), p, arts, Options{run: f.run})
	if err != nil || sum.Kept != 1 || sum.Complete != 3 || !slices.Equal(f.ran, []string{p.Cases[1].ID, p.Cases[2].ID, p.Cases[3].ID}) {
		t.Errorf("resume: %v %+v ran %v", err, sum, f.ran)
	}
}

// TestResumeRefusesAnotherCampaign: a corpus is one campaign's: rows it
// does not plan, or plans otherwise, are refused rather than mixed in.
func TestResumeRefusesAnotherCampaign(t *testing.T) {
	p := smallPlan(t, 2)
	arts := t.TempDir()
	f := &fakeRun{t: t}
	if _, err := Run(context.Background(), p, arts, Options{run: f.run}); err != nil {
		t.Fatal(err)
	}
	reseeded := smallPlan(t, 2)
	reseeded.Cases[0].Seed++
	if _, err := Run(context.Background(), reseeded, arts, Options{run: f.run}); err == nil || !strings.Contains(err.Error(), "the campaign changed since") {
		t.Errorf("another seed: %v", err)
	}
	fewer := smallPlan(t, 1)
	if _, err := Run(context.Background(), fewer, arts, Options{run: f.run}); err == nil || !strings.Contains(err.Error(), "which the campaign does not plan") {
		t.Errorf("a case no longer planned: %v", err)
	}
	if len(f.ran) != 2 {
		t.Errorf("ran %v", f.ran)
	}
}

func TestRunParallel(t *testing.T) {
	p := smallPlan(t, 4)
	if _, err := Run(context.Background(), p, t.TempDir(), Options{Parallel: 2}); err == nil || !strings.Contains(err.Error(), "--force-parallel") {
		t.Errorf("parallel without force: %v", err)
	}
	var now, peak atomic.Int32
	f := &fakeRun{t: t, during: func(*experiment.Experiment) {
		n := now.Add(1)
		for {
			if p := peak.Load(); n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		now.Add(-1)
	}}
	arts := t.TempDir()
	sum, err := Run(context.Background(), p, arts, Options{run: f.run, Parallel: 2, ForceParallel: true})
	if err != nil || sum.Complete != 4 {
		t.Fatalf("%v %+v", err, sum)
	}
	if peak.Load() != 2 {
		t.Errorf("at most %d cases ran at once, want 2", peak.Load())
	}

	// Isolated slots (a namespace each, on Kubernetes) need no force, and
	// no two cases run in one slot at once: Prepare tags each experiment
	// with its slot, and the run checks the slot is not busy.
	var busy [3]atomic.Bool
	slots := map[int]int{}
	var mu sync.Mutex
	iso := &fakeRun{t: t, during: func(e *experiment.Experiment) {
		slot := int(*e.Seed) // Prepare put the slot there
		if !busy[slot].CompareAndSwap(false, true) {
			t.Errorf("two cases at once in slot %d", slot)
		}
		time.Sleep(30 * time.Millisecond)
		busy[slot].Store(false)
	}}
	prepare := func(slot int, c *Case, e *experiment.Experiment) {
		v := int64(slot)
		e.Seed = &v
		mu.Lock()
		slots[slot]++
		mu.Unlock()
	}
	sum, err = Run(context.Background(), smallPlan(t, 6), t.TempDir(), Options{run: iso.run, Parallel: 3, Isolated: true, Prepare: prepare})
	if err != nil || sum.Complete != 6 {
		t.Fatalf("isolated: %v %+v", err, sum)
	}
	if len(slots) != 3 || slots[0]+slots[1]+slots[2] != 6 {
		t.Errorf("cases per slot %v, want 6 over slots 0, 1 and 2", slots)
	}
	if got := statuses(t, filepath.Join(arts, "c")); len(got) != 4 || slices.ContainsFunc(got, func(s string) bool { return !strings.HasSuffix(s, ":complete") }) {
		t.Errorf("cases.csv %v", got)
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := Run(context.Background(), Plan{Name: "x"}, t.TempDir(), Options{}); err == nil {
		t.Error("ran a plan without cases")
	}
	// A cases.csv that cannot be read is not overwritten.
	p := smallPlan(t, 1)
	arts := t.TempDir()
	corpus := filepath.Join(arts, "c")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpus, dataset.CasesFile), []byte("not,a,corpus\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, arts, Options{run: (&fakeRun{t: t}).run}); err == nil || !strings.Contains(err.Error(), "the header must be") {
		t.Errorf("broken cases.csv: %v", err)
	}
}

func TestTimeLeft(t *testing.T) {
	for _, tc := range []struct {
		name              string
		queued            time.Duration
		running           []runningCase
		actual, estimated time.Duration
		workers           int
		want              time.Duration
	}{
		{"nothing done yet", 10 * time.Minute, []runningCase{{est: time.Minute, elapsed: 20 * time.Second}}, 0, 0, 1, 10*time.Minute + 40*time.Second},
		// Cases took 1.5× their estimates: so will the rest.
		{"slower than planned", 10 * time.Minute, nil, 3 * time.Minute, 2 * time.Minute, 1, 15 * time.Minute},
		{"overrun", 0, []runningCase{{est: time.Minute, elapsed: 2 * time.Minute}}, 0, 0, 1, 0},
		{"two workers", 10 * time.Minute, nil, 0, 0, 2, 5 * time.Minute},
		{"no workers said", time.Minute, nil, 0, 0, 0, time.Minute},
	} {
		if got := timeLeft(tc.queued, tc.running, tc.actual, tc.estimated, tc.workers); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out, 3, 1, 1)
	p.plan(time.Minute)
	p.plan(time.Minute)
	p.begin("a", time.Minute)
	// A case's own progress is not shown, but for its warnings, once.
	for range 2 {
		fmt.Fprint(p.caseWriter("a"), "deploying tiny\nwarning: services are not isolated\nbaseline 5s / 20s\n")
	}
	p.end("a", dataset.CaseComplete, 2*time.Minute, nil)
	p.begin("b", time.Minute)
	p.end("b", dataset.CaseFailed, 10*time.Second, errors.New("deploy: no\nsecond line"))
	p.close()
	want := "a: warning: services are not isolated\n[2/3] a complete in 2m0s · ETA 2m0s\n[3/3] b failed in 10s: deploy: no\n"
	if out.String() != want {
		t.Errorf("progress\n%q\nwant\n%q", out.String(), want)
	}
	var lines []string
	w := lastLine(func(s string) { lines = append(lines, s) })
	fmt.Fprint(w, "baseline   12s / 70s\n\rfault delay  40s / 70s\n")
	if !slices.Equal(lines, []string{"baseline   12s / 70s", "fault delay  40s / 70s"}) {
		t.Errorf("lines %q", lines)
	}
}
