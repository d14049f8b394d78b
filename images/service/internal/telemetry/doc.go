// Package telemetry gives every request of the service port a server span
// and a structured log line.
//
// Middleware continues the caller's trace (W3C traceparent), names the
// span's service, instance, path and status, marks 5xx answers as errors,
// and notes the faults the agent had on; it then writes one JSON line per
// request: time, level, service, instance, trace_id, span_id, method, path,
// status and duration_ms. NewLogHandler is that log's slog.Handler: JSON,
// the trace and span ids of the record's context, and a rate cap whose
// dropped lines are counted, so that a fault storm cannot turn the log into
// the workload.
package telemetry
