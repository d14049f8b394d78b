// Package image builds container images without Docker, the way ko does: a
// Go main package is compiled statically for linux (CGO_ENABLED=0,
// -trimpath) and packed with go-containerregistry into a one-layer OCI
// image whose entrypoint is the binary, run as a non-root user. An existing
// static binary (FerretDB, CoreDNS from the tool cache) packs the same way.
//
// The layer has no timestamps and the build is reproducible, so the same
// source gives the same digest; [ContentRef] names an image by that digest,
// and a changed binary gets a new tag (and, on Kubernetes, a rollout).
//
// An image leaves this package in one of three ways:
//   - [WriteTarball]: a docker-save archive that `kind load image-archive`
//     and `ctr -n k8s.io images import` read;
//   - [ImportContainerd]: that archive imported into a containerd (the
//     offline node of test/kubenode), through ctr;
//   - [Push]: to a registry, for any other cluster.
package image
