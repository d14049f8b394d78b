// Package runtime defines the seam between an experiment and the place a
// system runs: the Runtime interface and the Deployment it returns.
// Implementations live in runtime/local (one process per instance on
// loopback) and runtime/kube (a Kubernetes cluster).
package runtime
