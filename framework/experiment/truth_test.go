package experiment_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/runtime/local"
	"github.com/vecrosim/vecro/internal/testexp"
)

// a calls b, which has two replicas.
const pair = `name: pair
namespace: pair
services:
  - {name: a, type: base, workload: {cpu: 1, net: 256}, calls: [b]}
  - {name: b, type: base, replicas: 2, workload: {cpu: 1, net: 256}}
`

// A refusal the agent really makes at switch-on, after the push was
// accepted: io-stress checks at push that the data dir exists, and at
// start creates one file per worker in it, named after the fault. A
// directory in the way of that name makes the create fail with EISDIR,
// for root too, so the agent reports the fault done with an error and no
// applied window.
func blockIOStress(t *testing.T, runDir, instance, faultName string) {
	t.Helper()
	id := faultName + ".io-stress"
	obstacle := filepath.Join(runDir, "data", instance, ".vecro-io-stress-"+id+"-0")
	if err := os.MkdirAll(obstacle, 0o755); err != nil {
		t.Fatal(err)
	}
}

// honestExperiment runs faults (a fault file) on pair with a runtime whose
// run directory the test can prepare.
func honestExperiment(t *testing.T, faults string, prepare func(runDir string)) (res *experiment.Result, progress string, err error) {
	t.Helper()
	if testing.Short() {
		t.Skip("a real experiment of about half a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	const seed = 11
	e, dir := testexp.New(ctx, t, pair, faults, seed)
	runDir := filepath.Join(dir, "run")
	prepare(runDir)
	rt, err := local.New(local.Options{RunDir: runDir, Seed: seed, ScrapeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.Runtime = rt
	e.Families = []string{"throughput"}
	e.Load = experiment.Load{Services: []string{"a"}, Rate: "10"}
	e.Phases = experiment.Phases{WarmUp: 4 * time.Second, Recovery: 3 * time.Second}
	var out strings.Builder
	e.Progress = &out
	res, err = e.Run(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run error: %v\nprogress:\n%s", err, out.String())
		}
	})
	return res, out.String(), err
}

// labelOf reads the labels.csv row of a fault.
func labelOf(t *testing.T, dir, faultName string) map[string]string {
	t.Helper()
	labels, err := dataset.Labels(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range labels {
		if l["fault"] == faultName {
			return l
		}
	}
	t.Fatalf("labels.csv of %s has no row for %s: %v", dir, faultName, labels)
	return nil
}

// activeRows counts metrics.csv rows whose fault_active names faultName,
// and fails on one outside [start, end).
func activeRows(t *testing.T, dir, faultName string, start, end time.Time) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ln := range strings.Split(strings.TrimSpace(string(raw)), "\n")[1:] {
		f := strings.Split(ln, ",")
		if !slices.Contains(strings.Split(f[5], ";"), faultName) {
			continue
		}
		ts, _ := time.Parse(dataset.TimeFormat, f[0])
		if ts.Before(start) || !ts.Before(end) {
			t.Errorf("metrics.csv marks %s active outside its applied window %v–%v: %q", faultName, start, end, ln)
		}
		n++
	}
	return n
}

// TestRefusedFaultFailsTheRun: the only agent of a refuses its io-stress.
// The run must fail naming the fault, the instance and the agent's error,
// and still leave the dataset, marked failed, in which the fault is
// labelled failed and marks no row active.
func TestRefusedFaultFailsTheRun(t *testing.T) {
	const faults = `name: refused
namespace: pair
faults:
  - {name: a-io, target: a, start: 10s, duration: 4s, behaviors: {io-stress: {workers: 1}}}
`
	res, _, err := honestExperiment(t, faults, func(runDir string) { blockIOStress(t, runDir, "a-0", "a-io") })
	if err == nil {
		t.Fatal("a fault no agent applied did not fail the run")
	}
	for _, want := range []string{"experiment refused", `"a-io"`, "io-stress on a", "failed on 0 of 1", "a-0: io-stress: create", "is a directory", dataset.FailedSuffix} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("run error does not say %q: %v", want, err)
		}
	}
	if res == nil || res.Dir == "" {
		t.Fatalf("no dataset for the failed run (result %+v)", res)
	}
	if filepath.Base(res.Dir) != res.RunID+dataset.FailedSuffix {
		t.Errorf("failed run's dataset at %s: want <run-id>%s", res.Dir, dataset.FailedSuffix)
	}
	m, merr := dataset.ReadManifest(res.Dir)
	if merr != nil || m.Status != dataset.StatusFailed || !strings.Contains(m.Failure, "a-io") || !m.Complete {
		t.Errorf("manifest status %q failure %q complete %v (%v)", m.Status, m.Failure, m.Complete, merr)
	}
	if len(res.Windows) != 1 || res.Windows[0].Status != fault.StatusFailed || res.Windows[0].Applied() {
		t.Fatalf("windows %+v: want the one fault failed", res.Windows)
	}
	l := labelOf(t, res.Dir, "a-io")
	if l["status"] != "failed" || l["instances"] != "a-0" || l["applied_instances"] != "" || l["applied_start"] != "" ||
		!strings.Contains(l["errors"], "is a directory") {
		t.Errorf("labels.csv row %v: want failed on a-0 with the agent's error and no applied window", l)
	}
	if n := activeRows(t, res.Dir, "a-io", time.Time{}, time.Time{}); n != 0 {
		t.Errorf("metrics.csv marks the refused fault active on %d rows", n)
	}
}

// TestPartialFaultIsLabelledPartial: b-1's agent refuses b's io-stress,
// b-0's applies it. The run succeeds with a warning; labels.csv says
// partial, on b-0 only, and fault_active follows b-0's applied window.
func TestPartialFaultIsLabelledPartial(t *testing.T) {
	const faults = `name: partial
namespace: pair
faults:
  - {name: b-io, target: b, start: 10s, duration: 4s, behaviors: {io-stress: {workers: 1}}}
`
	res, progress, err := honestExperiment(t, faults, func(runDir string) { blockIOStress(t, runDir, "b-1", "b-io") })
	if err != nil {
		t.Fatalf("a fault applied on one of two replicas failed the run: %v", err)
	}
	if !strings.Contains(progress, "warning: ") || !strings.Contains(progress, `"b-io"`) || !strings.Contains(progress, "b-1: io-stress: create") {
		t.Errorf("progress has no warning naming the fault and b-1's error:\n%s", progress)
	}
	if filepath.Base(res.Dir) != res.RunID {
		t.Errorf("dataset of a successful run at %s", res.Dir)
	}
	if m, _ := dataset.ReadManifest(res.Dir); m.Status != dataset.StatusOK {
		t.Errorf("manifest status %q", m.Status)
	}
	w := res.Windows[0]
	if w.Status != fault.StatusPartial || !slices.Equal(w.AppliedInstances, []string{"b-0"}) {
		t.Fatalf("window status %s applied on %v: want partial on b-0", w.Status, w.AppliedInstances)
	}
	l := labelOf(t, res.Dir, "b-io")
	if l["status"] != "partial" || l["instances"] != "b-0;b-1" || l["applied_instances"] != "b-0" ||
		!strings.Contains(l["errors"], `"b-1"`) || strings.Contains(l["errors"], `"b-0"`) || l["applied_start"] == "" {
		t.Errorf("labels.csv row %v: want partial, applied on b-0, b-1's error", l)
	}
	start, end, _ := w.Span()
	if n := activeRows(t, res.Dir, "b-io", start, end); n == 0 {
		t.Error("metrics.csv marks the partially applied fault active on no row")
	}
}
