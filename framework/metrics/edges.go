package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// CalleeLabel is the label of vecro_downstream_request_duration_seconds
// that names the service called; with ServiceLabel (the caller) it keys an
// edge family's series.
const CalleeLabel = "callee"

// EdgeSep joins caller and callee in an edge family's column name. Service
// names are DNS labels (spec), so it never occurs inside one and a column
// splits back unambiguously.
const EdgeSep = "->"

// EdgeColumn names the column of the call-graph edge caller → callee in an
// edge family's table, e.g. "compose-post->login".
func EdgeColumn(caller, callee string) string { return caller + EdgeSep + callee }

// SplitEdgeColumn is EdgeColumn's inverse; ok is false for a column that
// names a service, not an edge.
func SplitEdgeColumn(col string) (caller, callee string, ok bool) {
	caller, callee, ok = strings.Cut(col, EdgeSep)
	return caller, callee, ok && caller != "" && callee != ""
}

// The edge families are the caller's view of each downstream call, from the
// service's vecro_downstream_request_duration_seconds histogram (labels
// callee, code): what a caller waited for and how often it failed, per
// callee. They read the service's own series, so one template serves both
// flavours.
const (
	downstreamMetric = "vecro_downstream_request_duration_seconds"
	edgeBy           = "by (" + ServiceLabel + ", " + CalleeLabel
	// edgeCalls counts calls per edge; %[1]s adds matchers to {S}. The
	// classic _count comes first, the native histogram's own count where a
	// Prometheus stores only that (as latencyAvg does).
	edgeCalls = `sum ` + edgeBy + `) (rate(` + downstreamMetric + `_count{{S}%[1]s}[{R}]))` +
		` or sum ` + edgeBy + `) (histogram_count(rate(` + downstreamMetric + `{{S}%[1]s}[{R}])))`
	// edgeFailed selects the calls that failed: a 5xx answer, or none at
	// all (code "error": refused, reset, timed out).
	edgeFailed = `,code=~"5..|error"`
)

// edgeOf turns a per-service latency template over the service's own
// duration histogram into the same computation per edge over the
// downstream histogram. Deriving the edge latencies from latencyQ and
// latencyAvg, rather than writing them again, keeps an edge's p95 computed
// exactly as a service's (native histogram first, classic fallback, or
// whatever latency_p95 moves to); TestEdgeTemplatesFollowServiceLatency
// fails if a change to those templates escapes the rewrite.
func edgeOf(tmpl string) string {
	return strings.NewReplacer(
		"vecro_http_request_duration_seconds", downstreamMetric,
		"by ("+ServiceLabel, edgeBy,
	).Replace(tmpl)
}

// edgeFamilies follow the service families in dataset order. Their windows
// are set here, not left to families.go's init, whose order relative to
// this file's init is only the file names'.
var edgeFamilies = []Family{
	{
		Name: "edge_latency_avg", Unit: "seconds", Windows: DefaultWindows,
		Help:      "mean duration of the caller's calls to the callee, as the caller timed them (connection, the callee's queueing and service, the response), failed calls included",
		templates: both(edgeOf(latencyAvg)),
	},
	{
		Name: "edge_latency_p95", Unit: "seconds", Windows: DefaultWindows,
		Help:      "95th percentile of the duration of the caller's calls to the callee, failed calls included" + quantileHow,
		templates: both(edgeOf(fmt.Sprintf(latencyQ, "0.95"))),
	},
	{
		Name: "edge_request_rate", Unit: "requests/s", Windows: DefaultWindows,
		Help:      "calls per second from the caller to the callee, answered or not",
		templates: both(fmt.Sprintf(edgeCalls, "")),
	},
	{
		Name: "edge_error_rate", Unit: "ratio", Windows: DefaultWindows,
		Help: "share of the caller's calls to the callee that failed: answered 5xx or not answered (0 when none failed, NaN when none were made)",
		// "or … * 0" keeps an edge whose calls all succeeded at 0, as
		// error_rate does for a service.
		templates: both(`((` + fmt.Sprintf(edgeCalls, edgeFailed) + `) or (` + fmt.Sprintf(edgeCalls, "") + `) * 0) / (` + fmt.Sprintf(edgeCalls, "") + `)`),
	},
}

// edgeFamilyNames marks the edge families without a field in Family, whose
// definition another change owns.
var edgeFamilyNames = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range edgeFamilies {
		m[f.Name] = true
	}
	return m
}()

func init() {
	families = append(families, edgeFamilies...)
}

// Edge reports whether f has a column per call-graph edge (named by
// EdgeColumn) rather than per service.
func (f Family) Edge() bool { return edgeFamilyNames[f.Name] }

// EdgeFamilyNames returns the names of the edge families, in dataset order.
func EdgeFamilyNames() []string {
	names := make([]string, len(edgeFamilies))
	for i, f := range edgeFamilies {
		names[i] = f.Name
	}
	return names
}

// columnOf is the table column of a result series of f: its service, or
// for an edge family its caller->callee.
func columnOf(f Family, labels map[string]string) (string, error) {
	svc, ok := labels[ServiceLabel]
	if !ok {
		return "", fmt.Errorf("collect %s: result series %v has no %s label", f.Name, labels, ServiceLabel)
	}
	if !f.Edge() {
		return svc, nil
	}
	callee, ok := labels[CalleeLabel]
	if !ok || callee == "" {
		return "", fmt.Errorf("collect %s: result series %v has no %s label", f.Name, labels, CalleeLabel)
	}
	return EdgeColumn(svc, callee), nil
}

// WithColumns returns t with a column for each of cols it lacks, NaN at
// every step, the columns sorted again. A dataset lists every service or
// edge the system declares this way, whether or not it had a value in the
// range (an edge whose caller never called it has none).
func (t Table) WithColumns(cols ...string) Table {
	missing := make([]string, 0, len(cols))
	for _, c := range cols {
		if !slices.Contains(t.Columns, c) && !slices.Contains(missing, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return t
	}
	all := append(slices.Clone(t.Columns), missing...)
	slices.Sort(all)
	from := make([]int, len(all))
	for j, c := range all {
		from[j] = slices.Index(t.Columns, c)
	}
	rows := make([][]float64, len(t.Rows))
	for i, row := range t.Rows {
		rows[i] = make([]float64, len(all))
		for j, k := range from {
			rows[i][j] = math.NaN()
			if k >= 0 {
				rows[i][j] = row[k]
			}
		}
	}
	t.Columns, t.Rows = all, rows
	return t
}
