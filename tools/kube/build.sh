#!/usr/bin/env bash
# Builds Kubernetes components and kwok from the Go module proxy into the tool
# cache, $VECRO_CACHE/<name>/<version>/<name>, where
# framework/toolcache.Find(name, version) looks for them. Idempotent: names
# whose binary is present are skipped; the rest are built by one `go build`
# so that they share the compile of the packages they have in common.
# Used by `make tools` (mk/kube.mk).
#
#   build.sh kube-apiserver kube-controller-manager kube-scheduler   # ./go.mod
#   build.sh kwok                                                   # ./kwok/go.mod
#
# Beside kwok it copies, from the kwok module, what the envtest suite feeds
# it: the stock "fast" node and pod stages (kwok has no built-in stages) as
# stages.yaml, and the PortForward CRD, in crds/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=$("$here/../version.sh" kube)
KWOK_VERSION=$("$here/../version.sh" kwok)
cache=${VECRO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vecro}
. "$here/../toolcache.sh"
kube_inputs=$(toolcache_inputs "$here")
kwok_inputs=$(toolcache_inputs "$here/kwok")
# A go.work above the tool module would pull it into the main module's build.
export GOWORK=off CGO_ENABLED=0

[ $# -gt 0 ] || { echo "usage: $0 NAME..." >&2; exit 2; }

kube=() kwok=0
for n in "$@"; do
  case $n in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl)
      toolcache_fresh "$cache/$n/$KUBE_VERSION/$n" "$kube_inputs" || kube+=("$n") ;;
    kwok)
      # stages.yaml is a make target too: touched with the binary.
      toolcache_fresh "$cache/kwok/$KWOK_VERSION/kwok" "$kwok_inputs" && [ -s "$cache/kwok/$KWOK_VERSION/stages.yaml" ] &&
        touch "$cache/kwok/$KWOK_VERSION/stages.yaml" || kwok=1 ;;
    *) echo "kube tools: unknown tool $n" >&2; exit 2 ;;
  esac
done

# Two `make` runs at once must not both build (or race on the renames).
mkdir -p "$cache"
exec 9>"$cache/.kube-tools.lock"
flock 9

# build MODULE_DIR VERSION INPUTS LDFLAGS PKG_PREFIX NAME... builds into a
# temp dir, checks that each binary runs, then renames each into place and
# records the inputs it was built from.
build() {
  local dir=$1 version=$2 inputs=$3 ldflags=$4 prefix=$5; shift 5
  local todo=() n
  for n in "$@"; do toolcache_fresh "$cache/$n/$version/$n" "$inputs" || todo+=("$n"); done
  [ ${#todo[@]} -gt 0 ] || return 0
  local tmp pkgs=() start=$SECONDS
  tmp=$(mktemp -d "$cache/.kube-build.XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  for n in "${todo[@]}"; do pkgs+=("$prefix/$n"); done
  echo "kube tools: building ${todo[*]} $version (kube-apiserver alone is about 5 min cold on 2 cores)"
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "${pkgs[@]}")
  for n in "${todo[@]}"; do
    # kubectl has no --version, and a bare `kubectl version` dials a server.
    "$tmp/$n" --version >/dev/null 2>&1 || "$tmp/$n" version --client >/dev/null 2>&1 ||
      { echo "kube tools: $tmp/$n does not run" >&2; "$tmp/$n" --version >&2 || true; return 1; }
    mkdir -p "$cache/$n/$version"
    mv -f "$tmp/$n" "$cache/$n/$version/$n"
    echo "$inputs" >"$cache/$n/$version/.inputs"
    echo "kube tools: built $cache/$n/$version/$n"
  done
  echo "kube tools: ${todo[*]} took $((SECONDS - start)) s"
}

if [ ${#kube[@]} -gt 0 ]; then
  v=k8s.io/component-base/version
  build "$here" "$KUBE_VERSION" "$kube_inputs" \
    "-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$(cut -d. -f2 <<<"$KUBE_VERSION") -X $v.gitTreeState=clean" \
    k8s.io/kubernetes/cmd "${kube[@]}"
fi
# kwok_assets copies kwok's stage and CRD manifests out of its module.
kwok_assets() {
  local dst=$cache/kwok/$KWOK_VERSION src
  [ -s "$dst/stages.yaml" ] && [ -s "$dst/crds/kwok.x-k8s.io_portforwards.yaml" ] && return 0
  src=$(cd "$here/kwok" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "kube tools: kwok module source not found ($src)" >&2; return 1; }
  mkdir -p "$dst/crds"
  cp "$src/kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml" "$dst/crds/"
  local tmp f
  tmp=$(mktemp "$dst/.stages.XXXXXX")
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$src/kustomize/stage/$f"
  done >"$tmp"
  mv -f "$tmp" "$dst/stages.yaml"
  echo "kube tools: kwok stages and CRDs in $dst"
}

if [ $kwok = 1 ]; then
  build "$here/kwok" "$KWOK_VERSION" "$kwok_inputs" "" sigs.k8s.io/kwok/cmd kwok
  kwok_assets
fi
