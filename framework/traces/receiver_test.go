package traces_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// newReceiver starts a receiver on a loopback port, closed at cleanup.
func newReceiver(t testing.TB, o traces.ReceiverOptions) *traces.Receiver {
	t.Helper()
	r, err := traces.StartReceiver("127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestSpansExportedByTheSDKReadBackFlat(t *testing.T) {
	r := newReceiver(t, traces.ReceiverOptions{})
	tp, err := traces.NewProvider(traces.ExportOptions{Endpoint: r.URL(), System: "shop", Service: "web", Instance: "web-0"})
	if err != nil {
		t.Fatal(err)
	}
	tr := tp.Tracer("test")
	before := time.Now()
	ctx, server := tr.Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
	server.SetAttributes(traces.AttrHTTPStatus.Int(502), traces.AttrFaults.StringSlice([]string{"db-delay"}))
	server.AddEvent(traces.EventFaultEnd, trace.WithAttributes(traces.EventAttrFault.String("db-delay")))
	server.SetStatus(codes.Error, "Bad Gateway")
	_, client := tr.Start(ctx, "GET cart", trace.WithSpanKind(trace.SpanKindClient))
	client.SetAttributes(traces.AttrPeerService.String("cart"), traces.AttrHTTPStatus.Int(500))
	client.End()
	server.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}

	spans, st, err := r.Spans(context.Background(), before, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 || st.Received != 2 || st.Stored != 2 || st.Dropped != 0 {
		t.Fatalf("%d spans, stats %+v; want 2 received and stored", len(spans), st)
	}
	s, c := spans[0], spans[1]
	if s.Name != "GET /" || s.Kind != "server" || s.Service != "web" || s.Instance != "web-0" || s.HTTPStatus != 502 ||
		s.StatusCode != "error" || s.ParentSpanID.IsValid() || !slices.Equal(s.Faults, []string{"db-delay"}) ||
		!slices.Equal(s.FaultEvents, []string{"fault.end:db-delay"}) {
		t.Errorf("server span read back as %+v", s)
	}
	if c.Kind != "client" || c.PeerService != "cart" || c.HTTPStatus != 500 || c.ParentSpanID != s.SpanID || c.TraceID != s.TraceID {
		t.Errorf("client span read back as %+v", c)
	}
	if s.Duration() <= 0 || s.Start.Before(before) {
		t.Errorf("server span from %v for %v, want a positive duration after %v", s.Start, s.Duration(), before)
	}
	if later, _, _ := r.Spans(context.Background(), time.Now().Add(time.Second), time.Now().Add(time.Hour)); len(later) != 0 {
		t.Errorf("%d spans in a window after the run, want 0", len(later))
	}
}

// exportRequest is an ExportTraceServiceRequest of n spans of one service.
func exportRequest(t testing.TB, n int) []byte {
	t.Helper()
	ss := &tracepb.ScopeSpans{}
	now := uint64(time.Now().UnixNano())
	for i := range n {
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId: bytes.Repeat([]byte{1}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)},
			Name: "op", StartTimeUnixNano: now, EndTimeUnixNano: now + 1000,
		})
	}
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t testing.TB, url, contentType, encoding string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+traces.TracesPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp, out.Bytes()
}

func TestAFullStoreRefusesAndCountsSpans(t *testing.T) {
	r := newReceiver(t, traces.ReceiverOptions{MaxSpans: 3})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(exportRequest(t, 5))
	_ = zw.Close()
	resp, body := post(t, r.URL(), "application/x-protobuf", "gzip", gz.Bytes())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export answered %d: %s", resp.StatusCode, body)
	}
	var out coltracepb.ExportTraceServiceResponse
	if err := proto.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.GetPartialSuccess().GetRejectedSpans(); got != 2 {
		t.Errorf("rejected %d spans, want the 2 beyond the cap", got)
	}
	_, st, _ := r.Spans(context.Background(), time.Time{}, time.Now().Add(time.Hour))
	if st != (traces.Stats{Received: 5, Stored: 3, Dropped: 2, MaxSpans: 3}) {
		t.Errorf("stats %+v, want 5 received, 3 stored, 2 dropped", st)
	}
}

func TestUnreadableExportsAreClientErrors(t *testing.T) {
	r := newReceiver(t, traces.ReceiverOptions{MaxRequest: 1 << 10})
	for _, c := range []struct {
		name, ctype, enc string
		body             []byte
		want             int
	}{
		{"text", "text/plain", "", []byte("hi"), http.StatusUnsupportedMediaType},
		{"garbage", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, http.StatusBadRequest},
		{"bad gzip", "application/x-protobuf", "gzip", []byte("not gzip"), http.StatusBadRequest},
		{"brotli", "application/x-protobuf", "br", exportRequest(t, 1), http.StatusUnsupportedMediaType},
		{"too large", "application/x-protobuf", "", exportRequest(t, 100), http.StatusRequestEntityTooLarge},
	} {
		if resp, body := post(t, r.URL(), c.ctype, c.enc, c.body); resp.StatusCode != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.want)
		}
	}
	if _, st, _ := r.Spans(context.Background(), time.Time{}, time.Now().Add(time.Hour)); st.Received != 0 {
		t.Errorf("stats %+v after refused requests, want nothing received", st)
	}
}

func TestTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":       "http://127.0.0.1:4318/v1/traces",
		"http://collector:4318/otlp/": "http://collector:4318/otlp/v1/traces",
	} {
		if got, err := traces.TracesURL(in); err != nil || got != want {
			t.Errorf("TracesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"127.0.0.1:4318", "ftp://x", "http://"} {
		if _, err := traces.TracesURL(bad); err == nil {
			t.Errorf("TracesURL(%q) accepted", bad)
		}
	}
}
