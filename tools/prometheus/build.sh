#!/usr/bin/env bash
# Builds Prometheus (github.com/prometheus/prometheus/cmd/prometheus) into
# the tool cache, $VECRO_CACHE/prometheus/$VERSION/prometheus. The Kubernetes
# runtime packs it into an image (framework/image, no Docker) for its
# standalone monitoring mode: a cluster with no internet cannot fetch
# kube-prometheus or pull its images. Idempotent: a present binary is kept.
#
# Build tags: only Kubernetes service discovery (remove_all_sd +
# enable_kubernetes_sd, Prometheus' own switches) — the cloud SDs add tens
# of MB and nothing the runtime uses; no built-in web UI assets (the API is
# all vecro reads). go.mod pins Prometheus and every dependency.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VERSION=$("$here/../version.sh" prometheus)
MODULE_VERSION=$(awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$here/go.mod")
export GOWORK=off CGO_ENABLED=0
. "$here/../toolcache.sh"
toolcache_begin prometheus "$VERSION"

echo "prometheus: building $VERSION into $out (about 2 min cold)"
cd "$here"
v=github.com/prometheus/common/version
go build -trimpath -tags remove_all_sd,enable_kubernetes_sd,netgo \
  -ldflags "-s -w -X $v.Version=${VERSION#v} -X $v.Branch=HEAD -X $v.Revision=$MODULE_VERSION" \
  -o "$out.tmp" github.com/prometheus/prometheus/cmd/prometheus
toolcache_install prometheus --version
