# VECROsim-Go. `make demo` runs a real experiment on this machine; `make test`
# runs every test. Both do their own set-up through `make deps`.
SHELL := /bin/bash
GO ?= go
export VECRO_CACHE ?= $(HOME)/.cache/vecro
# Datasets of every suite and the scenario suite's JUnit report land here
# (CI keeps it as an artifact).
export ARTIFACTS_DIR ?= $(CURDIR)/artifacts

# Debian packages the tests and the embedded runtime use. mk/*.mk add theirs.
APT_PACKAGES := prometheus redis-server mariadb-server etcd-server wrk
# Third-party binaries built from the Go module proxy into $(VECRO_CACHE);
# mk/*.mk append their targets.
TOOLS :=
# Ginkgo labels `make test` leaves out: suites that cannot run on a machine
# without Docker and the internet (they run with `make test-kind`), and the
# corpus scenario, 18 experiments in about 25 minutes (`make test-corpus`).
LABEL_FILTER ?= !runtime:kind && !corpus

# staticcheck, built from the Go module proxy like every other tool.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(VECRO_CACHE)/staticcheck/$(STATICCHECK_VERSION)/staticcheck
TOOLS += $(STATICCHECK)

include mk/tools.mk
include $(filter-out mk/tools.mk,$(wildcard mk/*.mk))

.PHONY: test deps apt tools vet unit scenarios test-long test-corpus kube-node-e2e demo build

test: deps vet unit scenarios kube-node-e2e

# gofmt, go vet, staticcheck, and go.mod files that `go mod tidy` leaves
# as they are (the main module's and every tool module's).
vet: $(STATICCHECK)
	@for m in . $$(dirname $$(git ls-files 'tools/*go.mod' 'tools/**/go.mod')); do \
	  d=$$(cd $$m && GOWORK=off GOFLAGS=-mod=mod $(GO) mod tidy -diff 2>&1) || { echo "go mod tidy -diff failed in $$m (a diff is what tidy would change):"; echo "$$d" | grep -v '^go: downloading' | head -40; exit 1; }; \
	done
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(dir $@) GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The race detector is on for framework/; the service binary runs without
# it, and so do the timing measurements that it would distort (the files
# built with !race: the open-loop rate test). The Kubernetes control
# plane's tests run on their own: kwok's node heartbeats against the
# controllers' grace periods are timing too, and beside the other
# packages' real experiments its nodes flapped not-Ready for minutes and
# a pod never became Ready (twice in a row; never when run alone).
unit:
	$(GO) test -race -count=1 -timeout 25m $$($(GO) list ./framework/... | grep -v -e /framework/runtime/kube)
	$(GO) test -race -count=1 -timeout 25m ./framework/runtime/kube/...
	$(GO) test -count=1 -run 'OpenLoopRate' ./framework/load
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e /framework/ -e /scenarios -e /test/kubenode)

# The local scenario suite (scenarios/kind needs Docker: make test-kind).
# Its JUnit report goes to $(ARTIFACTS_DIR)/junit/.
SCENARIO_ARGS = -ginkgo.label-filter='$(LABEL_FILTER)' -ginkgo.v -ginkgo.fail-on-pending -ginkgo.junit-report='$(ARTIFACTS_DIR)/junit/scenarios.xml'
scenarios:
	@mkdir -p '$(ARTIFACTS_DIR)/junit'
	$(GO) test -count=1 -timeout 30m ./scenarios/ -args $(SCENARIO_ARGS)

# The scenarios at dataset length (VECRO_LONG=1: tens of minutes each),
# with no go test deadline.
test-long: deps
	@mkdir -p '$(ARTIFACTS_DIR)/junit'
	VECRO_LONG=1 $(GO) test -count=1 -timeout 0 ./scenarios/ -args $(SCENARIO_ARGS)

# The corpus scenario alone: a campaign of 18 cases on the social system,
# scored by the built-in baselines (about 25 minutes).
test-corpus: deps
	@mkdir -p '$(ARTIFACTS_DIR)/junit'
	$(GO) test -count=1 -timeout 75m ./scenarios/ -args -ginkgo.label-filter='corpus' -ginkgo.v -ginkgo.junit-report='$(ARTIFACTS_DIR)/junit/corpus.xml'

# The offline single-node Kubernetes (mk/kubenode.mk) rewires host-wide
# networking, so it runs on its own, after everything else, and only where
# that is wanted: in CI, or with VECRO_KUBE_NODE=1 (as root).
# Under `make test` the scenario suite has just run the delay scenario on the
# embedded runtime: the node e2e compares its Kubernetes run with that
# dataset instead of running the same experiment again.
kube-node-e2e: export VECRO_EMBEDDED_DATASETS = $(if $(filter test,$(or $(MAKECMDGOALS),test)),$(ARTIFACTS_DIR)/junit/datasets.txt)
kube-node-e2e:
	@if [ "$$CI" = true ] || [ "$$VECRO_KUBE_NODE" = 1 ]; then $(MAKE) --no-print-directory test-kube-node; \
	 else echo "Kubernetes node tests not run: VECRO_KUBE_NODE=1 make test runs them (root; rewires host networking)"; fi

# Two tools build at a time: a go build runs on one core while it
# downloads modules, links, or works through a chain of packages that wait
# on each other, and a second build fills the other core (each tool's build
# script takes a lock where two targets share a module).
deps: apt
	@$(MAKE) --no-print-directory -j2 tools

apt:
	@scripts/apt-deps.sh $(APT_PACKAGES)

# The Kubernetes control plane first: it is the longest build (12 min cold
# on 2 cores), and the others fill the second job slot beside it.
tools: $(KUBE_CONTROL_PLANE_BINS) $(TOOLS)

# A real ~1.5-minute experiment on the embedded runtime: the social system
# (25 services, five on FerretDB), 400ms ± 150ms on posts-storage-db's
# ingress, a dataset under artifacts/ and a table of how p95 moved.
demo: $(FERRETDB_BIN)
	$(GO) run ./cmd/vecro run fixtures/experiments/social-delay.yaml

build:
	$(GO) build -o bin/vecro ./cmd/vecro

# Performance checks, each against a baseline measured in the same run (see
# README.md, Performance). They want a quiet machine with 2 or more cores.
.PHONY: bench bench-load bench-metrics bench-service
bench: bench-load bench-metrics bench-service

bench-load: build
	$(GO) run ./cmd/vecro-bench-load --vecro bin/vecro
	$(GO) test -run '^$$' -bench OpenLoopRate -benchtime 1x ./framework/load

bench-metrics:
	$(GO) test -run '^$$' -bench ScrapeCPU -benchtime 1x ./framework/metrics/

bench-service:
	$(GO) test -run '^$$' -bench IngressVsBare -benchtime 1x ./images/service
	$(GO) test -run '^$$' -bench NetDelayPrecision -benchtime 1x ./images/service/internal/faultagent/
