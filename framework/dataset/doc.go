// Package dataset writes an experiment run as files a researcher can load:
//
//	<artifacts>/<experiment>/<run-id>/
//	  manifest.json        everything needed to rerun: system, faults, load, seed, versions, time range
//	  labels.csv           ground truth: planned and applied window, target, the instances that
//	                       applied the fault (status applied|partial|failed, and why the others
//	                       did not), parameters, measured effect
//	  metrics/<family>.csv timestamp (RFC 3339), unix_ms, one column per service
//	                       (edge_* families: per call-graph edge, "caller->callee")
//	  metrics.csv          long form: one row per timestamp, service (or edge) and family, with the faults active
//	  load.csv             the load generator's per-second statistics
//	  traces.csv           one row per span (the load's root spans, every server, client and
//	                       storage span), with the faults active at its start
//	  logs.csv             one row per request log line of any instance, labelled alike
//	  callgraph.dot        the call graph the client spans show, calls (and failures) per edge
//	  plots/<family>.png   each family over time, fault windows shaded
//
// A run is written to <run-id>.partial and renamed when complete, so a
// directory without the suffix is always whole; an interrupted run leaves
// the .partial directory with what it had. A run that completed but whose
// ground truth failed it (a fault no agent applied) is renamed to
// <run-id>.failed instead, its manifest's status "failed" with the reason:
// kept as evidence, never mistaken for a run that did what it planned.
// Ground truth is what the agents measured: metrics.csv's fault_active and
// on_target follow the applied windows only, so a fault that was never
// applied marks no row. Every CSV's columns are defined
// once, in columns.go, and read back by the readers of this package.
//
// The edge families (edge_latency_avg, edge_latency_p95, edge_request_rate,
// edge_error_rate) are the callers' view of every call: their columns are
// the edges the system declares, named "caller->callee"; an edge that
// carried no call has an empty column, as a cell without a value always is.
// In metrics.csv an edge stands in the service column, so that (timestamp,
// service, family) stays a row's key.
package dataset
