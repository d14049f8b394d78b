// Package spec defines the input formats of vecro and reads them from YAML
// with errors that name file, line and field:
//
//   - a system definition (services, their types, workloads and calls);
//   - a fault definition (timed faults on target services);
//   - an experiment (kind: Experiment): a system and fault file, the load,
//     the phases and what the dataset keeps (experiment.go);
//   - a campaign (kind: Campaign): fault templates at several strengths
//     across targets or target selectors, the matrix of experiments that
//     makes a dataset corpus (campaign*.go).
//
// One decoder reads all four; DetectKind tells them apart (kind:, or the
// fields a system or fault file has).
//
// The formats are those of the original VECROsim (see the seed document),
// read leniently where its own examples were (the seed's "2min", "memory: 16"
// as MiB, "mem" as an alias of "memory") and strictly everywhere else:
// unknown fields, unknown types, workload keys a type does not support,
// unknown callees, call cycles, zero or negative durations, percentages
// outside 0–100 and overlapping faults are all errors. Every file may carry
// "apiVersion: vecro/v1"; a file without one is read as that version.
//
// Decoding walks the goccy/go-yaml AST rather than unmarshalling, so that
// every problem in a file is reported at once, each with its line.
//
// Units: Duration (Go syntax and "2min"), Size (bytes; "16MiB", bare number
// = MiB), Rate (bytes/s; tc(8) syntax where "kbit" is bits and "kbps" is
// bytes), MilliCPU ("700m", "0.5") and Percent. Their JSON forms, used on the
// agent's wire, are a Go duration string, integer bytes and a number of
// bytes/s.
//
// The units, the behaviours' parameter structs and their rules live in
// framework/behavior, which the fault agent shares without linking the YAML
// decoder; this package aliases them and gives their problems file and line.
package spec
