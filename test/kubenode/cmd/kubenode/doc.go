// Command kubenode drives the offline single-node Kubernetes of package
// test/kubenode: `make kube-node-up` runs `kubenode up`, `make
// kube-node-down` runs `kubenode down`. Run `kubenode` for its usage.
package main
