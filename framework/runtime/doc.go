// Package runtime defines the seam between an experiment and the place a
// system runs: the Runtime interface and the Deployment it returns.
// Implementations live in runtime/local (one process per instance on
// loopback) and runtime/kube (a Kubernetes cluster).
//
// A Deployment is also a file: `vecro deploy` saves it (Save, mode 0600:
// it holds every agent's token) where `vecro load`, `inject`, `collect` and
// `faults clear` read it (Load), and removes it when the system stops.
package runtime
