# Versions and cache paths of every tool `make` builds from the Go module
# proxy. The Makefile includes this file before any other mk/*.mk, so every
# rule below reads them defined (a prerequisite list is expanded when make
# reads the rule: a variable defined later is empty there, and a tool was
# once silently never built that way).
#
# Each version comes from the one place that pins it, the tool module's
# go.mod (tools/version.sh); each binary depends on its tool module's files,
# so a changed pin or build script reruns the build script, which rebuilds
# only when the recorded hash of those inputs changed (tools/toolcache.sh).
tool_version = $(shell tools/version.sh $(1))
# tool_inputs DIR: the files a tool's build reads (its module, not below).
tool_inputs = $(wildcard tools/$(1)/go.mod tools/$(1)/go.sum tools/$(1)/*.go tools/$(1)/*.sh tools/$(1)/*.txt) tools/toolcache.sh tools/version.sh

FERRETDB_VERSION := $(call tool_version,ferretdb)
FERRETDB_BIN := $(VECRO_CACHE)/ferretdb/$(FERRETDB_VERSION)/ferretdb

JAEGER_VERSION := $(call tool_version,jaeger)
JAEGER_BIN := $(VECRO_CACHE)/jaeger/$(JAEGER_VERSION)/jaeger

PROMETHEUS_VERSION := $(call tool_version,prometheus)
PROMETHEUS_BIN := $(VECRO_CACHE)/prometheus/$(PROMETHEUS_VERSION)/prometheus

KUBE_VERSION := $(call tool_version,kube)
KWOK_VERSION := $(call tool_version,kwok)
KUBE_CONTROL_PLANE := kube-apiserver kube-controller-manager kube-scheduler
# The rest of a node (the offline single-node cluster builds them too);
# kubectl is for people at the node, nothing here runs it.
KUBE_NODE_BINARIES := kubelet kube-proxy
KUBE_CONTROL_PLANE_BINS := $(foreach n,$(KUBE_CONTROL_PLANE),$(VECRO_CACHE)/$(n)/$(KUBE_VERSION)/$(n))
KUBE_NODE_BINS := $(foreach n,$(KUBE_NODE_BINARIES),$(VECRO_CACHE)/$(n)/$(KUBE_VERSION)/$(n))
KUBECTL_BIN := $(VECRO_CACHE)/kubectl/$(KUBE_VERSION)/kubectl
KWOK_BIN := $(VECRO_CACHE)/kwok/$(KWOK_VERSION)/kwok
# kwok's stock stages, copied beside it (kwok has none built in).
KWOK_STAGES := $(VECRO_CACHE)/kwok/$(KWOK_VERSION)/stages.yaml

COREDNS_VERSION := $(call tool_version,coredns)
CRICTL_VERSION := $(call tool_version,crictl)
COREDNS_BIN := $(VECRO_CACHE)/coredns/$(COREDNS_VERSION)/coredns
CRICTL_BIN := $(VECRO_CACHE)/crictl/$(CRICTL_VERSION)/crictl
