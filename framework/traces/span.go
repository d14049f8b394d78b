package traces

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Span is one received span, flattened to what a dataset row needs.
type Span struct {
	TraceID      trace.TraceID
	SpanID       trace.SpanID
	ParentSpanID trace.SpanID // zero for a trace's root
	// Service and Instance are the resource's service.name and
	// service.instance.id.
	Service, Instance string
	// Kind is server, client, internal, producer or consumer.
	Kind string
	Name string
	// PeerService is a client span's callee (peer.service); DBSystem a
	// storage span's database (db.system).
	PeerService, DBSystem string
	Start, End            time.Time
	// StatusCode is unset, ok or error; StatusMessage says why for error.
	StatusCode, StatusMessage string
	// HTTPStatus is http.response.status_code; 0 when absent.
	HTTPStatus int
	// Faults are the faults the target's agent had on when the span began
	// (vecro.faults); FaultEvents the fault.start and fault.end events, as
	// "fault.start:<name>".
	Faults, FaultEvents []string
}

// Duration is how long the span was open.
func (s *Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// Stats describe a collection: what arrived and what was lost on the way.
type Stats struct {
	// Received counts the spans that arrived; Stored those kept.
	Received, Stored int64
	// Dropped counts spans refused because the store was full (its cap,
	// MaxSpans), and spans lost in undecodable requests when known.
	Dropped int64
	// MaxSpans is the store's cap; 0 when the source has none.
	MaxSpans int
}

// Source reads a runtime's spans back. The local runtime's is its Receiver;
// a Kubernetes one may read a tracing backend's API.
type Source interface {
	// Spans returns the spans that started in [from, to), ordered by start
	// time, and the collection's statistics.
	Spans(ctx context.Context, from, to time.Time) ([]Span, Stats, error)
}
