package dataset_test

import (
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func table(family string, n int) metrics.Table {
	t := metrics.Table{Family: family, Unit: "seconds", Columns: []string{"api", "db"}}
	for i := range n {
		t.Times = append(t.Times, t0.Add(time.Duration(i)*time.Second))
		db := 0.01
		if i >= 20 && i < 30 {
			db = 0.4
		}
		api := 0.02 + float64(i)*1e-4
		if i == 5 {
			api = math.NaN()
		}
		t.Rows = append(t.Rows, []float64{api, db})
	}
	return t
}

func run() dataset.Run {
	return dataset.Run{
		Manifest: dataset.Manifest{
			Experiment: "db-delay", RunID: "r1", Runtime: "local", Seed: 42,
			System: &spec.System{Name: "s", Services: []spec.Service{{Name: "api", Type: spec.TypeBase}, {Name: "db", Type: spec.TypeRedis}}},
			T0:     t0, Start: t0, End: t0.Add(39 * time.Second), Step: spec.Duration(time.Second),
		},
		Tables: []metrics.Table{table("latency_p95", 40), table("net_rx", 40)},
		Windows: []fault.Window{{
			Fault: "slow", Behavior: "net-delay", Target: "db", Params: `{"time":"400ms"}`, Instances: []string{"db-0"},
			AppliedInstances: []string{"db-0"}, Status: fault.StatusApplied,
			PlannedStart: t0.Add(20 * time.Second), PlannedEnd: t0.Add(30 * time.Second),
			AppliedStart: t0.Add(20*time.Second + 3*time.Millisecond), AppliedEnd: t0.Add(30*time.Second + time.Millisecond),
			Effect: map[string]float64{"requests_delayed": 12, "mean_added_delay_seconds": 0.41},
		}},
		Load:    func(w io.Writer) error { _, err := io.WriteString(w, "second,sent\n0,10\n"); return err },
		Social9: true,
	}
}

func TestWriteCompleteRun(t *testing.T) {
	root := t.TempDir()
	dir, err := dataset.Write(root, run())
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, "db-delay", "r1") {
		t.Fatalf("dataset at %s", dir)
	}
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Complete || m.Seed != 42 || m.Status != dataset.StatusOK {
		t.Errorf("manifest %+v: want complete with the seed", m)
	}
	for _, f := range []string{"labels.csv", "metrics.csv", "load.csv", "manifest.json", "metrics/latency_p95.csv", "metrics/net_rx.csv",
		"plots/latency_p95.png", "social9/latency_p95.csv", "social9/network_receive_bytes.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		found := false
		for _, g := range m.Files {
			found = found || g == f
		}
		if !found {
			t.Errorf("manifest does not list %s: %v", f, m.Files)
		}
	}

	got, err := dataset.ReadTable(filepath.Join(dir, "metrics", "latency_p95.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := table("latency_p95", 40)
	if got.Family != want.Family || strings.Join(got.Columns, ",") != "api,db" || len(got.Rows) != 40 {
		t.Fatalf("read back %s %v with %d rows", got.Family, got.Columns, len(got.Rows))
	}
	for i := range want.Rows {
		if !got.Times[i].Equal(want.Times[i]) {
			t.Fatalf("row %d: time %v, want %v", i, got.Times[i], want.Times[i])
		}
		for j := range want.Rows[i] {
			a, b := got.Rows[i][j], want.Rows[i][j]
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Fatalf("row %d col %d: %v, want %v", i, j, a, b)
			}
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "metrics", "latency_p95.csv"))
	if !strings.HasPrefix(string(raw), "timestamp,unix_ms,api,db\n2026-11-25T12:00:00.000Z,1795608000000,") {
		t.Errorf("family CSV starts %q", string(raw)[:80])
	}

	labels, err := dataset.Labels(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := labels[0]
	if l["fault"] != "slow" || l["target"] != "db" || l["start_error_ms"] != "3.000" || l["end_error_ms"] != "1.000" ||
		l["effect_requests_delayed"] != "12" || l["applied_start"] != "2026-11-25T12:00:20.003Z" ||
		l["applied_instances"] != "db-0" || l["status"] != "applied" || l["errors"] != "" {
		t.Errorf("labels row %v", l)
	}

	long, _ := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	lines := strings.Split(strings.TrimSpace(string(long)), "\n")
	if lines[0] != strings.Join(dataset.LongColumns, ",") {
		t.Errorf("long header %q", lines[0])
	}
	// 2 families × 40 steps × 2 services, minus the one NaN per family.
	if n := len(lines) - 1; n != 2*(40*2-1) {
		t.Errorf("long form has %d rows", n)
	}
	var inside, target int
	for _, ln := range lines[1:] {
		f := strings.Split(ln, ",")
		ts, _ := time.Parse(dataset.TimeFormat, f[0])
		in := !ts.Before(t0.Add(20*time.Second+3*time.Millisecond)) && ts.Before(t0.Add(30*time.Second+time.Millisecond))
		if in != (f[5] == "slow") {
			t.Fatalf("fault_active wrong at %s: %q", f[0], ln)
		}
		if in {
			inside++
			if f[2] == "db" && f[6] == "1" {
				target++
			}
		}
	}
	if inside == 0 || target != inside/2 {
		t.Errorf("rows inside the window %d, on target %d", inside, target)
	}

	f, err := os.Open(filepath.Join(dir, "plots", "latency_p95.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 200 {
		t.Errorf("plot %v is too small", b)
	}

	if _, err := dataset.Write(root, run()); err == nil {
		t.Error("a second run with the same id overwrote the first")
	}
}

func TestInterruptedRunLeavesPartial(t *testing.T) {
	root := t.TempDir()
	r := run()
	r.Load = func(io.Writer) error { return errors.New("load stats lost") }
	dir, err := dataset.Write(root, r)
	if err == nil || !strings.Contains(err.Error(), "load stats lost") {
		t.Fatalf("error %v", err)
	}
	if !strings.HasSuffix(dir, "r1.partial") {
		t.Fatalf("partial dir %s", dir)
	}
	if _, err := os.Stat(filepath.Join(root, "db-delay", "r1")); !os.IsNotExist(err) {
		t.Error("a failed run has a complete-looking directory")
	}
	m, err := dataset.ReadManifest(dir)
	if err != nil || m.Complete {
		t.Errorf("partial manifest %+v, %v: want present and not complete", m, err)
	}
	if _, err := dataset.Write(root, dataset.Run{Manifest: dataset.Manifest{Experiment: "../x", RunID: "r"}}); err == nil {
		t.Error("an experiment name with a path separator was accepted")
	}
}
