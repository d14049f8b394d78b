package kube

// ImageRepository names the service images vecro builds for kind; the tag
// is a content digest prefix, so a changed binary gets a new tag and a
// rollout.
const ImageRepository = "vecro.local/service"
