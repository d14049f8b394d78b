package traces

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Defaults of ReceiverOptions.
const (
	// DefaultMaxSpans bounds the store: about 270 B a span (measured by
	// TestSpanFootprint), so some 270 MB at most. The social system at the
	// scenarios' 20 req/s makes ~400 spans a second (6 to 27 a request), so
	// a 20-minute run fills half of it; longer runs trace a sample
	// (experiment.Experiment.TraceSampleRatio).
	DefaultMaxSpans = 1_000_000
	// DefaultMaxRequest bounds one export request's body; the SDK's
	// batches are far smaller.
	DefaultMaxRequest = 32 << 20
)

// chunkSize is how many spans the store adds at a time.
const chunkSize = 4096

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// MaxSpans is how many spans the store keeps; the ones beyond are
	// refused (reported to the exporter as rejected) and counted. 0 means
	// DefaultMaxSpans.
	MaxSpans int
	// MaxRequest bounds a request body in bytes (after decompression); 0
	// means DefaultMaxRequest.
	MaxRequest int64
	// Logger receives refused requests; nil discards them.
	Logger *slog.Logger
	// Forward, when set, is an OTLP/HTTP base URL (a Jaeger's) that gets
	// a copy of every request the receiver took, so that a user can
	// query the spans there while the system runs. The copies go out in
	// the background, at most ForwardQueue waiting; one that finds the
	// queue full or fails is counted (ForwardStats), never retried: the
	// receiver's own store, what datasets are made of, is not affected.
	Forward string
	// ForwardQueue bounds the requests waiting to be forwarded; 0 means
	// DefaultForwardQueue.
	ForwardQueue int
}

// DefaultForwardQueue is ReceiverOptions.ForwardQueue's default: the SDK's
// batches are 512 spans, so some 130,000 spans may wait.
const DefaultForwardQueue = 256

// ForwardStats count what a receiver forwarded.
type ForwardStats struct {
	// Sent counts requests the forward endpoint accepted; Dropped those
	// that found the queue full, Failed those it refused or never got.
	Sent, Dropped, Failed int64
}

// Receiver is an OTLP/HTTP trace endpoint (POST /v1/traces, protobuf or
// JSON, optionally gzipped) that keeps the spans in memory, up to a cap,
// for Spans to read back. It is safe for concurrent use.
type Receiver struct {
	opts ReceiverOptions
	log  *slog.Logger

	mu sync.Mutex
	// chunks hold the spans in arrays of chunkSize: the store grows a
	// chunk at a time, never copying what it holds, so that its peak is
	// its size (a doubling slice would briefly need twice the cap).
	chunks   [][]Span
	stored   int
	received int64
	dropped  int64
	// strs interns the strings that repeat across spans (names, services,
	// instances): the store holds one copy of each.
	strs map[string]string

	srv *http.Server
	url string

	fwd       chan forwarded
	fwdDone   chan struct{}
	fwdStat   ForwardStats
	fwdClosed bool
	closeOnce sync.Once
}

// forwarded is a request to copy to ReceiverOptions.Forward.
type forwarded struct {
	contentType string
	body        []byte
}

var _ Source = (*Receiver)(nil)

// NewReceiver returns a receiver to mount as an http.Handler; StartReceiver
// also serves it.
func NewReceiver(o ReceiverOptions) *Receiver {
	if o.MaxSpans <= 0 {
		o.MaxSpans = DefaultMaxSpans
	}
	if o.MaxRequest <= 0 {
		o.MaxRequest = DefaultMaxRequest
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ForwardQueue <= 0 {
		o.ForwardQueue = DefaultForwardQueue
	}
	r := &Receiver{opts: o, log: o.Logger, strs: map[string]string{}}
	if o.Forward != "" {
		r.fwd, r.fwdDone = make(chan forwarded, o.ForwardQueue), make(chan struct{})
		go r.forward(strings.TrimSuffix(o.Forward, "/") + TracesPath)
	}
	return r
}

// forward sends the queued copies, one at a time, until Close.
func (r *Receiver) forward(url string) {
	defer close(r.fwdDone)
	client := &http.Client{Timeout: 10 * time.Second}
	for f := range r.fwd {
		resp, err := client.Post(url, f.contentType, bytes.NewReader(f.body))
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		r.mu.Lock()
		if ok {
			r.fwdStat.Sent++
		} else {
			r.fwdStat.Failed++
		}
		failed := r.fwdStat.Failed
		r.mu.Unlock()
		if !ok && failed == 1 {
			if err == nil {
				err = fmt.Errorf("%s", resp.Status)
			}
			r.log.Warn("forward spans: the first failure (later ones are only counted)", "url", url, "err", err)
		}
	}
}

// ForwardStats says what was forwarded so far.
func (r *Receiver) ForwardStats() ForwardStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fwdStat
}

