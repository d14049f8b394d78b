package campaign

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/spec"
)

const fixture = "../../fixtures/campaigns/social-small.yaml"

// writeCampaign writes a campaign on the social system with the given
// faults and targets (YAML at the top level's indentation) and extra
// top-level lines, and returns its path.
func writeCampaign(t testing.TB, faults, targets, extra string) string {
	t.Helper()
	social, err := filepath.Abs("../../fixtures/systems/social.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := "kind: Campaign\nname: c\nsystem: " + social + "\nfaults:\n" + faults +
		"targets: " + targets + "\nfault-window: {start: 30s, duration: 20s}\n" + extra
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func ids(p Plan) []string {
	out := make([]string, len(p.Cases))
	for i, c := range p.Cases {
		out[i] = c.ID
	}
	return out
}

func TestExpandFixture(t *testing.T) {
	p, err := LoadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "social-small" || !slices.Equal(p.Systems, []string{"social"}) || p.File != fixture || len(p.Cases) != 18 || len(p.Skipped) != 0 {
		t.Fatalf("plan %s on %s from %s: %d cases, %d skipped", p.Name, p.Systems, p.File, len(p.Cases), len(p.Skipped))
	}
	// Repetitions outermost, then templates, then targets.
	want := []string{
		"delay-posts-storage-db-r1", "delay-user-info-r1", "delay-blocked-users-r1",
		"loss-posts-storage-db-r1", "loss-user-info-r1", "loss-blocked-users-r1",
		"cpu-posts-storage-db-r1", "cpu-user-info-r1", "cpu-blocked-users-r1",
	}
	for _, id := range want[:9] {
		want = append(want, strings.TrimSuffix(id, "r1")+"r2")
	}
	if got := ids(p); !slices.Equal(got, want) {
		t.Errorf("cases\n%v\nwant\n%v", got, want)
	}
	// 18 × (70 s timeline + the overhead).
	if p.Estimate() != 18*(70*time.Second+CaseOverhead) {
		t.Errorf("estimate %v", p.Estimate())
	}

	c := p.Cases[0]
	e := c.Experiment
	if c.Fault != "delay" || c.Target != "posts-storage-db" || c.Repetition != 1 || c.Duration != 70*time.Second ||
		!slices.Equal(c.Behaviors, []string{"net-delay"}) || !slices.Equal(c.Params, []string{`{"time":"400ms","jitter":"150ms"}`}) {
		t.Errorf("case %+v", c)
	}
	// The experiment is built as an experiment file's would be.
	if e.Name != c.ID || *e.Seed != c.Seed || e.System == nil || e.System.Name != "social" || e.Load.Rate != "40" || e.Load.Arrivals != "poisson" ||
		e.Phases.WarmUp != 15*time.Second || e.Phases.Recovery != 5*time.Second || e.Windows.Quantile != 10*time.Second || !e.NoPlots || e.Step != time.Second {
		t.Errorf("experiment %+v", e)
	}
	ff := e.Faults
	if ff == nil || ff.Name != c.ID || *ff.Seed != c.Seed || ff.Namespace != "social" || len(ff.Faults) != 1 {
		t.Fatalf("faults %+v", ff)
	}
	f := ff.Faults[0]
	if f.Name != "delay" || f.Target != "posts-storage-db" || f.Start.D() != 35*time.Second || f.Duration.D() != 30*time.Second || f.Behaviors.NetDelay == nil {
		t.Errorf("fault %+v", f)
	}
	if err := spec.CheckFaults(ff, e.System); err != nil {
		t.Errorf("a case's faults do not pass the fault file's checks: %v", err)
	}
}

// TestExpandDeterministic: the same file plans the same cases with the
// same seeds, each derived from the campaign's seed and the case's id.
func TestExpandDeterministic(t *testing.T) {
	a, err := LoadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[int64]string{}
	for i, c := range a.Cases {
		if c.ID != b.Cases[i].ID || c.Seed != b.Cases[i].Seed || !reflect.DeepEqual(c.Row(), b.Cases[i].Row()) {
			t.Errorf("case %d: %s/%d vs %s/%d", i, c.ID, c.Seed, b.Cases[i].ID, b.Cases[i].Seed)
		}
		if c.Seed != fault.DeriveSeed(42, c.ID) {
			t.Errorf("%s: seed %d, want DeriveSeed(42, id)", c.ID, c.Seed)
		}
		if other, dup := seeds[c.Seed]; dup {
			t.Errorf("%s and %s share seed %d", c.ID, other, c.Seed)
		}
		seeds[c.Seed] = c.ID
	}
}

// TestExpandMatrix: targets all and each selector kind, strength lists and
// repetitions give the cases they should.
func TestExpandMatrix(t *testing.T) {
	delay := "  - name: delay\n    behaviors: {net-delay: {time: 100ms}}\n"
	for _, tc := range []struct {
		name, faults, targets, extra string
		n                            int
		first, last                  string
		skipped                      int
	}{
		{"all", delay, "[all]", "", 25, "delay-follow-user-r1", "delay-write-graph-db-r1", 0},
		{"type", delay, "[{type: mongodb}]", "", 5, "delay-read-timeline-db-r1", "delay-write-graph-db-r1", 0},
		{"leaf", delay, "[{role: leaf}]", "", 6, "delay-blocked-users-r1", "delay-write-graph-db-r1", 0},
		{"storage", delay, "[{role: storage}]", "", 5, "delay-read-timeline-db-r1", "delay-write-graph-db-r1", 0},
		{"fan-in", delay, "[{role: fan-in}]", "", 6, "delay-login-r1", "delay-posts-storage-db-r1", 0},
		{"entry", delay, "[{role: entry}]", "", 12, "delay-follow-user-r1", "delay-read-post-r1", 0},
		{"repetitions", delay, "[user-info]", "repetitions: 3\n", 3, "delay-user-info-r1", "delay-user-info-r3", 0},
		{"strengths", "  - name: delay\n    behaviors: {net-delay: {time: [100ms, 400ms], jitter: [5ms, 10ms]}}\n", "[user-info, login]", "repetitions: 2\n",
			16, "delay-100ms-5ms-user-info-r1", "delay-400ms-10ms-login-r2", 0},
		// on: db on the fan-in services: only posts-storage-db, the one
		// storage service among them, takes the db variant.
		{"skip", "  - name: delay\n    behaviors: {net-delay: {time: 100ms, on: [ingress, db]}}\n", "[{role: fan-in}]", "",
			7, "delay-ingress-login-r1", "delay-db-posts-storage-db-r1", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadFile(writeCampaign(t, tc.faults, tc.targets, tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			got := ids(p)
			if len(got) != tc.n || got[0] != tc.first || got[len(got)-1] != tc.last || len(p.Skipped) != tc.skipped {
				t.Errorf("%d cases %v, %d skipped; want %d from %s to %s, %d skipped", len(got), got, len(p.Skipped), tc.n, tc.first, tc.last, tc.skipped)
			}
		})
	}
	p, err := LoadFile(writeCampaign(t, "  - name: delay\n    behaviors: {net-delay: {time: 100ms, on: [ingress, db]}}\n", "[{role: fan-in}]", "repetitions: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	sk := p.Skipped[0]
	if len(p.Skipped) != 5 || sk.Fault != "delay" || sk.Strength != "db" || sk.Target != "login" || !strings.Contains(sk.Reason, "on: db needs a storage service") {
		t.Errorf("skipped (once, not once per repetition): %+v", p.Skipped)
	}
}

// TestExpandErrors: what only an experiment can tell is checked once for
// every case, with the campaign's lines.
func TestExpandErrors(t *testing.T) {
	delay := "  - name: delay\n    behaviors: {net-delay: {time: 100ms}}\n"
	for _, tc := range []struct {
		name, extra, targets, want string
	}{
		{"short baseline", "phases: {warm-up: 28s}\n", "[user-info]",
			`c.yaml:8: fault-window.start: fault "delay" starts at 30s: after a warm-up of 28s that leaves a baseline of 2s, less than the 5s the assertions need; start it at 33s or later, or shorten the warm-up`},
		{"rate", "load: {rate: fast}\n", "[user-info]", "c.yaml:9: load.rate: "},
		{"arrivals", "load: {rate: \"10\", arrivals: bursty}\n", "[user-info]", `c.yaml:9: load.arrivals: unknown arrivals "bursty"; want uniform or poisson`},
		{"open and closed", "load: {rate: \"10\", users: 2}\n", "[user-info]", "c.yaml:9: load: both rate (an open loop) and users or delay (a closed loop): choose one"},
		{"load service", "load: {services: [front]}\n", "[user-info]", `c.yaml:9: load.services[0]: "front" is not a service of system "social"`},
		{"family", "families: [latency_p95, latency_p96]\n", "[user-info]", `c.yaml:9: families[1]: unknown metric family "latency_p96"`},
		{"trace sample", "trace-sample: 1.5\n", "[user-info]", "c.yaml:9: trace-sample: 1.5: want a share of the requests, 0 < r ≤ 1 (absent: all)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCampaign(t, delay, tc.targets, tc.extra)
			err := CheckFile(path)
			if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(filepath.Dir(path), tc.want)) {
				t.Errorf("error %v\nwant %s…", err, tc.want)
			}
		})
	}
	if err := CheckFile(fixture); err != nil {
		t.Errorf("the fixture: %v", err)
	}
	if err := CheckFile(writeCampaign(t, delay, "[nobody]", "")); err == nil || !strings.Contains(err.Error(), `targets[0]: target "nobody" is not a service`) {
		t.Errorf("a spec problem: %v", err)
	}
	if _, err := Expand(&spec.CampaignFile{}); err == nil {
		t.Error("Expand of an empty CampaignFile")
	}
}

// TestExpandSystems: a campaign of two systems has each system's cases,
// named after it, each running its own system in its own namespace.
func TestExpandSystems(t *testing.T) {
	p, err := LoadFile("../../fixtures/campaigns/two-systems.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Systems, []string{"social", "chain"}) {
		t.Errorf("systems %v", p.Systems)
	}
	var got []string
	for _, c := range p.Cases {
		got = append(got, c.ID)
		if c.Experiment.System.Name != c.System || c.Row().System != c.System || !strings.HasPrefix(c.ID, c.System+"-") ||
			c.Experiment.Faults.Namespace != c.Experiment.System.EffectiveNamespace() {
			t.Errorf("%s: system %s, experiment's %s, namespace %s", c.ID, c.System, c.Experiment.System.Name, c.Experiment.Faults.Namespace)
		}
	}
	if want := []string{"social-delay-blocked-users-r1", "chain-delay-mid-r1", "chain-delay-leaf-r1"}; !slices.Equal(got, want) {
		t.Errorf("cases %v, want %v", got, want)
	}
}
