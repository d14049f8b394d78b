package traces

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// HeaderCarrier is propagation.HeaderCarrier without its per-request
// allocation: http.Header's Get and Set canonicalise the W3C context's
// lower-case keys (traceparent, tracestate) into a new string on every
// call, and a service extracts and injects them on every request.
type HeaderCarrier http.Header

// canonical holds the keys Propagator uses, as http.Header stores them.
var canonical = map[string]string{
	"traceparent": http.CanonicalHeaderKey("traceparent"),
	"tracestate":  http.CanonicalHeaderKey("tracestate"),
}

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (h HeaderCarrier) Get(key string) string {
	if k, ok := canonical[key]; ok {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return http.Header(h).Get(key)
}

// Set replaces the values of key with value.
func (h HeaderCarrier) Set(key, value string) {
	if k, ok := canonical[key]; ok {
		h[k] = []string{value}
		return
	}
	http.Header(h).Set(key, value)
}

// Keys lists the keys of the header.
func (h HeaderCarrier) Keys() []string {
	return propagation.HeaderCarrier(h).Keys()
}
