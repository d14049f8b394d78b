# Jaeger v2 (github.com/jaegertracing/jaeger v1.75.0, cmd/jaeger): the trace
# store and query service the embedded runtime runs beside a system with
# --tracing jaeger. Built from the Go module proxy into the tool cache by
# tools/jaeger/build.sh (about 4 min cold; it skips when the binary is
# present). `make jaeger` builds it alone.
TOOLS += $(JAEGER_BIN)

.PHONY: jaeger
jaeger: $(JAEGER_BIN)

$(JAEGER_BIN): $(call tool_inputs,jaeger)
	tools/jaeger/build.sh
