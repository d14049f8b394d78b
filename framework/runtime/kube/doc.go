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
// WaitRollout waits with a deadline and, when it passes, reports every
// unfinished Deployment with its conditions, its pods' scheduling and
// container states and their warning events (RolloutError). The agents (every
// pod's admin port), one pod of every service and Prometheus are reached by
// client-go port-portforward.Set through the API server (ForwardPort), so the
// cluster needs no Ingress and no exposed port; the Deployment carries the
// local URLs and a metrics.Source over Prometheus' HTTP API (read with the
// "kube" flavour of framework/metrics' families, over cAdvisor).
//
// # Monitoring
//
// InstallMonitoring installs a pinned kube-prometheus release, fetched at
// run time and cached with its checksum (FetchRelease): setup first, CRDs
// established, then the rest, server-side applied; it is skipped when
// kube-prometheus is already there. Where it cannot be fetched (no
// internet), MonitoringAuto falls back to MonitoringStandalone: a
// Prometheus built from the Go module proxy (Standalone, PrometheusImage),
// applied with the system into its namespace, discovering its pods and the
// kubelets' cAdvisor endpoints itself, and deleted with it.
//
// # Images
//
// The images the runtime builds (the service, the standalone Prometheus)
// reach the cluster through an images.Loader: a kind cluster's nodes, a
// Registry, or a local Containerd.
//
// # e2e-framework
//
// Env exposes the steps (CreateCluster, InstallMonitoring, Deploy,
// DeleteSystem, DeleteCluster, Teardown) as e2e-framework env funcs, for a TestMain or a Ginkgo suite alike; the
// waits use e2e-framework's klient and wait.For.
package kube
