package traces

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// DefaultJaegerSearchDepth is how many traces Jaeger is asked for at once;
// a window that holds more is split in two and asked again.
const DefaultJaegerSearchDepth = 5000

// Jaeger reads spans back from a Jaeger query service through its API v3
// (HTTP/JSON, OTLP's span model): a run's spans where the services export
// to a Jaeger instead of the harness's Receiver (on Kubernetes), or any
// Jaeger a user points at. It keeps nothing itself: Stats has no drops,
// since what Jaeger's store evicted is not visible through its API.
type Jaeger struct {
	// URL is the query service's base URL, e.g. http://127.0.0.1:16686.
	URL string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// SearchDepth bounds the traces of one query; 0 means
	// DefaultJaegerSearchDepth.
	SearchDepth int
	// AllServices searches the traces of every service Jaeger knows.
	// Without it, when the load generator (LoadService) sent spans, only
	// its traces are searched: it roots every request's trace, and each
	// other service's search would fetch the same traces again (through a
	// port-forward on Kubernetes, the whole run's spans once per service).
	AllServices bool
}

var _ Source = (*Jaeger)(nil)

// Spans returns the spans that started in [from, to), ordered by start
// time. Jaeger finds traces by service: the load generator's, or every
// service it knows in turn (AllServices, or no load generator), each
// trace kept once.
func (j *Jaeger) Spans(ctx context.Context, from, to time.Time) ([]Span, Stats, error) {
	services, err := j.services(ctx)
	if err != nil {
		return nil, Stats{}, err
	}
	if !j.AllServices && slices.Contains(services, LoadService) {
		services = []string{LoadService}
	}
	strs := map[string]string{}
	intern := func(s string) string {
		if v, ok := strs[s]; ok {
			return v
		}
		strs[s] = s
		return s
	}
	seen := map[[16]byte]bool{}
	var out []Span
	for _, svc := range services {
		err := j.find(ctx, svc, from, to, func(td *tracepb.TracesData) {
			// A trace is whole in one answer: the spans of one already
			// kept are skipped together.
			fresh := map[[16]byte]bool{}
			for _, rs := range td.GetResourceSpans() {
				service, instance := resourceNames(rs, intern)
				for _, ss := range rs.GetScopeSpans() {
					for _, ps := range ss.GetSpans() {
						var id [16]byte
						copy(id[:], ps.GetTraceId())
						if seen[id] {
							continue
						}
						fresh[id] = true
						s := flatten(ps, service, instance, intern)
						if !s.Start.Before(from) && s.Start.Before(to) {
							out = append(out, s)
						}
					}
				}
			}
			for id := range fresh {
				seen[id] = true
			}
		})
		if err != nil {
			return nil, Stats{}, err
		}
	}
	slices.SortStableFunc(out, func(a, b Span) int { return a.Start.Compare(b.Start) })
	n := int64(len(out))
	return out, Stats{Received: n, Stored: n}, nil
}

func (j *Jaeger) client() *http.Client {
	if j.Client != nil {
		return j.Client
	}
	return http.DefaultClient
}

// get fetches path?q from the query service into v (JSON); a missing
// answer (404: no traces) leaves v as it is and reports found false.
func (j *Jaeger) get(ctx context.Context, path string, q url.Values, decode func([]byte) error) (found bool, err error) {
	u := strings.TrimSuffix(j.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, fmt.Errorf("jaeger: %w", err)
	}
	resp, err := j.client().Do(req)
	if err != nil {
		return false, fmt.Errorf("jaeger: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, fmt.Errorf("jaeger: GET %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("jaeger: GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	if err := decode(body); err != nil {
		return false, fmt.Errorf("jaeger: GET %s: %w", path, err)
	}
	return true, nil
}

func (j *Jaeger) services(ctx context.Context) ([]string, error) {
	var v struct {
		Services []string `json:"services"`
	}
	_, err := j.get(ctx, "/api/v3/services", nil, func(b []byte) error { return json.Unmarshal(b, &v) })
	return v.Services, err
}

// find calls each with the traces service took part in within [from, to),
// splitting the window while an answer is as deep as the search.
func (j *Jaeger) find(ctx context.Context, service string, from, to time.Time, each func(*tracepb.TracesData)) error {
	depth := j.SearchDepth
	if depth <= 0 {
		depth = DefaultJaegerSearchDepth
	}
	q := url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {from.UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {to.UTC().Format(time.RFC3339Nano)},
		"query.num_traces":     {strconv.Itoa(depth)},
	}
	var td tracepb.TracesData
	_, err := j.get(ctx, "/api/v3/traces", q, func(b []byte) error { return decodeTraces(b, &td) })
	if err != nil {
		return fmt.Errorf("%w (service %s)", err, service)
	}
	if traceCount(&td) >= depth {
		if to.Sub(from) < 2*time.Millisecond {
			return fmt.Errorf("jaeger: service %s has %d traces or more within %v: raise SearchDepth", service, depth, to.Sub(from))
		}
		mid := from.Add(to.Sub(from) / 2)
		if err := j.find(ctx, service, from, mid, each); err != nil {
			return err
		}
		return j.find(ctx, service, mid, to, each)
	}
	each(&td)
	return nil
}

func traceCount(td *tracepb.TracesData) int {
	ids := map[string]bool{}
	for _, rs := range td.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, ps := range ss.GetSpans() {
				ids[string(ps.GetTraceId())] = true
			}
		}
	}
	return len(ids)
}

// otlpID is an id field of OTLP/JSON, which spells ids in hex where
// protobuf's JSON mapping (protojson) wants base64.
var otlpID = regexp.MustCompile(`"(traceId|spanId|parentSpanId)"\s*:\s*"([^"]*)"`)

// decodeTraces reads an API v3 answer, {"result": <OTLP/JSON TracesData>},
// into td.
func decodeTraces(b []byte, td *tracepb.TracesData) error {
	var envelope struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &envelope); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if envelope.Error != nil {
		return errors.New(envelope.Error.Message)
	}
	if len(envelope.Result) == 0 {
		return nil
	}
	var convErr error
	raw := otlpID.ReplaceAllFunc(envelope.Result, func(m []byte) []byte {
		sub := otlpID.FindSubmatch(m)
		id, err := hex.DecodeString(string(sub[2]))
		if err != nil {
			convErr = err
			return m
		}
		return []byte(`"` + string(sub[1]) + `":"` + base64.StdEncoding.EncodeToString(id) + `"`)
	})
	if convErr != nil {
		return fmt.Errorf("decode ids: %w", convErr)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, td); err != nil {
		return fmt.Errorf("decode spans: %w", err)
	}
	return nil
}

// JaegerConfig is the configuration of a Jaeger v2 (an OpenTelemetry
// collector, configured as one) that the runtimes run: an OTLP/HTTP
// receiver on otlp, the in-memory store keeping the newest maxTraces
// traces, and the query service's HTTP and gRPC APIs on query and grpc
// (host:port each). Only what is used is on: no Jaeger or Zipkin
// receivers, no gRPC OTLP, no self-telemetry endpoint (its default port,
// 8888, would clash between two Jaegers on one machine), and no tracing of
// the query service itself: Jaeger's default exports a span of every query
// to an OTLP/gRPC collector on localhost:4317, which is nobody here, so
// each query left a span that the SDK retried to export for 10 s — and
// held Jaeger's shutdown for those 10 s (a Kubernetes namespace's deletion
// waited on it after every run that read its traces).
func JaegerConfig(otlp, query, grpc string, maxTraces int) string {
	return fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: %d
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
processors:
  batch: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, maxTraces, query, grpc, otlp)
}
