package eval_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/eval"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// The test binary doubles as the external methods: run with
// VECRO_EVAL_METHOD set it answers for one case and exits, as a user's
// script would.
func TestMain(m *testing.M) {
	if mode := os.Getenv("VECRO_EVAL_METHOD"); mode != "" {
		os.Exit(externalMethod(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// externalMethod: "oracle LABELS" ranks the labelled targets first;
// "random DATASET" ranks the manifest's services in an order drawn from the
// dataset's path; "scribble" overwrites the dataset's manifest; "garbage"
// prints no JSON; "fail" exits 3.
func externalMethod(mode string, args []string) int {
	switch mode {
	case "oracle":
		rows, err := dataset.Labels(filepath.Dir(args[0]))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var ranks []string
		for _, r := range rows {
			ranks = append(ranks, r["target"])
		}
		b, _ := json.Marshal(map[string]any{"ranks": ranks})
		fmt.Println(string(b))
	case "random":
		var m struct {
			System struct{ Services []struct{ Name string } }
			Faults any
		}
		b, err := os.ReadFile(filepath.Join(args[0], "manifest.json"))
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil || m.Faults != nil || len(m.System.Services) == 0 {
			fmt.Fprintln(os.Stderr, "manifest unreadable, not blinded or altered:", err)
			return 1
		}
		var names []string
		for _, s := range m.System.Services {
			names = append(names, s.Name)
		}
		h := fnv.New64a()
		h.Write([]byte(args[1]))
		rng := rand.New(rand.NewPCG(h.Sum64(), 7))
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		b, _ = json.Marshal(map[string]any{"ranks": names})
		fmt.Println(string(b))
	case "scribble":
		// A method that alters what it was shown: the next must not see it.
		for _, f := range []string{"manifest.json", "scratch.txt"} {
			if err := os.WriteFile(filepath.Join(args[0], f), []byte("{}"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fmt.Println(`{"ranks": []}`)
	case "garbage":
		fmt.Println("ranking: a, b")
	case "fail":
		fmt.Fprintln(os.Stderr, "model file missing")
		return 3
	}
	return 0
}

func method(mode, args string) eval.Command {
	return eval.Command{Label: mode, Template: fmt.Sprintf("VECRO_EVAL_METHOD=%s '%s' %s", mode, os.Args[0], args), Timeout: time.Minute}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// synthCase writes a real dataset (dataset.Write) of a 12-service system
// observed for 120 s at 1 s steps, with noise, and one fault on target
// applied from 60 s to 90 s: a net-delay lifts the target's latency (and a
// little its caller's), a cpu-stress its CPU. What the baselines must find
// is known because it was put there.
func synthCase(t *testing.T, root string, id int, behavior, target string) string {
	t.Helper()
	var svcs []spec.Service
	var names []string
	for i := range 12 {
		n := fmt.Sprintf("s%02d", i)
		names = append(names, n)
		svcs = append(svcs, spec.Service{Name: n, Type: spec.TypeBase})
	}
	rng := rand.New(rand.NewPCG(uint64(id), 1))
	start, end := t0.Add(time.Duration(id)*time.Hour), t0.Add(time.Duration(id)*time.Hour+119*time.Second)
	inFault := func(s int) bool { return s >= 60 && s < 90 }
	caller := names[(slices.Index(names, target)+11)%12]
	table := func(family string, base float64, lift func(svc string, s int) float64) metrics.Table {
		tb := metrics.Table{Family: family, Columns: names}
		for s := range 120 {
			tb.Times = append(tb.Times, start.Add(time.Duration(s)*time.Second))
			row := make([]float64, len(names))
			for j, n := range names {
				row[j] = base * (1 + 0.1*rng.NormFloat64()) * lift(n, s)
			}
			tb.Rows = append(tb.Rows, row)
		}
		return tb
	}
	lat := table("latency_p95", 0.02, func(svc string, s int) float64 {
		switch {
		case behavior == "net-delay" && inFault(s) && svc == target:
			return 10
		case behavior == "net-delay" && inFault(s) && svc == caller:
			return 3
		}
		return 1
	})
	cpu := table("cpu_usage", 0.05, func(svc string, s int) float64 {
		if behavior == "cpu-stress" && inFault(s) && svc == target {
			return 8
		}
		return 1
	})
	fstart := start.Add(60*time.Second - 2*time.Millisecond)
	r := dataset.Run{
		Manifest: dataset.Manifest{
			Experiment: "synth", RunID: fmt.Sprintf("c%02d", id), Runtime: "local", Seed: int64(id),
			System: &spec.System{Name: "synth", Services: svcs},
			T0:     start, Start: start, End: end, Step: spec.Duration(time.Second),
		},
		Tables: []metrics.Table{lat, cpu},
		Windows: []fault.Window{{
			Fault: behavior + "-" + target, Behavior: behavior, Target: target, Params: `{}`,
			Instances: []string{target + "-0"}, AppliedInstances: []string{target + "-0"}, Status: fault.StatusApplied,
			PlannedStart: start.Add(60 * time.Second), PlannedEnd: start.Add(90 * time.Second),
			AppliedStart: fstart, AppliedEnd: fstart.Add(30 * time.Second),
		}},
		NoPlots: true,
	}
	dir, err := dataset.Write(root, r)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// corpus writes eight cases (two behaviours × four targets) and a
// cases.csv naming them, plus one row that did not complete.
func corpus(t *testing.T) string {
	root := t.TempDir()
	f, err := os.Create(filepath.Join(root, dataset.CasesFile))
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(dataset.CaseColumns)
	id := 0
	for _, b := range []string{"net-delay", "cpu-stress"} {
		for _, target := range []string{"s01", "s04", "s07", "s10"} {
			id++
			dir := synthCase(t, root, id, b, target)
			rel, _ := filepath.Rel(root, dir)
			row := map[string]string{"case": fmt.Sprintf("%s-%s", b, target), "system": "synth", "fault": b, "behavior": b, "target": target,
				"repetition": "1", "seed": fmt.Sprint(id), "status": dataset.CaseComplete, "dataset": rel}
			rec := make([]string, len(dataset.CaseColumns))
			for i, c := range dataset.CaseColumns {
				rec[i] = row[c]
			}
			w.Write(rec)
		}
	}
	rec := make([]string, len(dataset.CaseColumns))
	rec[0], rec[8] = "interrupted", dataset.CasePartial
	w.Write(rec)
	w.Flush()
	if err := f.Close(); err != nil || w.Error() != nil {
		t.Fatal(err, w.Error())
	}
	return root
}

func TestBaselinesFindTheInjectedRootCause(t *testing.T) {
	cases, err := eval.LoadCorpus(corpus(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 9 || cases[8].Skip != "status partial" {
		t.Fatalf("%d cases, last %+v: want 8 scorable and the partial one skipped", len(cases), cases[len(cases)-1])
	}
	methods := []eval.Method{eval.NSigma(), eval.BARO()}
	reps, err := eval.Evaluate(context.Background(), cases, methods, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, rep := range reps {
		m := methods[i]
		all := rep.Group(eval.All)
		if rep.Errors() != 0 || all.Ranking.Cases != 8 || all.Ranking.AC(1) != 1 {
			var b bytes.Buffer
			eval.WriteTable(&b, rep)
			t.Errorf("%s: errors %d, cases %d, AC@1 %.2f: want the injected target first in all 8\n%s", m.Name(), rep.Errors(), all.Ranking.Cases, all.Ranking.AC(1), b.String())
		}
		// The lift is 10× or 8× over 10 % noise: every fault window is
		// flagged within a step or two of its start.
		d := all.Detection
		if d == nil || d.Windows != 8 || d.Missed != 0 || d.DelayP95() > 2*time.Second {
			t.Errorf("%s detection %+v: want all 8 windows flagged within 2 s", m.Name(), d)
		}
		if _, r, _ := eval.PRF(d.TP, d.FP, d.FN); r < 0.9 {
			t.Errorf("%s point-wise recall %.2f, want ≥ 0.9 of a 10× lift", m.Name(), r)
		}
	}
}

// The scorer's honesty: an oracle scores one, a random ranking lands near
// its chance level, and a method that answers garbage or fails is an error
// naming the case, never a crash nor a silent zero.
func TestExternalMethods(t *testing.T) {
	dir := corpus(t)
	cases, err := eval.LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reps, err := eval.Evaluate(ctx, cases, []eval.Method{method("oracle", "{labels}"), method("scribble", "{dataset}"), method("random", "{dataset} {case}"), method("garbage", "{dataset}"), method("fail", "{dataset}")}, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	oracle, random := reps[0], reps[2]
	// The methods share a case's blinded copy, but what one writes there
	// never reaches the next: random, after scribble, reads the manifest.
	if reps[1].Errors() != 0 {
		t.Errorf("scribble: %+v", reps[1].Cases[0])
	}
	if !oracle.Oracle || oracle.Group(eval.All).Ranking.Avg(5) != 1 || oracle.Errors() != 0 {
		t.Errorf("oracle: flagged %v, Avg@5 %.2f, errors %d %+v", oracle.Oracle, oracle.Group(eval.All).Ranking.Avg(5), oracle.Errors(), oracle.Cases)
	}
	if random.Oracle || random.Errors() != 0 {
		t.Fatalf("random: %+v", random.Cases)
	}
	// 8 cases of 12 candidates: Avg@5 chance 0.25; a random ranking's
	// Avg@5 over 8 cases has a standard deviation of about 0.13 (each case's
	// Avg@5 is 0, 0.2, …, 1 with sd ≈ 0.37), so 4 sd is 0.52.
	g := random.Group(eval.All)
	near(t, "chance", g.Ranking.Chance(5), 0.25, 1e-12)
	near(t, "random Avg@5", g.Ranking.Avg(5), 0.25, 0.52)
	if g.Detection != nil {
		t.Errorf("a method that answers no anomalies got detection scores %+v", g.Detection)
	}

	for i, mode := range []string{"garbage", "fail"} {
		rep := reps[3+i]
		if rep.Errors() != 8 || !strings.Contains(rep.Cases[0].Err, map[string]string{"garbage": "not a JSON object", "fail": "exit status 3"}[mode]) {
			t.Errorf("%s: %d errors, first %q", mode, rep.Errors(), rep.Cases[0].Err)
		}
		if mode == "fail" && !strings.Contains(rep.Cases[0].Err, "model file missing") {
			t.Errorf("the error does not carry the method's stderr: %q", rep.Cases[0].Err)
		}
		if rep.Group(eval.All).Ranking.Cases != 8 || rep.Group(eval.All).Ranking.AC(5) != 0 {
			t.Errorf("%s: failed cases must count as no answer", mode)
		}
	}

	var csvOut, jsonOut, table, png bytes.Buffer
	if err := eval.WriteCSV(&csvOut, oracle, random); err != nil {
		t.Fatal(err)
	}
	if err := eval.WriteJSON(&jsonOut, oracle, random); err != nil {
		t.Fatal(err)
	}
	if err := eval.WriteTable(&table, oracle, random); err != nil {
		t.Fatal(err)
	}
	if err := eval.Chart(&png, "net-delay", oracle, random); err != nil || !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG")) {
		t.Errorf("chart: %v", err)
	}
	recs, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil || len(recs) != 1+2*3 || !slices.Equal(recs[0], eval.Columns) {
		t.Errorf("eval.csv: %d rows (%v): %v", len(recs), err, recs)
	}
	if !strings.Contains(table.String(), "oracle (oracle)  net-delay") {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestBlindLeavesNoGroundTruth(t *testing.T) {
	root := t.TempDir()
	src := synthCase(t, root, 1, "net-delay", "s03")
	dst := filepath.Join(t.TempDir(), "blind")
	start := t0.Add(time.Hour)
	cut := eval.Window{Start: start.Add(30 * time.Second), End: start.Add(100 * time.Second)}
	if err := eval.Blind(src, dst, cut); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			files = append(files, rel)
		}
		return err
	})
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dst, f))
		for _, leak := range []string{"net-delay", "fault_active", "on_target", "s03-0"} {
			if bytes.Contains(b, []byte(leak)) {
				t.Errorf("%s holds %q", f, leak)
			}
		}
	}
	if slices.Contains(files, "labels.csv") || !slices.Contains(files, "metrics.csv") || !slices.Contains(files, "metrics/latency_p95.csv") {
		t.Errorf("blinded files %v", files)
	}
	tb, err := dataset.ReadTable(filepath.Join(dst, "metrics", "latency_p95.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Times) != 70 || !tb.Times[0].Equal(cut.Start) {
		t.Errorf("cut to %d rows from %v, want 70 from %v", len(tb.Times), tb.Times[0], cut.Start)
	}
}
