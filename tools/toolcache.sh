# Sourced by tools/*/build.sh. The tool cache's layout is
# $VECRO_CACHE/<name>/<version>/<name>, where framework/toolcache.Find looks;
# a present binary is kept, and a lock keeps two `make` runs from building
# the same tool at once.

# toolcache_begin NAME VERSION sets dir and out, and exits the build script
# (status 0) when the binary is already there.
toolcache_begin() {
  local cache=${VECRO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vecro}
  dir=$cache/$1/$2
  out=$dir/$1
  [ -x "$out" ] && exit 0
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  # Another build may have finished while this one waited for the lock.
  [ -x "$out" ] && exit 0
  toolcache_started=$SECONDS
}

# toolcache_install NAME ARG... runs the freshly built $out.tmp with ARG
# (a version flag: it must start) and moves it into place.
toolcache_install() {
  local name=$1
  shift
  "$out.tmp" "$@" >/dev/null
  mv -f "$out.tmp" "$out"
  echo "$name: built $out in $((SECONDS - toolcache_started)) s"
}
