// Package manifest lays a system out as Kubernetes objects and applies
// them: per service a Deployment and a ClusterIP Service running the
// service binary (a storage type's database as a native sidecar), the
// agents' Secret, the kube-prometheus ServiceMonitor and the access its
// Prometheus needs, or the whole standalone Prometheus. Build is a pure
// function of the system and Options, so a dry run prints exactly what a
// deploy applies; Apply server-side applies the result as field manager
// "vecro".
package manifest
