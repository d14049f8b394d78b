#!/usr/bin/env bash
# Builds crictl (sigs.k8s.io/cri-tools) into the tool cache,
# $VECRO_CACHE/crictl/$VERSION/crictl. The offline node (test/kubenode) uses
# it to stop and remove every pod sandbox through the CRI on the way down, so
# that containerd and the CNI plugins undo their own mounts, veths and IPAM
# leases. Idempotent: a present binary is kept. Used by mk/kubenode.mk.
set -euo pipefail

VERSION=$("$(dirname "$0")/../version.sh" crictl)
here=$(cd "$(dirname "$0")" && pwd)
export GOWORK=off CGO_ENABLED=0
. "$here/../toolcache.sh"
toolcache_begin crictl "$VERSION"

echo "crictl: building $VERSION into $out"
cd "$here"
go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$VERSION" \
  -o "$out.tmp" sigs.k8s.io/cri-tools/cmd/crictl
toolcache_install crictl --version
