# Prometheus v3.16.0 for the Kubernetes runtime's standalone monitoring
# (a cluster with no internet: no kube-prometheus). Built from the Go module
# proxy into the tool cache by tools/prometheus/build.sh (about 2 min cold;
# it skips when the binary is present). `make prometheus` builds it alone.
.PHONY: prometheus
prometheus: $(PROMETHEUS_BIN)

$(PROMETHEUS_BIN): $(call tool_inputs,prometheus)
	tools/prometheus/build.sh
