package fault_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/spec"
)

func endpoints(svc string, n int) []agent.Endpoint {
	var out []agent.Endpoint
	for i := range n {
		out = append(out, agent.Endpoint{Instance: svc + "-" + string(rune('0'+i)), Service: svc})
	}
	return out
}

func faultFile(mode spec.Mode) *spec.FaultFile {
	return &spec.FaultFile{Name: "t", Faults: []spec.Fault{{
		Name: "slow", Target: "db", Start: spec.Duration(30 * time.Second), Duration: spec.Duration(15 * time.Second), Mode: mode,
		Behaviors: spec.Behaviors{
			NetDelay:  &spec.NetDelay{Time: spec.Duration(400 * time.Millisecond), Jitter: spec.Duration(150 * time.Millisecond)},
			CPUStress: &spec.CPUStress{Load: 80},
		},
	}}}
}

func TestPlanPlacesEveryBehaviourInTime(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ps, err := fault.Plan(faultFile(""), fault.Targets{"db": endpoints("db", 3)}, t0, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("got %d planned faults, want one per behaviour (2)", len(ps))
	}
	for _, p := range ps {
		if !p.Start.Equal(t0.Add(30*time.Second)) || !p.End.Equal(t0.Add(45*time.Second)) {
			t.Errorf("%s: window %v–%v, want t0+30s–t0+45s", p.ID(), p.Start, p.End)
		}
		if len(p.Agents) != 3 {
			t.Errorf("%s: %d agents, want all 3 replicas by default", p.ID(), len(p.Agents))
		}
		w := p.Wire()
		if w.ID != p.ID() || w.Behavior != p.Behavior || !json.Valid(w.Params) {
			t.Errorf("wire form %+v does not carry the plan", w)
		}
	}
	if ps[0].ID() != "slow.net-delay" || ps[1].ID() != "slow.cpu-stress" {
		t.Errorf("IDs %q, %q: want fault.behavior", ps[0].ID(), ps[1].ID())
	}
	if ps[0].Seed == ps[1].Seed {
		t.Error("two behaviours share a seed: their draws would be correlated")
	}
	var nd spec.NetDelay
	if err := json.Unmarshal(ps[0].Params, &nd); err != nil || nd.Time.D() != 400*time.Millisecond {
		t.Errorf("params %s do not round-trip to the spec struct: %v %+v", ps[0].Params, err, nd)
	}
}

func TestPlanModesAreSeeded(t *testing.T) {
	t0 := time.Now()
	targets := fault.Targets{"db": endpoints("db", 10)}
	for _, tc := range []struct {
		mode spec.Mode
		want int
	}{{"all", 10}, {"one", 1}, {"30%", 3}, {"25%", 3}, {"1%", 1}, {"100%", 10}} {
		a, err := fault.Plan(faultFile(tc.mode), targets, t0, 7)
		if err != nil {
			t.Fatalf("mode %q: %v", tc.mode, err)
		}
		b, _ := fault.Plan(faultFile(tc.mode), targets, t0, 7)
		if len(a[0].Agents) != tc.want {
			t.Errorf("mode %q: %d instances, want %d", tc.mode, len(a[0].Agents), tc.want)
		}
		for i := range a[0].Agents {
			if a[0].Agents[i] != b[0].Agents[i] {
				t.Errorf("mode %q: same seed chose different instances", tc.mode)
			}
		}
	}
	for _, bad := range []spec.Mode{"some", "0%", "150%", "x%"} {
		if _, err := fault.Plan(faultFile(bad), targets, t0, 7); err == nil {
			t.Errorf("mode %q accepted", bad)
		}
	}
	if _, err := fault.Plan(faultFile(""), fault.Targets{}, t0, 7); err == nil {
		t.Error("a target without instances was accepted")
	}
}
