#!/usr/bin/env bash
# Builds the slim CoreDNS of this module (main.go, zplugins.go) into the
# tool cache, $VECRO_CACHE/coredns/$VERSION/coredns, statically (it goes
# into an image). Idempotent: a present binary is kept. Used by mk/kubenode.mk.
set -euo pipefail

VERSION=$("$(dirname "$0")/../version.sh" coredns)
here=$(cd "$(dirname "$0")" && pwd)
export GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=amd64
. "$here/../toolcache.sh"
toolcache_begin coredns "$VERSION"

echo "coredns: building $VERSION ($(grep -v '^#' "$here/plugins.txt" | xargs)) into $out"
cd "$here"
go build -trimpath -ldflags "-s -w" -o "$out.tmp" .
toolcache_install coredns -version
