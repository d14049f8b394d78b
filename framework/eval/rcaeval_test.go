package eval_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/eval"
)

// The export as RCAEval's main.py reads it: the case folder split at "_"
// gives the root cause and the fault type, data.csv's time column and
// inject_time.txt split the run into normal and anomalous rows, and the
// root cause's own column moves across that split.
func TestExportRCAEval(t *testing.T) {
	dir := corpus(t)
	cases, err := eval.LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	// One case also has spans and log lines, in this project's columns.
	withSpans := cases[0].Dir
	writeRows(t, filepath.Join(withSpans, "traces.csv"), dataset.TraceColumns, []string{
		"2026-12-01T11:00:10.000Z", "t1", "s1", "", "s00", "s00-0", "server", "GET /compose", "", "", "1796122810000000", "1500", "ok", "200", "", "0"})
	writeRows(t, filepath.Join(withSpans, "logs.csv"), dataset.LogColumns, []string{
		"2026-12-01T11:00:10.5Z", "s00", "s00-0", "error", "t1", "s1", "call failed", "GET", "/compose", "500", "12", "call s01", "connection refused", "", "0"})

	out := t.TempDir()
	exp, skipped, err := eval.ExportRCAEval(cases, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != 8 || len(skipped) != 1 || !strings.Contains(skipped[0], "status partial") {
		t.Fatalf("exported %d, skipped %q: want 8 and the partial case", len(exp), skipped)
	}
	for i, e := range exp {
		c := cases[i]
		f := c.Faults[0]
		folder := filepath.Base(filepath.Dir(e.Dir))
		service, fault, ok := strings.Cut(folder, "_")
		if !ok || strings.Contains(fault, "_") || service != f.Target || fault != eval.RCAEvalFaults[f.Behavior] || filepath.Base(e.Dir) != "1" {
			t.Fatalf("case %s (%s on %s) went to %s", c.ID, f.Behavior, f.Target, e.Dir)
		}
		b, err := os.ReadFile(filepath.Join(e.Dir, "inject_time.txt"))
		if err != nil {
			t.Fatal(err)
		}
		inject, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// The applied start is 2 ms before a whole second: the injection
		// time is that second, the first sample holding the fault.
		if err != nil || inject != f.Start.Add(2*time.Millisecond).Unix() {
			t.Errorf("%s: inject_time.txt %q, applied start %v", c.ID, b, f.Start)
		}
		rows := readRows(t, filepath.Join(e.Dir, "data.csv"))
		head := rows[0]
		if head[0] != "time" || len(head) != 1+12*2 || !slices.Contains(head, f.Target+"_latency") || !slices.Contains(head, f.Target+"_cpu") || len(rows) != 121 {
			t.Fatalf("%s: data.csv header %v, %d rows", c.ID, head, len(rows))
		}
		// The root cause's column as main.py splits it at inject_time.
		metric := map[string]string{"net-delay": "_latency", "cpu-stress": "_cpu"}[f.Behavior]
		col := slices.Index(head, f.Target+metric)
		var before, after []float64
		for _, r := range rows[1:] {
			ts, _ := strconv.ParseInt(r[0], 10, 64)
			v, _ := strconv.ParseFloat(r[col], 64)
			if ts < inject {
				before = append(before, v)
			} else if ts < inject+30 {
				after = append(after, v)
			}
		}
		if len(after) != 30 || mean(after) < 5*mean(before) {
			t.Errorf("%s: %s%s averages %.3g over %d anomalous rows vs %.3g before", c.ID, f.Target, metric, mean(after), len(after), mean(before))
		}
	}
	tr := readRows(t, filepath.Join(exp[0].Dir, "traces.csv"))
	if !slices.Equal(tr[0], []string{"time", "traceID", "spanID", "serviceName", "methodName", "operationName", "startTimeMillis", "startTime", "duration", "statusCode", "parentSpanID"}) ||
		!slices.Equal(tr[1][1:10], []string{"t1", "s1", "s00", "GET", "GET /compose", "1796122810000", "1796122810000000", "1500", "200"}) {
		t.Errorf("traces.csv %q", tr)
	}
	lg := readRows(t, filepath.Join(exp[0].Dir, "logs.csv"))
	if !slices.Equal(lg[0], []string{"time", "timestamp", "container_name", "message", "level", "req_path", "error"}) ||
		!slices.Equal(lg[1][1:], []string{"1796122810500000000", "s00", "call failed", "error", "/compose", "connection refused"}) {
		t.Errorf("logs.csv %q", lg)
	}
	if _, err := os.Stat(filepath.Join(exp[1].Dir, "traces.csv")); !os.IsNotExist(err) {
		t.Errorf("a case without spans got a traces.csv: %v", err)
	}

	// A second export into the same directory adds repetition 2.
	again, _, err := eval.ExportRCAEval(cases[:1], out)
	if err != nil || len(again) != 1 || filepath.Base(again[0].Dir) != "2" {
		t.Errorf("second export: %+v, %v", again, err)
	}

	// Cases of two systems go one folder per system.
	two := slices.Clone(cases[:2])
	if two[0].System == "" {
		t.Fatal("LoadCorpus left Case.System empty")
	}
	two[1].System = "other"
	out2 := t.TempDir()
	split, _, err := eval.ExportRCAEval(two, out2)
	if err != nil || len(split) != 2 {
		t.Fatalf("two systems: %+v, %v", split, err)
	}
	for i, e := range split {
		if rel, _ := filepath.Rel(out2, e.Dir); !strings.HasPrefix(rel, two[i].System+string(filepath.Separator)) || strings.Count(rel, string(filepath.Separator)) != 2 {
			t.Errorf("case of system %s went to %s", two[i].System, rel)
		}
	}
}

func writeRows(t *testing.T, path string, header []string, rows ...[]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(max(len(xs), 1))
}
