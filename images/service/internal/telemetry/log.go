package telemetry

import (
	"context"
	"io"
	"log/slog"

	"github.com/vecrosim/vecro/framework/logs"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

// DefaultLogRate is the request log's cap in lines per second (with a
// burst of as many), far above the scenario rates and well below what
// would cost the service its throughput.
const DefaultLogRate = 1000

// LogOptions configure the request log.
type LogOptions struct {
	// Rate caps lines per second (burst: one second's worth); 0 means
	// DefaultLogRate, a negative rate no cap.
	Rate float64
	// Dropped, if set, is called for every line the cap dropped (a
	// counter's Inc).
	Dropped func()
	// Written, if set, is called for every line written.
	Written func()
	// Level is the least level written.
	Level slog.Leveler
}

// NewLogHandler returns a JSON handler on w that adds trace_id and span_id
// from each record's context and drops lines beyond the rate cap.
func NewLogHandler(w io.Writer, o LogOptions) slog.Handler {
	h := &logHandler{
		next:    slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.Level}),
		dropped: o.Dropped,
		written: o.Written,
	}
	switch {
	case o.Rate == 0:
		o.Rate = DefaultLogRate
		fallthrough
	case o.Rate > 0:
		h.limit = rate.NewLimiter(rate.Limit(o.Rate), max(1, int(o.Rate)))
	}
	return h
}

type logHandler struct {
	next    slog.Handler
	limit   *rate.Limiter // shared by the handler's WithAttrs copies
	dropped func()
	written func()
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	// The cap first: a dropped line costs one token check.
	if h.limit != nil && !h.limit.AllowN(r.Time, 1) {
		if h.dropped != nil {
			h.dropped()
		}
		return nil
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String(logs.KeyTraceID, sc.TraceID().String()), slog.String(logs.KeySpanID, sc.SpanID().String()))
	}
	err := h.next.Handle(ctx, r)
	if err == nil && h.written != nil {
		h.written()
	}
	return err
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(as), limit: h.limit, dropped: h.dropped, written: h.written}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), limit: h.limit, dropped: h.dropped, written: h.written}
}
