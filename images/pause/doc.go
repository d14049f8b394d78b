// Command pause is the infrastructure container of every pod on the offline
// node (test/kubenode): it holds the pod's namespaces open and, as PID 1 of
// a pod that shares its PID namespace, reaps the orphans reparented to it.
// It exits 0 on SIGTERM or SIGINT, which is how the runtime stops a sandbox.
//
// It is our own rather than registry.k8s.io/pause because the node has no
// registry to pull from; it is packed by framework/image like every image.
package main
