package kube

import "github.com/vecrosim/vecro/framework/runtime/kube/internal/images"

// An ImageLoader makes an image the runtime built (the service image, the
// standalone Prometheus) available to the cluster's nodes, without Docker.
type ImageLoader = images.Loader

// Registry pushes images to a registry the cluster pulls from: the image
// vecro.local/service:<tag> becomes <Prefix>/service:<tag>, and pods name
// the pushed digest.
type Registry = images.Registry

// Containerd imports images into a containerd on this machine (the CRI's
// namespace), for a single-node cluster whose kubelet uses it.
type Containerd = images.Containerd
