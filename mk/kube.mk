# Kubernetes runtime (framework/runtime/kube).
#
# `make tools` builds, from the Go module proxy into $(VECRO_CACHE), the
# control plane that the envtest suite runs against: kube-apiserver,
# kube-controller-manager (deployments, garbage collection, namespace
# deletion) and kube-scheduler (tools/kube/go.mod: k8s.io/kubernetes with its
# staging modules replaced by their releases), and kwok, which makes fake
# nodes and their pods Ready (tools/kube/kwok/go.mod). etcd is Debian's.
# tools/kube/build.sh skips what is present.
#
# `make kind-up|kind-down` manage a kind cluster from kind-config.yaml and
# `make test-kind` runs the runtime:kind suite on it: they need a Docker
# daemon and the internet, so `make test` leaves them out.
KIND_CLUSTER ?= vecro
KIND := $(GO) run sigs.k8s.io/kind

TOOLS += $(KUBE_CONTROL_PLANE_BINS) $(KWOK_BIN) $(KWOK_STAGES)

.PHONY: kube-tools kube-node-tools kind-up kind-down test-kind

kube-tools: $(KUBE_CONTROL_PLANE_BINS) $(KWOK_BIN) $(KWOK_STAGES)
kube-node-tools: $(KUBE_CONTROL_PLANE_BINS) $(KUBE_NODE_BINS) $(KUBECTL_BIN)

# One rule builds every missing component in one `go build` (they share most
# packages); make runs it once for all of them as a grouped target.
$(KUBE_CONTROL_PLANE_BINS) &: $(call tool_inputs,kube)
	tools/kube/build.sh $(KUBE_CONTROL_PLANE)

# Order-only: the kube builds share one lock (tools/kube/build.sh), so under
# make -j2 a second kube build started beside the control plane's would only
# wait on it and keep the other job slot from the other tools; after it, it
# also finds most packages compiled.
$(KUBE_NODE_BINS) &: $(call tool_inputs,kube) | $(KUBE_CONTROL_PLANE_BINS)
	tools/kube/build.sh $(KUBE_NODE_BINARIES)

$(KUBECTL_BIN): $(call tool_inputs,kube) | $(KUBE_CONTROL_PLANE_BINS)
	tools/kube/build.sh kubectl

$(KWOK_BIN) $(KWOK_STAGES) &: $(call tool_inputs,kube/kwok) | $(KUBE_CONTROL_PLANE_BINS)
	tools/kube/build.sh kwok

kind-up:
	@if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "kind cluster $(KIND_CLUSTER) is up"; \
	else \
	  $(KIND) create cluster --name '$(KIND_CLUSTER)' --config kind-config.yaml --wait 3m; \
	fi

kind-down:
	$(KIND) delete cluster --name '$(KIND_CLUSTER)'

# The kind suite (the cluster's own specs: port-forwards, the
# ServiceMonitor), then the scenario suite's ingress-delay scenario on the
# same runtime (VECRO_RUNTIME=kind: the same specs as on the embedded
# runtime). Each provisions (or reuses) the cluster and deletes only what
# it created unless VECRO_KEEP_CLUSTER=1.
test-kind:
	VECRO_RUNTIME=kind VECRO_KIND_CLUSTER='$(KIND_CLUSTER)' $(GO) test -count=1 -timeout 60m ./scenarios/kind/... \
	  -args -ginkgo.label-filter='runtime:kind' -ginkgo.v
	VECRO_RUNTIME=kind VECRO_KIND_CLUSTER='$(KIND_CLUSTER)' $(GO) test -count=1 -timeout 60m ./scenarios/ \
	  -args -ginkgo.label-filter='fault:net-delay && !link:db && !fault:multi' -ginkgo.v
