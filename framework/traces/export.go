package traces

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Attribute keys of the spans vecro makes, beside the resource's
// service.name and service.instance.id. The receiver reads the same keys.
const (
	// AttrSystem names the system (a resource attribute).
	AttrSystem = attribute.Key("vecro.system")
	// AttrPeerService is the callee's service name on a client span.
	AttrPeerService = attribute.Key("peer.service")
	// AttrHTTPStatus is the response's status code (server and client spans).
	AttrHTTPStatus = attribute.Key("http.response.status_code")
	// AttrHTTPMethod is the request's method.
	AttrHTTPMethod = attribute.Key("http.request.method")
	// AttrURLPath is a server span's request path.
	AttrURLPath = attribute.Key("url.path")
	// AttrDBSystem is a storage span's database: redis, mysql or mongodb.
	AttrDBSystem = attribute.Key("db.system")
	// AttrError is the cause of a failed span, beside its error status.
	AttrError = attribute.Key("error.message")
	// AttrFaults names the faults that were on at the target when a server
	// span started (the fault agent's view).
	AttrFaults = attribute.Key("vecro.faults")
)

// Span events the fault agent adds to a target's server span when a fault
// switches on or off while the span is open.
const (
	EventFaultStart = "fault.start"
	EventFaultEnd   = "fault.end"
	// EventAttrFault names the fault on those events.
	EventAttrFault = attribute.Key("vecro.fault")
)

// Propagator is the W3C trace context (traceparent, tracestate): what the
// load generator sends and every service forwards on its downstream calls.
var Propagator = propagation.TraceContext{}

// LoadService is the service name of the load generator's spans: the roots
// of every trace.
const LoadService = "load"

// Defaults of ExportOptions.
const (
	// DefaultBatchTimeout is how long a span waits in the batch before it
	// is sent: short, so that the harness has the last spans of a run soon
	// after its load ends.
	DefaultBatchTimeout = time.Second
	// DefaultQueueSize holds several seconds of spans of a busy instance;
	// beyond it the SDK drops spans rather than block requests.
	DefaultQueueSize = 16384
)

// ExportOptions say where spans go and whose they are.
type ExportOptions struct {
	// Endpoint is the OTLP/HTTP base URL (http://host:4318); spans go to
	// its /v1/traces.
	Endpoint string
	// SampleRatio is the share of new traces kept (0 < r ≤ 1); a span with
	// a parent follows its parent's decision, so a trace is whole or
	// absent. 0 means 1.
	SampleRatio float64
	// System, Service and Instance become the resource's vecro.system,
	// service.name and service.instance.id.
	System, Service, Instance string
	// BatchTimeout and QueueSize tune the batch span processor; 0 means
	// DefaultBatchTimeout and DefaultQueueSize.
	BatchTimeout time.Duration
	QueueSize    int
}

// NewProvider returns a tracer provider that batches spans and exports them
// over OTLP/HTTP protobuf to o.Endpoint. Shut it down to flush the last
// batch.
func NewProvider(o ExportOptions) (*sdktrace.TracerProvider, error) {
	endpoint, err := TracesURL(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, fmt.Errorf("trace sample ratio %g: want 0 < r ≤ 1", o.SampleRatio)
	}
	if o.SampleRatio == 0 {
		o.SampleRatio = 1
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = DefaultBatchTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	// New only builds the client: it dials nothing, so an endpoint that is
	// down costs dropped batches, never a failed start.
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithTimeout(5*time.Second),
		// A retry would hold the batch while newer spans pile up behind it.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(o.Service)}
	if o.Instance != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(o.Instance))
	}
	if o.System != "" {
		attrs = append(attrs, AttrSystem.String(o.System))
	}
	// Not merged with resource.Default(): its SDK and process attributes
	// would travel with every batch and say nothing the dataset needs.
	res := resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	return sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
		sdktrace.WithBatcher(exp,
			sdktrace.WithBatchTimeout(o.BatchTimeout),
			sdktrace.WithMaxQueueSize(o.QueueSize)),
	), nil
}

// TracesURL returns the OTLP/HTTP traces URL of a base endpoint: its
// /v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT means it.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("OTLP endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q: want an http:// or https:// URL with a host", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + TracesPath
	return u.String(), nil
}

// TracesPath is the OTLP/HTTP traces path under an endpoint.
const TracesPath = "/v1/traces"
