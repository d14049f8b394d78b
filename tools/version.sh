#!/usr/bin/env bash
# Prints the version of a tool the tool cache holds, read from the one place
# that pins it: the require line of its module in tools/<dir>/go.mod. The
# Makefile, the build scripts and (through a test, framework/toolcache/toolcache_test.go)
# the Go constants all take it from here, so a version bump is one `go get`.
#
#   tools/version.sh NAME    NAME: coredns crictl ferretdb jaeger kube kwok prometheus
#                            (kube-apiserver, kubelet, … are "kube")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case ${1:-} in
  coredns) mod=tools/coredns/go.mod path=github.com/coredns/coredns ;;
  crictl) mod=tools/crictl/go.mod path=sigs.k8s.io/cri-tools ;;
  ferretdb) mod=tools/ferretdb/go.mod path=github.com/FerretDB/FerretDB ;;
  jaeger) mod=tools/jaeger/go.mod path=github.com/jaegertracing/jaeger ;;
  kube | kube-* | kubelet | kubectl) mod=tools/kube/go.mod path=k8s.io/kubernetes ;;
  kwok) mod=tools/kube/kwok/go.mod path=sigs.k8s.io/kwok ;;
  prometheus) mod=tools/prometheus/go.mod path=github.com/prometheus/prometheus ;;
  *) echo "usage: $0 coredns|crictl|ferretdb|jaeger|kube|kwok|prometheus" >&2; exit 2 ;;
esac
v=$(awk -v p="$path" '($1 == "require" && $2 == p) { print $3; exit } ($1 == p) { print $2; exit }' "$here/../$mod")
[ -n "$v" ] || { echo "$0: $mod does not require $path" >&2; exit 1; }
# Prometheus' Go module numbers release 3.MM.P as v0.3MM.P.
if [ "$1" = prometheus ]; then
  [[ $v =~ ^v0\.3([0-9][0-9])\.([0-9]+)$ ]] || { echo "$0: unexpected Prometheus module version $v" >&2; exit 1; }
  v="v3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
fi
echo "$v"