// StartReceiver serves a new receiver on addr (127.0.0.1:0: a free
// loopback port) until Close.
func StartReceiver(addr string, o ReceiverOptions) (*Receiver, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("OTLP receiver: listen on %s: %w", addr, err)
	}
	r := NewReceiver(o)
	mux := http.NewServeMux()
	mux.Handle("POST "+TracesPath, r)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.url = "http://" + l.Addr().String()
	go func() { _ = r.srv.Serve(l) }() // ends with Close
	return r, nil
}

// URL is the OTLP/HTTP base URL of a started receiver (spans go to its
// /v1/traces), for ExportOptions.Endpoint and the service contract.
func (r *Receiver) URL() string { return r.url }

// Close stops serving and sends what waits to be forwarded; the spans
// stay readable.
func (r *Receiver) Close() error {
	var err error
	if r.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = r.srv.Shutdown(ctx)
	}
	r.closeOnce.Do(func() {
		if r.fwd != nil {
			r.mu.Lock()
			r.fwdClosed = true
			close(r.fwd)
			r.mu.Unlock()
			<-r.fwdDone
		}
	})
	return err
}

const (
	contentProtobuf = "application/x-protobuf"
	contentJSON     = "application/json"
)

// ServeHTTP takes one export request, as the OTLP/HTTP specification says:
// 200 with an ExportTraceServiceResponse in the request's encoding, whose
// partial success counts the spans the cap refused; 4xx for a request that
// cannot be read (the exporter does not retry those).
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if ct != contentProtobuf && ct != contentJSON {
		http.Error(w, "content type "+strconv.Quote(ct)+": want "+contentProtobuf+" or "+contentJSON, http.StatusUnsupportedMediaType)
		return
	}
	body := io.Reader(req.Body)
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			r.refuse(w, http.StatusBadRequest, fmt.Errorf("gzip body: %w", err))
			return
		}
		defer gz.Close()
		body = gz
	default:
		r.refuse(w, http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q: want gzip or none", enc))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(body, r.opts.MaxRequest+1))
	if err != nil {
		r.refuse(w, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
		return
	}
	if int64(len(raw)) > r.opts.MaxRequest {
		r.refuse(w, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", r.opts.MaxRequest))
		return
	}
	var in coltracepb.ExportTraceServiceRequest
	if ct == contentJSON {
		err = protojson.Unmarshal(raw, &in)
	} else {
		err = proto.Unmarshal(raw, &in)
	}
	if err != nil {
		r.refuse(w, http.StatusBadRequest, fmt.Errorf("decode %s: %w", ct, err))
		return
	}
	rejected := r.add(in.GetResourceSpans())
	if r.fwd != nil {
		r.mu.Lock()
		if !r.fwdClosed {
			select {
			case r.fwd <- forwarded{contentType: ct, body: raw}:
			default:
				r.fwdStat.Dropped++
			}
		}
		r.mu.Unlock()
	}
	var out coltracepb.ExportTraceServiceResponse
	if rejected > 0 {
		out.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: rejected,
			ErrorMessage:  fmt.Sprintf("span store full (%d spans)", r.opts.MaxSpans),
		}
	}
	var b []byte
	if ct == contentJSON {
		b, err = protojson.Marshal(&out)
	} else {
		b, err = proto.Marshal(&out)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b)
}

func (r *Receiver) refuse(w http.ResponseWriter, code int, err error) {
	r.log.Warn("OTLP export refused", "status", code, "err", err)
	http.Error(w, err.Error(), code)
}

// add stores the spans of one request and returns how many it refused.
func (r *Receiver) add(rss []*tracepb.ResourceSpans) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rejected int64
	for _, rs := range rss {
		service, instance := resourceNames(rs, r.intern)
		for _, ss := range rs.GetScopeSpans() {
			for _, ps := range ss.GetSpans() {
				r.received++
				if r.stored >= r.opts.MaxSpans {
					r.dropped++
					rejected++
					continue
				}
				if r.stored%chunkSize == 0 {
					r.chunks = append(r.chunks, make([]Span, 0, min(chunkSize, r.opts.MaxSpans-r.stored)))
				}
				last := &r.chunks[len(r.chunks)-1]
				*last = append(*last, flatten(ps, service, instance, r.intern))
				r.stored++
			}
		}
	}
	return rejected
}

