package fault

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
)

// Status is how much of a planned fault the agents really applied.
type Status string

// Statuses of a Window.
const (
	// StatusApplied: every planned instance switched the fault on.
	StatusApplied Status = "applied"
	// StatusPartial: some planned instances switched it on, others did not
	// (they reported an error, or nothing).
	StatusPartial Status = "partial"
	// StatusFailed: no planned instance switched it on. A dataset must not
	// label anything with such a fault, so it is never active.
	StatusFailed Status = "failed"
)

// Window is the ground truth of one planned fault: when it was meant to be
// on, which instances really switched it on and when, which did not and why,
// and what it did.
type Window struct {
	Fault    string `json:"fault"`
	Behavior string `json:"behavior"`
	Target   string `json:"target"`
	// Params is the behaviour's parameters as compact JSON.
	Params string `json:"params"`
	// Instances are the planned instances, chosen by the fault's mode.
	Instances []string `json:"instances"`
	// AppliedInstances are those of Instances whose agent reports that it
	// switched the fault on, in the order of Instances.
	AppliedInstances []string `json:"applied_instances"`
	// Errors says, by instance, why a planned instance did not apply the
	// fault: the agent's own Status.Error where it gave one, otherwise what
	// its report showed (no record of the fault, never switched on).
	Errors map[string]string `json:"errors,omitempty"`
	// Status sums up AppliedInstances against Instances.
	Status       Status    `json:"status"`
	PlannedStart time.Time `json:"planned_start"`
	PlannedEnd   time.Time `json:"planned_end"`
	// AppliedStart is the earliest switch-on and AppliedEnd the latest
	// switch-off over AppliedInstances. AppliedStart is zero when none
	// applied; AppliedEnd is zero while any of them is still on.
	AppliedStart time.Time `json:"applied_start"`
	AppliedEnd   time.Time `json:"applied_end"`
	// Effect merges the effects of AppliedInstances (an instance that never
	// switched the fault on did nothing): counters are summed; a "mean_"
	// key is averaged weighted by the count it is a mean of (see
	// MeanWeights), so that it stays the mean over every event of every
	// instance.
	Effect map[string]float64 `json:"effect,omitempty"`
}

// MeanWeights are the effect counters a "mean_" effect is weighted by when
// instances are merged, first match wins: an agent's mean_* value is a mean
// over its own events, and these are the counts of those events (net-delay:
// mean_added_delay_seconds and mean_drawn_delay_seconds are means over
// requests_delayed bursts). A mean with none of them beside it, or whose
// weights are all zero, is averaged over the instances unweighted: there is
// no count to weigh by, and equal weights are the only claim that is not
// made up.
var MeanWeights = []string{"requests_delayed", "requests_seen", "chunks_seen"}

// Applied reports whether any agent switched the fault on.
func (w Window) Applied() bool { return !w.AppliedStart.IsZero() }

// Span is the applied window, the only one ground truth may use: from the
// earliest switch-on to the latest switch-off (or the planned end while an
// instance is still on). ok is false, and the times zero, for a fault no
// agent applied; there is no fallback to the plan.
func (w Window) Span() (start, end time.Time, ok bool) {
	if !w.Applied() {
		return time.Time{}, time.Time{}, false
	}
	end = w.AppliedEnd
	if end.IsZero() {
		end = w.PlannedEnd
	}
	return w.AppliedStart, end, true
}

// PlannedSpan is the window the fault file asked for, for what needs the
// intent rather than the truth (e.g. assertions about a fault that was
// never applied).
func (w Window) PlannedSpan() (start, end time.Time) { return w.PlannedStart, w.PlannedEnd }

// Active reports whether t falls inside the applied window, start included,
// end excluded. A fault no agent applied is never active.
func (w Window) Active(t time.Time) bool {
	s, e, ok := w.Span()
	return ok && !t.Before(s) && t.Before(e)
}

