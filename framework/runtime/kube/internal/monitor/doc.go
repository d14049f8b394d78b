// Package monitor gets a system's metrics into a Prometheus the runtime
// reads, behind one Monitor interface with three implementations:
// KubePrometheusMonitor (the pinned kube-prometheus release, fetched at run
// time and cached with its checksum, installed unless it is there; the
// system brings a ServiceMonitor), StandaloneMonitor (a plain Prometheus
// deployed with the system, for clusters without internet) and None.
// Resolver is the one place the mode a user chose, auto and existing
// included, becomes one of them.
//
// kube-prometheus' own manifests are arbitrary kinds (CRDs, the operator's
// custom resources), so they are applied through the dynamic client and a
// discovery REST mapper; everything else here uses the typed clientset.
package monitor
