package storage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// failingWrites reads fine and fails every insert.
type failingWrites struct{}

func (failingWrites) seed(context.Context, dataset) error        { return nil }
func (failingWrites) read(context.Context, int64) error          { return nil }
func (failingWrites) write(context.Context, int64, string) error { return errors.New("disk full") }
func (failingWrites) close() error                               { return nil }

func TestEveryOperationIsASpanNamingItsDatabase(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := &store{kind: service.TypeRedis, b: failingWrites{}, d: dataset{records: 10, seed: 1},
		timeout: time.Second, rng: readRand(1), tracer: tp.Tracer("test")}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "server")
	if err := s.Do(ctx, 2, 1); err == nil {
		t.Fatal("Do with a failing insert succeeded")
	}
	parent.End()
	var names []string
	for _, sp := range rec.Ended() {
		if sp.Name() == "server" {
			continue
		}
		names = append(names, sp.Name())
		if sp.SpanKind() != trace.SpanKindClient || sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s: kind %v parent %v, want a client span under the request's", sp.Name(), sp.SpanKind(), sp.Parent().SpanID())
		}
		var db string
		for _, kv := range sp.Attributes() {
			if kv.Key == traces.AttrDBSystem {
				db = kv.Value.AsString()
			}
		}
		if db != "redis" {
			t.Errorf("%s: db.system %q, want redis", sp.Name(), db)
		}
		if want := map[string]codes.Code{"redis read": codes.Unset, "redis insert": codes.Error}[sp.Name()]; sp.Status().Code != want {
			t.Errorf("%s: status %v, want %v", sp.Name(), sp.Status(), want)
		}
	}
	if len(names) != 3 {
		t.Errorf("spans %q, want two reads and an insert", names)
	}
}
