package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFileFixture(t *testing.T) {
	e, _, err := LoadFile("../../fixtures/experiments/social-delay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "social-delay" || e.System == nil || len(e.System.Services) != 25 || e.Faults == nil || *e.Seed != 42 {
		t.Fatalf("experiment %+v", e)
	}
	if e.Phases.WarmUp != 10*time.Second || e.Load.Rate != "20" || e.Load.Arrivals != "poisson" || !e.Social9 {
		t.Errorf("phases %+v load %+v", e.Phases, e.Load)
	}
}

func TestLoadFileInlineAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("inline.yaml", `kind: Experiment
name: tiny
system:
  name: tiny
  services:
    - name: a
      type: base
      calls: [b]
    - name: b
      type: base
faults:
  name: f
  faults:
    - name: slow-b
      target: b
      start: 20s
      duration: 10s
      behaviors:
        net-delay: {time: 50ms}
windows: {quantile: 20s}
original-metric-names: true
`)
	e, _, err := LoadFile(ok)
	if err != nil {
		t.Fatal(err)
	}
	if !e.OriginalMetricNames {
		t.Error("original-metric-names: true not read")
	}
	if len(e.System.Services) != 2 || e.Faults.Faults[0].Target != "b" {
		t.Fatalf("inline definitions not read: %+v", e)
	}
	if e.Windows.Quantile != 20*time.Second || e.Windows.Rate != ShortWindows.Rate {
		t.Errorf("windows %+v: want the given quantile and the short defaults elsewhere", e.Windows)
	}

	for _, c := range []struct{ body, want string }{
		{"kind: Experiment\nname: x\nsystem: nope.yaml\n", "nope.yaml"},
		{"kind: Deployment\n", `kind "Deployment"`},
		{"kind: Experiment\nname: x\nsystem: ../s.yaml\nbogus: 1\n", "bogus"},
		{"kind: Experiment\nname: x\nstep: 3 apples\n", "step"},
		{"kind: Experiment\nname: x\nsystem:\n  name: s\n  services:\n    - name: a\n      type: nosuch\n", "nosuch"},
	} {
		_, _, err := LoadFile(write("bad.yaml", c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: error %v, want it to name bad.yaml and %q", c.body, err, c.want)
		}
	}
}

// TestLoadFileLocatesErrors: the experiment's own problems name its line
// and field; a referred file's problems name that file and stay beneath
// the reference.
func TestLoadFileLocatesErrors(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "sys.yaml")
	if err := os.WriteFile(sys, []byte("name: s\nservices:\n  - name: a\n    type: base\n    calls: [b]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "exp.yaml")
	body := "kind: Experiment\nname: x\nsystem: sys.yaml\nfaults: nope.yaml\nphases:\n  warm-up: 3 apples\ntrace-sample: 1.5\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckFile(p)
	want := []string{
		p + ":3: system: sys.yaml has 1 problem(s), listed below",
		sys + `:5: services[0].calls[0]: unknown service "b"`,
		p + ":4: faults: read fault definition: open " + filepath.Join(dir, "nope.yaml"),
		p + `:6: phases.warm-up: bad duration "3 apples"`,
		p + `:7: trace-sample: 1.5: want a share of the requests`,
	}
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d:\n got %s\nwant %s…", i, lines[i], w)
		}
	}

	// A fault file where an experiment is wanted says what it is.
	err = CheckFile("../../fixtures/faults/social-delay.yaml")
	if err == nil || !strings.Contains(err.Error(), "social-delay.yaml: kind: this is a fault definition; an experiment (kind: Experiment) is wanted here") {
		t.Errorf("fault file as experiment: %v", err)
	}
}

// TestInlineDefinitionErrorsNameTheExperimentFilesLines: a system written
// inline is decoded where it stands, so its problems carry the experiment
// file's own line numbers, not the offset inside the inline block.
func TestInlineDefinitionErrorsNameTheExperimentFilesLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exp.yaml")
	body := "kind: Experiment\nname: x\nsystem:\n  name: s\n  services:\n    - name: a\n      type: nosuch\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckFile(p)
	if want := p + " (inline system):7: services[0].type: unknown type"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start %q", err, want)
	}
}

func TestTraceSampleFromTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exp.yaml")
	body := "kind: Experiment\nname: x\nsystem: ../../fixtures/systems/social.yaml\ntrace-sample: 0.25\n"
	body = strings.Replace(body, "../../", mustAbs(t, "../..")+"/", 1)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e, _, err := LoadFile(p)
	if err != nil || e.TraceSampleRatio != 0.25 {
		t.Fatalf("trace sample %v (%v), want 0.25", e, err)
	}
}

func TestRCAEvalFromTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exp.yaml")
	body := "kind: Experiment\nname: x\nsystem: " + mustAbs(t, "../..") + "/fixtures/systems/social.yaml\nrcaeval: true\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e, _, err := LoadFile(p)
	if err != nil || !e.RCAEval {
		t.Fatalf("rcaeval %v (%v), want true", e, err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
