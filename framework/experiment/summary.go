package experiment

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/spec"
)

// Movement is how one service's family moved during a fault.
type Movement struct {
	Service string
	// Role is "target", "caller" (calls the target, directly or through
	// others) or "unrelated" (neither calls it nor is called by it).
	Role string
	analysis.Comparison
}

// Movements compares family during the named fault with the baseline for
// the fault's target, every caller of it, and up to unrelated services that
// have no path to or from it. settle is skipped at the fault's start.
func (r *Result) Movements(sys *spec.System, family, faultName string, settle time.Duration, unrelated int) []Movement {
	target := ""
	for _, w := range r.Windows {
		if w.Fault == faultName {
			target = w.Target
		}
	}
	if target == "" {
		return nil
	}
	up, down := reach(sys, target, true), reach(sys, target, false)
	w := r.Fault(faultName)
	w.Start = w.Start.Add(settle)
	floor := analysis.DefaultThresholds().Floor[family]
	var out []Movement
	add := func(svc, role string) {
		out = append(out, Movement{Service: svc, Role: role, Comparison: analysis.Compare(r.Series(family, svc), w, floor)})
	}
	add(target, "target")
	for _, s := range sys.Services {
		if up[s.Name] {
			add(s.Name, "caller")
		}
	}
	n := 0
	for _, s := range sys.Services {
		if n < unrelated && s.Name != target && !up[s.Name] && !down[s.Name] {
			add(s.Name, "unrelated")
			n++
		}
	}
	return out
}

// reach returns the services that call target (up) or that target calls
// (down), transitively.
func reach(sys *spec.System, target string, up bool) map[string]bool {
	edges := map[string][]string{}
	for _, s := range sys.Services {
		for _, c := range s.Calls {
			if up {
				edges[c] = append(edges[c], s.Name)
			} else {
				edges[s.Name] = append(edges[s.Name], c)
			}
		}
	}
	seen := map[string]bool{}
	stack := slices.Clone(edges[target])
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] || n == target {
			continue
		}
		seen[n] = true
		stack = append(stack, edges[n]...)
	}
	return seen
}

// WriteMovements prints movements as a table.
func WriteMovements(w io.Writer, family string, ms []Movement) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "service\trole\t%s baseline\tduring fault\tratio\n", family)
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%.4g\t%.4g\t%.2f×\n", m.Service, m.Role, m.Base.Median, m.During.Median, m.Ratio)
	}
	return tw.Flush()
}
