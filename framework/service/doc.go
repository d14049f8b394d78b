// Package service is the contract between the harness and the service
// binary: what the harness tells a service instance to be, in words both
// sides spell the same way.
//
// It is a leaf (standard library only) because the service binary links it:
// framework/spec aliases these types for the definition files, but the
// binary must not link spec's YAML decoder to learn what "mongodb" means.
// The Instance value (system, service, instance, type, calls, workload,
// storage, seed, ports, limits) that both runtimes will launch instances
// through belongs here too.
package service
