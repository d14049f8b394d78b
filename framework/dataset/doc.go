// Package dataset writes an experiment run as files a researcher can load:
//
//	<artifacts>/<experiment>/<run-id>/
//	  manifest.json        everything needed to rerun: system, faults, load, seed, versions, time range
//	  labels.csv           ground truth: planned and applied window, target, parameters, measured effect
//	  metrics/<family>.csv timestamp (RFC 3339), unix_ms, one column per service
//	  metrics.csv          long form: one row per timestamp, service and family, with the faults active
//	  load.csv             the load generator's per-second statistics
//	  plots/<family>.png   each family over time, fault windows shaded
//
// A run is written to <run-id>.partial and renamed when complete, so a
// directory without the suffix is always whole; an interrupted run leaves
// the .partial directory with what it had. Every CSV's columns are defined
// once, in columns.go, and read back by the readers of this package.
package dataset
