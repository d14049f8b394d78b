package fault

import (
	"sort"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
)

// Window is the ground truth of one planned fault: when it was meant to be
// on, when the agents really switched it on and off, and what it did.
type Window struct {
	Fault    string `json:"fault"`
	Behavior string `json:"behavior"`
	Target   string `json:"target"`
	// Params is the behaviour's parameters as compact JSON.
	Params       string    `json:"params"`
	Instances    []string  `json:"instances"`
	PlannedStart time.Time `json:"planned_start"`
	PlannedEnd   time.Time `json:"planned_end"`
	// AppliedStart is the earliest switch-on and AppliedEnd the latest
	// switch-off over the fault's instances; zero when no agent reported one.
	AppliedStart time.Time `json:"applied_start"`
	AppliedEnd   time.Time `json:"applied_end"`
	// Effect merges the instances' effects: counters are summed, keys that
	// start with "mean_" are averaged over the instances that reported them.
	Effect map[string]float64 `json:"effect,omitempty"`
}

// Applied reports whether the agents switched the fault on at all.
func (w Window) Applied() bool { return !w.AppliedStart.IsZero() }

// Span is the window to use for analysis: the applied one where known (an
// unfinished applied window ends at its planned end), the planned one
// otherwise.
func (w Window) Span() (start, end time.Time) {
	if !w.Applied() {
		return w.PlannedStart, w.PlannedEnd
	}
	end = w.AppliedEnd
	if end.IsZero() {
		end = w.PlannedEnd
	}
	return w.AppliedStart, end
}

// Active reports whether t falls inside the window's Span, start included,
// end excluded.
func (w Window) Active(t time.Time) bool {
	s, e := w.Span()
	return !t.Before(s) && t.Before(e)
}

// Windows merges the agents' reports (by instance name) into one Window per
// planned fault.
func Windows(planned []Planned, reports map[string][]agent.Status) []Window {
	out := make([]Window, 0, len(planned))
	for _, p := range planned {
		w := Window{
			Fault: p.Fault, Behavior: p.Behavior, Target: p.Target, Params: string(p.Params),
			PlannedStart: p.Start, PlannedEnd: p.End,
		}
		sums := map[string]float64{}
		counts := map[string]int{}
		for _, ep := range p.Agents {
			w.Instances = append(w.Instances, ep.Instance)
			for _, st := range reports[ep.Instance] {
				if st.ID != p.ID() {
					continue
				}
				if st.AppliedStart != nil && (w.AppliedStart.IsZero() || st.AppliedStart.Before(w.AppliedStart)) {
					w.AppliedStart = *st.AppliedStart
				}
				if st.AppliedEnd != nil && st.AppliedEnd.After(w.AppliedEnd) {
					w.AppliedEnd = *st.AppliedEnd
				}
				for k, v := range st.Effect {
					sums[k] += v
					counts[k]++
				}
			}
		}
		if len(sums) > 0 {
			w.Effect = make(map[string]float64, len(sums))
			for k, v := range sums {
				if strings.HasPrefix(k, "mean_") {
					v /= float64(counts[k])
				}
				w.Effect[k] = v
			}
		}
		out = append(out, w)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PlannedStart.Before(out[j].PlannedStart) })
	return out
}

// ActiveAt returns the windows active at t.
func ActiveAt(ws []Window, t time.Time) []Window {
	var out []Window
	for _, w := range ws {
		if w.Active(t) {
			out = append(out, w)
		}
	}
	return out
}
