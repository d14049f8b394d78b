# Sourced by tools/*/build.sh. The tool cache's layout is
# $VECRO_CACHE/<name>/<version>/<name>, where framework/toolcache.Find looks.
# Beside each binary, .inputs holds the hash of what it was built from (its
# tool module's go.mod, go.sum, sources and build script, and these shared
# scripts): a binary is kept only while that hash still matches, so a
# changed pin, plugin list or build flag rebuilds it even when the version
# did not change. A lock keeps two `make` runs from building the same tool
# at once.

# toolcache_inputs DIR prints the hash of the build inputs in tool module
# DIR (not of its subdirectories: tools/kube/kwok is a module of its own).
toolcache_inputs() {
  local d=$1 lib
  lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  (cd "$d" && find . -maxdepth 1 -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.sh' -o -name '*.txt' \) ! -name '*_test.go' -print0 |
    sort -z | xargs -0 sha256sum; sha256sum "$lib/toolcache.sh" "$lib/version.sh" | awk '{print $1}') |
    sha256sum | cut -c1-32
}

# toolcache_fresh BINARY INPUTS succeeds when BINARY is there and was built
# from INPUTS. A fresh one is touched so that make, which compares it with
# the inputs' modification times (all new in a fresh clone), sees it as up
# to date and does not run the build script again.
toolcache_fresh() {
  [ -x "$1" ] && [ "$(cat "$(dirname "$1")/.inputs" 2>/dev/null)" = "$2" ] && touch "$1"
}

# toolcache_begin NAME VERSION sets dir, out and inputs, and exits the build
# script (status 0) when the binary is already there and fresh.
toolcache_begin() {
  local cache=${VECRO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vecro}
  dir=$cache/$1/$2
  out=$dir/$1
  inputs=$(toolcache_inputs "$(cd "$(dirname "$0")" && pwd)")
  toolcache_fresh "$out" "$inputs" && exit 0
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  # Another build may have finished while this one waited for the lock.
  toolcache_fresh "$out" "$inputs" && exit 0
  [ -x "$out" ] && echo "$1: $out was built from other inputs; rebuilding"
  toolcache_started=$SECONDS
}

# toolcache_install NAME ARG... runs the freshly built $out.tmp with ARG
# (a version flag: it must start), moves it into place and records its
# inputs.
toolcache_install() {
  local name=$1
  shift
  "$out.tmp" "$@" >/dev/null
  mv -f "$out.tmp" "$out"
  echo "$inputs" >"$dir/.inputs"
  echo "$name: built $out in $((SECONDS - toolcache_started)) s"
}
