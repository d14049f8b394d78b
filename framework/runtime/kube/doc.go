// Package kube is the Kubernetes runtime: it runs a system on a kind
// cluster it provisions (sigs.k8s.io/kind's Go API, kind-config.yaml) or on
// any cluster named by a kubeconfig, with the same service binary as the
// local runtime.
//
// # Cluster and system
//
// A Cluster (kind, a kubeconfig, a REST config) has its own lifecycle:
// Provision and Delete. A Runtime deploys a system into it and its Stop
// removes only what Start applied, so that several systems, or several
// runs, can share one cluster; whoever made the Cluster deletes it.
//
// # What it applies
//
// A system is laid out as objects by a pure function, so that DryRun
// (`vecro deploy --runtime kube --dry-run`) prints exactly what Start applies:
// the namespace, a Secret with the agents' token, per service a Deployment
// <system>-<service> (the original's labels, requests and limits, a
// readiness probe on the admin port's /healthz, a storage type's real
// database as a native sidecar in the same pod) and a ClusterIP Service
// <system>-<service> 80→8080, and for monitoring a headless Service over the
// agents' admin ports, a ServiceMonitor scraping it every second, and a Role
// that lets kube-prometheus' Prometheus discover them. Everything is
// server-side applied by field manager "vecro", so applying twice changes
// nothing.
//
// # Waiting and reaching
//
// Start waits for the rollout with a deadline and, when it passes, reports
// every unfinished Deployment with its conditions, its pods' scheduling and
// container states and their warning events (RolloutError). The agents
// (every pod's admin port), one pod of every service and Prometheus are
// reached by client-go port-forwards through the API server, so the cluster
// needs no Ingress and no exposed port; the Deployment carries the local
// URLs and a metrics.Source over Prometheus' HTTP API (read with the "kube"
// flavour of framework/metrics' families, over cAdvisor). Until Stop, a pod
// that restarts, is deleted or loses its port-forward is reported on the
// Deployment's Failures.
//
// # Monitoring
//
// Options.Monitoring picks how a Prometheus is found. kube-prometheus is a
// pinned release, fetched at run time and cached with its checksum, and
// installed unless it is there. Where it cannot be fetched (no internet),
// MonitoringAuto falls back to MonitoringStandalone: a Prometheus built
// from the Go module proxy, applied with the system into its namespace,
// discovering its pods and the kubelets' cAdvisor endpoints itself, and
// deleted with it.
//
// # Traces
//
// With Options.Jaeger, a Jaeger v2 (also built from the Go module proxy)
// is applied with the system, the services export their spans to it, and
// the Deployment reads them back through its query API (traces.Jaeger,
// over a port-forward), as the local runtime's receiver is read.
//
// # Images
//
// The images the runtime builds (the service, the standalone Prometheus,
// Jaeger)
// reach the cluster through an ImageLoader: a kind cluster's nodes, a
// Registry, or a local Containerd.
//
// # Layout and clients
//
// This package is a facade; the work is in internal packages: manifest
// (the objects and their server-side apply), monitor (the Monitor
// interface, its kube-prometheus, standalone and none implementations and
// the one resolver of a mode), rollout (waiting and its report),
// portforward, images (building and loading) and kindcluster. They talk to
// the API server through client-go's typed clientset, applying with its
// apply configurations; the dynamic client is used only where client-go
// has no typed client: the system's ServiceMonitor and kube-prometheus'
// manifests (CRDs and the operator's custom resources).
//
// # e2e-framework
//
// sigs.k8s.io/e2e-framework is used in one place, where a suite author
// expects it: Env exposes the steps (CreateCluster, InstallMonitoring,
// Deploy, DeleteSystem, DeleteCluster, Teardown) as e2e-framework env
// funcs, for a TestMain's env.Setup/env.Finish or a Ginkgo suite alike, and
// CreateCluster hands the suite's envconf.Config a klient. The runtime
// itself does not depend on it: a second client stack (klient's resources
// and wait.For) doing what the typed clientset and apimachinery's wait
// already do would be one more thing to learn and keep in step.
package kube
