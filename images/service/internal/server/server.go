package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/images/service/internal/calls"
)

// Store is a storage type's database: reads random point reads and writes
// inserts per request.
type Store interface {
	Do(ctx context.Context, reads, writes int) error
}

// Workload is the per-request work done before the calls, and the payload.
type Workload interface {
	Run(ctx context.Context) error
	Payload() []byte
}

// Caller makes the downstream calls.
type Caller interface {
	Call(ctx context.Context) error
}

// Options assemble the service port's handler. Only Workload is required.
type Options struct {
	Workload Workload
	// Store, Reads and Writes are the storage type's database work; Store
	// is nil for type base.
	Store         Store
	Reads, Writes int
	// Caller makes the downstream calls; nil means none.
	Caller Caller
	// Instrument is the outermost layer (metrics), so that it sees every
	// request with the status it got; nil means none.
	Instrument func(http.Handler) http.Handler
	// Middleware wraps the service inside Instrument: the fault agent's
	// http-abort; nil means none.
	Middleware func(http.Handler) http.Handler
	Logger     *slog.Logger
	// RequestLog receives an error line with the cause of every failed
	// request (a downstream call, the storage, the workload), in the
	// request's context so that it carries the trace; nil writes none.
	RequestLog *slog.Logger
}

// FailedCalleeHeader names the callee whose failure made a 502.
const FailedCalleeHeader = "X-Vecro-Failed-Callee"

// StatusClientClosed is the status recorded when the caller went away.
const StatusClientClosed = 499

// Handler returns the service port's handler.
func Handler(o Options) (http.Handler, error) {
	if o.Workload == nil {
		return nil, errors.New("service handler: no workload")
	}
	if o.Store == nil && (o.Reads > 0 || o.Writes > 0) {
		return nil, fmt.Errorf("service handler: %d reads and %d writes but no store", o.Reads, o.Writes)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &service{o: o, log: log, length: []string{strconv.Itoa(len(o.Workload.Payload()))}}
	var h http.Handler = s
	if o.Middleware != nil {
		h = o.Middleware(h)
	}
	if o.Instrument != nil {
		h = o.Instrument(h)
	}
	return h, nil
}

type service struct {
	o      Options
	log    *slog.Logger
	length []string // the payload's Content-Length header value
}

// textPlain is the Content-Type header value of every answer. Header values
// are assigned, not Set, so that a request allocates no new slices: the
// server only reads them, and a later Add would copy (len = cap = 1).
var textPlain = []string{"text/plain; charset=utf-8"}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Read the request body first: the connection can only be reused once
	// it is consumed, and its bytes count as received.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		s.fail(w, r, http.StatusBadRequest, "read request body", err)
		return
	}
	if err := s.o.Workload.Run(ctx); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "workload", err)
		return
	}
	if s.o.Store != nil && (s.o.Reads > 0 || s.o.Writes > 0) {
		if err := s.o.Store.Do(ctx, s.o.Reads, s.o.Writes); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "storage", err)
			return
		}
	}
	if s.o.Caller != nil {
		if err := s.o.Caller.Call(ctx); err != nil {
			if ce, ok := errors.AsType[*calls.Error](err); ok {
				w.Header().Set(FailedCalleeHeader, ce.Callee)
			}
			s.fail(w, r, http.StatusBadGateway, "downstream", err)
			return
		}
	}
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = s.length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.o.Workload.Payload())
	}
}

// fail answers with code, or 499 when the request's context ended first:
// then the failure is the caller leaving, whatever step noticed it.
func (s *service) fail(w http.ResponseWriter, r *http.Request, code int, step string, err error) {
	if r.Context().Err() != nil {
		code = StatusClientClosed
	}
	msg := step + ": " + err.Error()
	if code != StatusClientClosed {
		s.log.Debug("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", msg)
	}
	if s.o.RequestLog != nil {
		// A caller that left is still a failed call in the log (its
		// timeout, usually), at a lower level than a failure of our own.
		level := slog.LevelError
		if code == StatusClientClosed {
			level = slog.LevelWarn
		}
		s.o.RequestLog.LogAttrs(r.Context(), level, "request failed",
			slog.String(logs.KeyMethod, r.Method), slog.String(logs.KeyPath, r.URL.Path), slog.Int(logs.KeyStatus, code),
			slog.String(logs.KeyStep, step), slog.String(logs.KeyError, msg))
	}
	w.Header().Del("Content-Length")
	http.Error(w, msg, code)
}

// AdminOptions assemble the admin port's mux.
type AdminOptions struct {
	// Metrics serves /metrics.
	Metrics http.Handler
	// Faults serves /faults and /faults/…; it checks its own token.
	Faults http.Handler
	// Health reports readiness for /healthz: nil means ready.
	Health *Health
}

// Health is /healthz's state: ready until Drain.
type Health struct{ draining atomic.Bool }

// Drain makes /healthz answer 503 from now on, so that probes and load
// balancers stop sending requests before the service port shuts down.
func (h *Health) Drain() { h.draining.Store(true) }

// AdminHandler returns the admin port's mux.
func AdminHandler(o AdminOptions) (http.Handler, error) {
	if o.Metrics == nil || o.Faults == nil {
		return nil, errors.New("admin handler: metrics and faults handlers are required")
	}
	health := o.Health
	if health == nil {
		health = &Health{}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", o.Metrics)
	mux.Handle("/faults", o.Faults)
	mux.Handle("/faults/", o.Faults)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if health.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "shutting down\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux, nil
}

// NewHTTPServer returns an http.Server for h with the timeouts a service
// needs: a bound on reading request headers (a slow client cannot hold a
// goroutine forever) and on idle keep-alive connections. There is no write
// timeout: a request may legitimately take as long as its workload and
// calls.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Serve serves srv on l until ctx ends, then shuts srv down: no new
// connections, idle ones closed, in-flight requests given up to grace to
// finish, after which the remaining connections are closed. It returns nil
// after a shutdown that finished in time.
func Serve(ctx context.Context, srv *http.Server, l net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("shut down %s: %w", l.Addr(), err), srv.Close())
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
