#!/usr/bin/env bash
# Installs the Debian packages the tests need, where apt and root are
# available; otherwise prints the exact command and goes on, so that tests
# needing a missing program skip with a message (and fail when CI=true).
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # Package scripts try to start services; the tests start their own.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "apt: missing ${missing[*]}; install them with:"
  echo "  sudo apt-get install -y ${missing[*]}"
  if [ "${CI:-}" = true ]; then exit 1; fi
fi
