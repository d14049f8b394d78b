#!/usr/bin/env bash
# Builds Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger: an
# OpenTelemetry collector with Jaeger's storage and query extensions) into
# the tool cache, $VECRO_CACHE/jaeger/$VERSION/jaeger, where
# framework/toolcache.Find("jaeger", VERSION) looks for it. The embedded
# runtime runs it beside a system with --tracing jaeger (package
# framework/runtime/local/jaeger). Idempotent: a present binary is kept.
#
# VERSION is the Go module's (v1.75.0), which is Jaeger v2.12.0's release.
# The query service's UI assets are not in the module zip (Jaeger's release
# builds them with npm from a git submodule): this binary serves the API
# (/api/v3/…) and the UI's placeholder page only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VERSION=$("$here/../version.sh" jaeger)
export GOWORK=off CGO_ENABLED=0
. "$here/../toolcache.sh"
toolcache_begin jaeger "$VERSION"

echo "jaeger: building $VERSION into $out (about 4 min cold)"
cd "$here"
# Jaeger's release sets its version through these (Makefile's BUILD_INFO);
# the module's v1.75.0 is the v2.12.0 release (CHANGELOG: v1.74.0 / v2.11.0).
v=github.com/jaegertracing/jaeger/internal/version
go build -trimpath -ldflags "-s -w -X $v.latestVersion=v2.12.0 -X $v.commitSHA=$VERSION" \
  -o "$out.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
toolcache_install jaeger version
