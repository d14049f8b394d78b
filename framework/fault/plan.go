package fault

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/spec"
)

// Targets maps a service name to the agents of its instances.
type Targets map[string][]agent.Endpoint

// Planned is one behaviour of one fault, placed in time and on instances.
type Planned struct {
	Fault    string
	Behavior string
	Target   string
	// Params is the behaviour's parameter struct as JSON (the agent's wire form).
	Params     json.RawMessage
	Start, End time.Time
	Seed       int64
	// Agents are the instances the fault lands on, chosen by the fault's mode.
	Agents []agent.Endpoint
}

// ID is the agent-side identity of the planned fault: one per fault and
// behaviour, so one fault with two behaviours is two agent faults.
func (p Planned) ID() string { return p.Fault + "." + p.Behavior }

// Wire is the request body the agents receive.
func (p Planned) Wire() agent.Fault {
	return agent.Fault{ID: p.ID(), Fault: p.Fault, Behavior: p.Behavior, Params: p.Params, Start: p.Start, End: p.End, Seed: p.Seed}
}

// Plan places every behaviour of ff on the timeline that starts at t0 and on
// the target instances in targets. seed is the run's seed; each planned fault
// gets its own seed derived from it and its ID, so adding a fault does not
// change the draws of the others.
func Plan(ff *spec.FaultFile, targets Targets, t0 time.Time, seed int64) ([]Planned, error) {
	var out []Planned
	for _, f := range ff.Faults {
		eps, ok := targets[f.Target]
		if !ok || len(eps) == 0 {
			return nil, fmt.Errorf("plan fault %q: target %q has no instances in this deployment", f.Name, f.Target)
		}
		chosen, err := choose(f.Mode, eps, DeriveSeed(seed, f.Name, "mode"))
		if err != nil {
			return nil, fmt.Errorf("plan fault %q: %w", f.Name, err)
		}
		start := t0.Add(f.Start.D())
		end := start.Add(f.Duration.D())
		for _, b := range f.Behaviors.List() {
			params, err := json.Marshal(b)
			if err != nil {
				return nil, fmt.Errorf("plan fault %q: encode %s parameters: %w", f.Name, b.Kind(), err)
			}
			p := Planned{Fault: f.Name, Behavior: b.Kind(), Target: f.Target, Params: params, Start: start, End: end, Agents: chosen}
			p.Seed = DeriveSeed(seed, p.ID())
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// choose picks the instances a fault lands on. The pick is drawn from seed so
// "one" and "N%" hit the same replicas when a run is replayed.
func choose(mode spec.Mode, eps []agent.Endpoint, seed int64) ([]agent.Endpoint, error) {
	switch {
	case mode == "" || mode == spec.ModeAll || mode == spec.ModeOne:
	default:
		p, err := mode.Percent()
		if err != nil || p <= 0 || p > 100 {
			return nil, fmt.Errorf("mode %q: want all, one or a percentage in (0, 100]", mode)
		}
	}
	n := mode.Count(len(eps))
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	idx := r.Perm(len(eps))[:n]
	sort.Ints(idx)
	out := make([]agent.Endpoint, n)
	for i, k := range idx {
		out[i] = eps[k]
	}
	return out, nil
}

// DeriveSeed mixes a run seed with names into an independent seed.
func DeriveSeed(seed int64, names ...string) int64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(uint64(seed) >> (8 * i))
	}
	h.Write(b[:])
	for _, n := range names {
		h.Write([]byte{0})
		h.Write([]byte(n))
	}
	return int64(h.Sum64() &^ (1 << 63))
}
