package dataset_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/fault"
)

// honestRun has three faults on db's two replicas: one refused by both
// agents (failed), one applied by db-0 only (partial), nothing applied
// else. It is a failed run, as the experiment marks one.
func honestRun() dataset.Run {
	r := run()
	r.Social9, r.NoPlots = false, false
	r.Windows = []fault.Window{
		{
			Fault: "refused", Behavior: "io-stress", Target: "db", Params: `{}`, Instances: []string{"db-0", "db-1"},
			Errors: map[string]string{"db-1": "io-stress: create x: is a directory", "db-0": "io-stress: create y: is a directory"},
			Status: fault.StatusFailed, PlannedStart: t0.Add(10 * time.Second), PlannedEnd: t0.Add(20 * time.Second),
		},
		{
			Fault: "half", Behavior: "net-delay", Target: "db", Params: `{"time":"400ms"}`, Instances: []string{"db-0", "db-1"},
			AppliedInstances: []string{"db-0"}, Errors: map[string]string{"db-1": "the agent has no record of the fault"},
			Status: fault.StatusPartial, PlannedStart: t0.Add(25 * time.Second), PlannedEnd: t0.Add(35 * time.Second),
			AppliedStart: t0.Add(25*time.Second + 2*time.Millisecond), AppliedEnd: t0.Add(35 * time.Second),
			Effect: map[string]float64{"requests_delayed": 5},
		},
	}
	r.Manifest.Status = dataset.StatusFailed
	r.Manifest.Failure = `fault "refused" (io-stress on db) failed on 0 of 2 instances`
	return r
}

func TestFailedRunIsKeptUnderFailedName(t *testing.T) {
	root := t.TempDir()
	dir, err := dataset.Write(root, honestRun())
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, "db-delay", "r1"+dataset.FailedSuffix) {
		t.Fatalf("failed run written to %s", dir)
	}
	for _, other := range []string{"r1", "r1.partial"} {
		if _, err := os.Stat(filepath.Join(root, "db-delay", other)); !os.IsNotExist(err) {
			t.Errorf("%s exists beside the failed run", other)
		}
	}
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != dataset.StatusFailed || !strings.Contains(m.Failure, `"refused"`) || !m.Complete {
		t.Errorf("manifest status %q failure %q complete %v: want a whole dataset marked failed with its reason", m.Status, m.Failure, m.Complete)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil || generic["status"] != "failed" {
		t.Errorf("manifest.json status %v (%v)", generic["status"], err)
	}

	// A writer that does not judge the run (vecro collect) gets the same
	// verdict from the windows.
	unjudged := honestRun()
	unjudged.Manifest.RunID, unjudged.Manifest.Status, unjudged.Manifest.Failure = "r3", "", ""
	dir, err = dataset.Write(root, unjudged)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := dataset.ReadManifest(dir); !strings.HasSuffix(dir, "r3"+dataset.FailedSuffix) || m.Status != dataset.StatusFailed ||
		!strings.Contains(m.Failure, `fault "refused" (io-stress on db) failed on 0 of 2 instances: db-0: io-stress: create y`) || strings.Contains(m.Failure, "half") {
		t.Errorf("unjudged run with a failed fault at %s, status %q, failure %q", dir, m.Status, m.Failure)
	}

	bad := honestRun()
	bad.Manifest.RunID, bad.Manifest.Status = "r2", "meh"
	if _, err := dataset.Write(root, bad); err == nil || !strings.Contains(err.Error(), "meh") {
		t.Errorf("status meh: %v", err)
	}
}

func TestLabelsAndLongFormTellOnlyTheTruth(t *testing.T) {
	dir, err := dataset.Write(t.TempDir(), honestRun())
	if err != nil {
		t.Fatal(err)
	}
	labels, err := dataset.Labels(dir)
	if err != nil {
		t.Fatal(err)
	}
	byFault := map[string]map[string]string{}
	for _, l := range labels {
		byFault[l["fault"]] = l
	}
	refused, half := byFault["refused"], byFault["half"]
	if refused["status"] != "failed" || refused["applied_instances"] != "" || refused["applied_start"] != "" ||
		refused["applied_end"] != "" || refused["start_error_ms"] != "" || refused["effect_requests_delayed"] != "" {
		t.Errorf("refused fault labelled %v: want failed with no applied window or effect", refused)
	}
	var errs map[string]string
	if err := json.Unmarshal([]byte(refused["errors"]), &errs); err != nil || errs["db-1"] != "io-stress: create x: is a directory" || len(errs) != 2 {
		t.Errorf("refused errors %q (%v): want a JSON object by instance", refused["errors"], err)
	}
	if half["status"] != "partial" || half["instances"] != "db-0;db-1" || half["applied_instances"] != "db-0" ||
		!strings.Contains(half["errors"], "db-1") || half["applied_start"] != "2026-11-25T12:00:25.002Z" {
		t.Errorf("partial fault labelled %v", half)
	}

	long, _ := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	var halfRows int
	for _, ln := range strings.Split(strings.TrimSpace(string(long)), "\n")[1:] {
		f := strings.Split(ln, ",")
		ts, _ := time.Parse(dataset.TimeFormat, f[0])
		if strings.Contains(f[5], "refused") {
			t.Fatalf("a fault no agent applied is active at %s: %q", f[0], ln)
		}
		in := !ts.Before(t0.Add(25*time.Second+2*time.Millisecond)) && ts.Before(t0.Add(35*time.Second))
		if in != (f[5] == "half") {
			t.Fatalf("fault_active at %s is %q: want half exactly inside its applied window", f[0], f[5])
		}
		if !in && f[6] != "0" {
			t.Fatalf("on_target outside every applied window: %q", ln)
		}
		if in {
			halfRows++
		}
	}
	if halfRows == 0 {
		t.Error("no row inside the partial fault's applied window")
	}
}
