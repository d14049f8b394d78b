// Package traces carries the run's OpenTelemetry spans from the processes
// that make them to the dataset.
//
// Both ends live here, so that the attribute names are defined once: the
// service binary and the load generator export through NewProvider (the
// SDK's batch span processor over OTLP/HTTP), and the harness collects with
// a Receiver, an OTLP/HTTP protobuf endpoint in memory with a span cap,
// that reads the spans back per time window as flat Span records. A Source
// is what a runtime hands over for that read; the local runtime's is the
// Receiver.
package traces
