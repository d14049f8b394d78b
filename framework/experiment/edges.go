package experiment

import (
	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// EdgeColumns names every call-graph edge sys declares as an edge family's
// columns (metrics.EdgeColumn), in definition order.
func EdgeColumns(sys *spec.System) []string {
	if sys == nil {
		return nil
	}
	var cols []string
	for _, svc := range sys.Services {
		for _, callee := range svc.Calls {
			cols = append(cols, metrics.EdgeColumn(svc.Name, callee))
		}
	}
	return cols
}

// declaredColumns gives an edge family's table a column for every edge of
// sys: an edge its caller never called in the range has no series (the
// service creates a callee's series on its first call), and a dataset's
// readers should find the column empty rather than missing.
func declaredColumns(t metrics.Table, fam metrics.Family, sys *spec.System) metrics.Table {
	if !fam.Edge() {
		return t
	}
	return t.WithColumns(EdgeColumns(sys)...)
}

// Edge is the series of the call-graph edge caller → callee in an edge
// family (edge_latency_p95, edge_error_rate, …): Series(family,
// metrics.EdgeColumn(caller, callee)).
func (r *Result) Edge(family, caller, callee string) analysis.Series {
	return r.Series(family, metrics.EdgeColumn(caller, callee))
}
