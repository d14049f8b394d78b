// Package kind is the end-to-end suite of the Kubernetes runtime on a real
// kind cluster: it provisions the cluster from kind-config.yaml (or reuses
// it), installs kube-prometheus, deploys the social system with an image
// built from images/service, and runs the social delay scenario through the
// kube runtime. Its specs are labelled runtime:kind; `make test` leaves them
// out (they need a Docker daemon and the internet) and `make test-kind` runs
// them.
package kind
