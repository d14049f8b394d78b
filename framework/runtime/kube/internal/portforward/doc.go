// Package portforward reaches a pod's port from 127.0.0.1 through the API
// server and the pod's kubelet, as `kubectl port-forward` does, so that a
// cluster needs no Ingress and no exposed port for the harness to reach
// the agents, the services and Prometheus. A Forward reports when it stops
// on its own (the pod went away), which the runtime turns into a failure.
package portforward