// NotApplied are the planned instances that did not switch the fault on.
func (w Window) NotApplied() []string {
	var out []string
	for _, in := range w.Instances {
		if !slices.Contains(w.AppliedInstances, in) {
			out = append(out, in)
		}
	}
	return out
}

// Problem describes what was not applied, naming the fault, its behaviour
// and every instance that did not apply it with its reason; "" for a fully
// applied window.
func (w Window) Problem() string {
	missing := w.NotApplied()
	if len(missing) == 0 {
		return ""
	}
	parts := make([]string, len(missing))
	for i, in := range missing {
		parts[i] = in + ": " + w.Errors[in]
	}
	return fmt.Sprintf("fault %q (%s on %s) %s on %d of %d instances: %s", w.Fault, w.Behavior, w.Target,
		w.Status, len(w.AppliedInstances), len(w.Instances), strings.Join(parts, "; "))
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
		var effects []map[string]float64
		stillOn := false
		for _, ep := range p.Agents {
			w.Instances = append(w.Instances, ep.Instance)
			st, found := statusOf(reports[ep.Instance], p.ID())
			switch {
			case !found:
				w.addError(ep.Instance, "the agent has no record of the fault")
			case st.Error != "":
				w.addError(ep.Instance, st.Error)
			case st.AppliedStart == nil:
				w.addError(ep.Instance, fmt.Sprintf("the agent never switched it on (phase %s)", st.Phase))
			default:
				w.AppliedInstances = append(w.AppliedInstances, ep.Instance)
				if w.AppliedStart.IsZero() || st.AppliedStart.Before(w.AppliedStart) {
					w.AppliedStart = *st.AppliedStart
				}
				if st.AppliedEnd == nil {
					stillOn = true
				} else if st.AppliedEnd.After(w.AppliedEnd) {
					w.AppliedEnd = *st.AppliedEnd
				}
				effects = append(effects, st.Effect)
			}
		}
		if stillOn {
			w.AppliedEnd = time.Time{}
		}
		switch {
		case len(w.AppliedInstances) == 0:
			w.Status = StatusFailed
		case len(w.AppliedInstances) < len(w.Instances):
			w.Status = StatusPartial
		default:
			w.Status = StatusApplied
		}
		w.Effect = mergeEffects(effects)
		out = append(out, w)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PlannedStart.Before(out[j].PlannedStart) })
	return out
}

func (w *Window) addError(instance, msg string) {
	if w.Errors == nil {
		w.Errors = map[string]string{}
	}
	w.Errors[instance] = msg
}

// statusOf finds the report of fault id in one agent's list.
func statusOf(sts []agent.Status, id string) (agent.Status, bool) {
	for _, st := range sts {
		if st.ID == id {
			return st, true
		}
	}
	return agent.Status{}, false
}

// mergeEffects sums counters and averages means as Window.Effect says.
func mergeEffects(effects []map[string]float64) map[string]float64 {
	type mean struct {
		sum, weight, plain float64
		n                  int
		// unweighted: an instance reported the mean without a count
		// beside it, so no weighting covers every instance.
		unweighted bool
	}
	out := map[string]float64{}
	means := map[string]*mean{}
	for _, eff := range effects {
		weight, weighted := 0.0, false
		for _, k := range MeanWeights {
			if v, ok := eff[k]; ok {
				weight, weighted = v, true
				break
			}
		}
		for k, v := range eff {
			if !strings.HasPrefix(k, "mean_") {
				out[k] += v
				continue
			}
			m := means[k]
			if m == nil {
				m = &mean{}
				means[k] = m
			}
			m.n++
			m.plain += v
			m.sum += v * weight
			m.weight += weight
			m.unweighted = m.unweighted || !weighted
		}
	}
	for k, m := range means {
		if !m.unweighted && m.weight > 0 {
			out[k] = m.sum / m.weight
		} else {
			out[k] = m.plain / float64(m.n)
		}
	}
	if len(out) == 0 {
		return nil
	}
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