func (r *Receiver) intern(s string) string {
	if v, ok := r.strs[s]; ok {
		return v
	}
	r.strs[s] = s
	return s
}

// resourceNames are a resource's service.name and service.instance.id.
func resourceNames(rs *tracepb.ResourceSpans, intern func(string) string) (service, instance string) {
	for _, kv := range rs.GetResource().GetAttributes() {
		switch kv.GetKey() {
		case "service.name":
			service = intern(kv.GetValue().GetStringValue())
		case "service.instance.id":
			instance = intern(kv.GetValue().GetStringValue())
		}
	}
	return service, instance
}

// flatten turns a protobuf span into a Span, passing the strings that
// repeat across spans through intern.
func flatten(ps *tracepb.Span, service, instance string, intern func(string) string) Span {
	s := Span{
		Service: service, Instance: instance,
		Kind:          kindName(ps.GetKind()),
		Name:          intern(ps.GetName()),
		Start:         time.Unix(0, int64(ps.GetStartTimeUnixNano())),
		End:           time.Unix(0, int64(ps.GetEndTimeUnixNano())),
		StatusCode:    statusName(ps.GetStatus().GetCode()),
		StatusMessage: ps.GetStatus().GetMessage(),
	}
	copy(s.TraceID[:], ps.GetTraceId())
	copy(s.SpanID[:], ps.GetSpanId())
	copy(s.ParentSpanID[:], ps.GetParentSpanId())
	for _, kv := range ps.GetAttributes() {
		v := kv.GetValue()
		switch attribute.Key(kv.GetKey()) {
		case AttrPeerService:
			s.PeerService = intern(v.GetStringValue())
		case AttrDBSystem:
			s.DBSystem = intern(v.GetStringValue())
		case AttrHTTPStatus:
			s.HTTPStatus = int(v.GetIntValue())
		case AttrFaults:
			for _, e := range v.GetArrayValue().GetValues() {
				s.Faults = append(s.Faults, intern(e.GetStringValue()))
			}
		}
	}
	for _, e := range ps.GetEvents() {
		if e.GetName() != EventFaultStart && e.GetName() != EventFaultEnd {
			continue
		}
		s.FaultEvents = append(s.FaultEvents, intern(e.GetName()+":"+stringAttr(e.GetAttributes(), EventAttrFault)))
	}
	return s
}

func stringAttr(kvs []*commonpb.KeyValue, key attribute.Key) string {
	for _, kv := range kvs {
		if attribute.Key(kv.GetKey()) == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func kindName(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return trace.SpanKindServer.String()
	case tracepb.Span_SPAN_KIND_CLIENT:
		return trace.SpanKindClient.String()
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return trace.SpanKindProducer.String()
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return trace.SpanKindConsumer.String()
	}
	return trace.SpanKindInternal.String()
}

func statusName(c tracepb.Status_StatusCode) string {
	switch c {
	case tracepb.Status_STATUS_CODE_OK:
		return "ok"
	case tracepb.Status_STATUS_CODE_ERROR:
		return "error"
	}
	return "unset"
}

// Spans returns copies of the stored spans that started in [from, to),
// by start time.
func (r *Receiver) Spans(ctx context.Context, from, to time.Time) ([]Span, Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, Stats{}, err
	}
	r.mu.Lock()
	var out []Span
	for _, c := range r.chunks {
		for i := range c {
			if s := &c[i]; !s.Start.Before(from) && s.Start.Before(to) {
				out = append(out, *s)
			}
		}
	}
	st := Stats{Received: r.received, Stored: int64(r.stored), Dropped: r.dropped, MaxSpans: r.opts.MaxSpans}
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Span) int { return a.Start.Compare(b.Start) })
	return out, st, nil
}
