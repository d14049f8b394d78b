package dataset

// Columns of every CSV this package writes, defined once: the writers, the
// readers and the package documentation use these.
var (
	// LabelColumns lead labels.csv; one "effect_<name>" column per effect
	// any fault reported follows them, sorted by name. instances are the
	// planned instances and applied_instances those whose agent really
	// switched the fault on (";"-separated); status is applied, partial or
	// failed (fault.Status); errors is a JSON object of why each other
	// planned instance did not apply it (empty when all did). The applied_*
	// times and the effects cover applied_instances only, and are empty for
	// a failed fault: it never happened.
	LabelColumns = []string{
		"fault", "behavior", "target", "instances", "applied_instances", "status", "errors", "params",
		"planned_start", "planned_end", "applied_start", "applied_end",
		"start_error_ms", "end_error_ms",
	}
	// FamilyTimeColumns lead metrics/<family>.csv; one column per service
	// follows them.
	FamilyTimeColumns = []string{"timestamp", "unix_ms"}
	// LongColumns are metrics.csv's columns. service is the column of the
	// family's wide CSV: a service, or in an edge family (edge_*) a
	// call-graph edge "caller->callee" (metrics.EdgeColumn), so that
	// (timestamp, service, family) stays a row's key and a pivot back to
	// the wide form works for every family. fault_active names the faults
	// whose applied window holds the timestamp (";"-separated, empty when
	// none); on_target is 1 when the row's service is the target of one of
	// them, or for an edge when either end is.
	LongColumns = []string{"timestamp", "unix_ms", "service", "family", "value", "fault_active", "on_target"}
	// TraceColumns are traces.csv's: one row per span, by start time. time
	// is the start (RFC 3339, ms); kind is server, client or internal;
	// peer_service names a client span's callee ("load"'s spans: the entry
	// service) and db_system a storage operation's database; status_code
	// is unset, ok or error; http_status is empty when the span has none.
	// fault_active names the faults whose applied window holds the start,
	// and on_target is 1 when the span's service or its peer is a target of
	// one of them (a fault on the callee lengthens the caller's client
	// span, as an edge in metrics.csv counts at both ends).
	TraceColumns = []string{
		"time", "trace_id", "span_id", "parent_span_id", "service", "instance", "kind", "name",
		"peer_service", "db_system", "start_unix_us", "duration_us", "status_code", "http_status",
		"fault_active", "on_target",
	}
	// LogColumns are logs.csv's: one row per request log line of any
	// instance, by time; the structured fields follow the message (status
	// and duration_ms on request lines, step and error on failures), then
	// the labels, as traces.csv's but for the line's service alone.
	LogColumns = []string{
		"time", "service", "instance", "level", "trace_id", "span_id", "message",
		"method", "path", "status", "duration_ms", "step", "error",
		"fault_active", "on_target",
	}
)

// EffectPrefix starts the labels.csv columns that carry a fault's measured
// effect.
const EffectPrefix = "effect_"

// Social9Families maps the original VECROsim dataset's file names (the
// published Social9 layout) to this project's families.
var Social9Families = map[string]string{
	"latency_avg":            "latency_avg",
	"latency_p95":            "latency_p95",
	"throughput":             "throughput",
	"cpu_usage":              "cpu_usage",
	"memory_usage":           "memory_usage",
	"network_receive_bytes":  "net_rx",
	"network_transmit_bytes": "net_tx",
}

// CaseColumns are cases.csv's, the index of a corpus that `vecro campaign`
// writes beside its cases' datasets: one row per case (one experiment of
// the campaign's matrix). case is the case's id, unique in the corpus;
// fault names the fault template and behavior its behaviour (several
// ";"-separated for a multi-fault case, target and params alike, in the
// same order); params is the behaviour's parameters as JSON; repetition
// counts from 1; status is planned, complete, partial or failed (the
// dataset's manifest decides complete and failed); dataset is the case's
// run directory relative to the corpus (empty until it ran); the window
// columns are the first fault's, planned from the case's timeline and
// applied from its labels.csv (empty when no agent applied it).
var CaseColumns = []string{
	"case", "system", "fault", "behavior", "target", "params", "repetition", "seed", "status", "dataset",
	"planned_start", "planned_end", "applied_start", "applied_end",
}

// Case statuses in cases.csv.
const (
	CasePlanned  = "planned"
	CaseComplete = "complete"
	CasePartial  = "partial"
	CaseFailed   = "failed"
)

// CasesFile is a corpus's index, in the corpus's directory.
const CasesFile = "cases.csv"
