#!/usr/bin/env bash
# Builds the slim CoreDNS of this module (main.go, zplugins.go) into the
# tool cache, $VECRO_CACHE/coredns/$VERSION/coredns, statically (it goes
# into an image). Idempotent: a present binary is kept. Used by mk/kubenode.mk.
set -euo pipefail

VERSION=v1.15.0
here=$(cd "$(dirname "$0")" && pwd)
cache=${VECRO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vecro}
dir=$cache/coredns/$VERSION
out=$dir/coredns
export GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=amd64

[ -x "$out" ] && exit 0
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
[ -x "$out" ] && exit 0

start=$SECONDS
echo "coredns: building $VERSION ($(grep -v '^#' "$here/plugins.txt" | xargs)) into $out"
cd "$here"
go build -trimpath -ldflags "-s -w" -o "$out.tmp" .
"$out.tmp" -version >/dev/null
mv -f "$out.tmp" "$out"
echo "coredns: built $out in $((SECONDS - start)) s"
