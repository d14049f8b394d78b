package traces

import (
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestDecodeTraces reads API v3 answers as Jaeger writes them: OTLP/JSON,
// whose ids are hex (protobuf's JSON mapping wants base64), enums as
// numbers, times as strings; an error envelope is the error.
func TestDecodeTraces(t *testing.T) {
	answer := `{"result":{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"front"}}]},
	"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","parentSpanId":"",
	"name":"GET /","kind":2,"startTimeUnixNano":"1796122810000000000","endTimeUnixNano":"1796122810001500000","status":{"code":1}}]}]}]}}`
	var td tracepb.TracesData
	if err := decodeTraces([]byte(answer), &td); err != nil {
		t.Fatal(err)
	}
	rs := td.GetResourceSpans()[0]
	service, _ := resourceNames(rs, func(s string) string { return s })
	s := flatten(rs.GetScopeSpans()[0].GetSpans()[0], service, "", func(s string) string { return s })
	if s.TraceID.String() != "0af7651916cd43dd8448eb211c80319c" || s.SpanID.String() != "b7ad6b7169203331" || s.ParentSpanID.IsValid() ||
		s.Service != "front" || s.Kind != "server" || s.StatusCode != "ok" || s.Duration().Microseconds() != 1500 {
		t.Errorf("span %+v", s)
	}

	err := decodeTraces([]byte(`{"error":{"httpCode":500,"message":"search depth must be greater than 0"}}`), &td)
	if err == nil || !strings.Contains(err.Error(), "search depth") {
		t.Errorf("error answer: %v", err)
	}
	if err := decodeTraces([]byte(`{"result":{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}}`), &td); err == nil {
		t.Error("an id that is not hex decoded")
	}
	if err := decodeTraces([]byte(`<html>`), &td); err == nil {
		t.Error("a page that is not JSON decoded")
	}
}
