package telemetry_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/images/service/internal/telemetry"
	"go.opentelemetry.io/otel"
)

// BenchmarkMiddleware prices a request's span and log line: the SDK's batch
// processor exporting over OTLP/HTTP to a receiver in this process (whose
// decoding counts here too), the log at its default cap.
//
//	go test -run '^$' -bench Middleware -benchmem ./images/service/internal/telemetry/
func BenchmarkMiddleware(b *testing.B) {
	// The full store's partial successes are the point, not news.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	rcv, err := traces.StartReceiver("127.0.0.1:0", traces.ReceiverOptions{MaxSpans: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rcv.Close() })
	tp, err := traces.NewProvider(traces.ExportOptions{Endpoint: rcv.URL(), Service: "bench", Instance: "bench-0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	log := slog.New(telemetry.NewLogHandler(io.Discard, telemetry.LogOptions{})).With("service", "bench", "instance", "bench-0")
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, c := range []struct {
		name string
		o    telemetry.Options
	}{
		{"off", telemetry.Options{}},
		{"log", telemetry.Options{Log: log}},
		{"trace", telemetry.Options{Tracer: tp.Tracer("bench")}},
		{"trace+log", telemetry.Options{Tracer: tp.Tracer("bench"), Log: log}},
	} {
		h := telemetry.Middleware(c.o, noop)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				for pb.Next() {
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}
