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
`)
	e, _, err := LoadFile(ok)
	if err != nil {
		t.Fatal(err)
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
