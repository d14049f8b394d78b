package dataset

import "github.com/vecrosim/vecro/framework/metrics"

// onTarget tells whether a long-form row's column touches a fault's
// target. An edge counts at both ends: a fault on the callee (its ingress,
// its CPU) lengthens the calls into it, and one on the caller (its CPU,
// its egress) the calls it times.
func onTarget(col string, targets map[string]bool) bool {
	if caller, callee, ok := metrics.SplitEdgeColumn(col); ok {
		return targets[caller] || targets[callee]
	}
	return targets[col]
}
