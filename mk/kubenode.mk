# The offline single-node Kubernetes (test/kubenode): the end-to-end test bed
# of the Kubernetes runtime on a machine without Docker or internet.
#
#   make kube-node-up     build what is missing, bring the node up (root),
#                         print its info (kubeconfig, image refs, CIDRs)
#   make kube-node-down   stop it; remove its processes, mounts, bridge,
#                         nftables tables, iptables chains and cgroups
#   make test-kube-node   the node's own test: up, a 2-pod Deployment behind
#                         a ClusterIP Service through kube-proxy and DNS,
#                         down, nothing left
#
# It rewires the host's networking, so `make test` leaves it to CI (CI=true)
# or to whoever sets VECRO_KUBE_NODE=1. State: $(KUBE_NODE_DIR).
KUBE_NODE_DIR ?= $(VECRO_CACHE)/kubenode-run
KUBENODE := $(GO) run ./test/kubenode/cmd/kubenode --run-dir '$(KUBE_NODE_DIR)'

APT_PACKAGES += containerd runc containernetworking-plugins iptables nftables conntrack etcd-server

# Only a run that will bring the node up builds its tools (CoreDNS and crictl
# are about 5 and 2 minutes cold).
ifneq ($(filter true,$(CI))$(filter 1,$(VECRO_KUBE_NODE)),)
TOOLS += kube-node-tools-all
endif

.PHONY: kube-node-deps kube-node-tools-all kube-node-up kube-node-down kube-node-status test-kube-node

$(COREDNS_BIN): $(call tool_inputs,coredns)
	tools/coredns/build.sh

$(CRICTL_BIN): $(call tool_inputs,crictl)
	tools/crictl/build.sh

kube-node-tools-all: $(COREDNS_BIN) $(CRICTL_BIN) $(FERRETDB_BIN) $(PROMETHEUS_BIN) $(JAEGER_BIN) $(KUBE_CONTROL_PLANE_BINS) $(KUBE_NODE_BINS)

kube-node-deps: apt kube-node-tools-all

kube-node-up: kube-node-deps
	$(KUBENODE) up

kube-node-down:
	$(KUBENODE) down

kube-node-status:
	$(KUBENODE) status

test-kube-node: kube-node-deps
	VECRO_KUBE_NODE=1 $(GO) test -count=1 -timeout 30m -v ./test/kubenode/...
