// Package images builds the images the Kubernetes runtime needs (the
// service binary, the standalone Prometheus; framework/image: static, one
// layer, non-root, no Docker), named by their content, and hands them to a
// cluster through a Loader: a registry it pulls from, a containerd on this
// machine, or (kindcluster) a kind cluster's nodes.
package images
