package traces

import (
	"runtime"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestSpanFootprint measures what a stored span costs, the figure behind
// DefaultMaxSpans.
func TestSpanFootprint(t *testing.T) {
	const n = 100_000
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	rs := &tracepb.ResourceSpans{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "compose-post"), str("service.instance.id", "compose-post-0")}},
		ScopeSpans: []*tracepb.ScopeSpans{{}},
	}
	now := uint64(time.Now().UnixNano())
	for i := range n {
		rs.ScopeSpans[0].Spans = append(rs.ScopeSpans[0].Spans, &tracepb.Span{
			TraceId: make([]byte, 16), SpanId: []byte{byte(i), 1, 2, 3, 4, 5, 6, 7}, ParentSpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8},
			Name: "GET posts-storage", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: now, EndTimeUnixNano: now + 1e6,
			Attributes: []*commonpb.KeyValue{str(string(AttrPeerService), "posts-storage")},
			Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
		})
	}
	r := NewReceiver(ReceiverOptions{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r.add([]*tracepb.ResourceSpans{rs})
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	runtime.KeepAlive(r)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per stored span (%d spans)", per, n)
	if per > 400 {
		t.Errorf("%.0f bytes per stored span, more than the 300 B DefaultMaxSpans assumes (with slack)", per)
	}
}
