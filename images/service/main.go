package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/images/service/internal/calls"
	"github.com/vecrosim/vecro/images/service/internal/config"
	"github.com/vecrosim/vecro/images/service/internal/faultagent"
	"github.com/vecrosim/vecro/images/service/internal/server"
	"github.com/vecrosim/vecro/images/service/internal/storage"
	"github.com/vecrosim/vecro/images/service/internal/svcmetrics"
	"github.com/vecrosim/vecro/images/service/internal/telemetry"
	"github.com/vecrosim/vecro/images/service/internal/workload"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts the drain; restoring the default handling then
	// lets a second one end the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program: 0 after a clean shutdown, 2 on a configuration
// error, 1 on any other failure. The request log goes to stdout as JSON
// lines; the instance's own events go to stderr.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg, err := config.Parse(args, lookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "service: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("system", cfg.System, "service", cfg.Service, "instance", cfg.Instance)
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("service failed", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// serve builds the instance, serves until ctx ends and shuts down.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) (err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	m, err := svcmetrics.New(svcmetrics.Options{
		System: cfg.System, Service: cfg.Service, Instance: cfg.Instance,
		Legacy: cfg.LegacyMetrics, Logger: log,
	})
	if err != nil {
		return err
	}
	// Registered first, so it runs last: the spans of the requests that
	// the drain below lets finish are flushed too.
	tracer, shutdownTracing, err := startTracing(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdownTracing(); err != nil {
			log.Warn("flush spans", "error", err)
		}
	}()
	var reqLog *slog.Logger
	if cfg.LogRate != 0 {
		reqLog = slog.New(telemetry.NewLogHandler(stdout, telemetry.LogOptions{
			Rate: cfg.LogRate, Dropped: m.DroppedLogLine, Written: m.WrittenLogLine, Level: cfg.LogLevel,
		})).With(logs.KeyService, cfg.Service, logs.KeyInstance, cfg.Instance)
	}
	wl, err := workload.New(workload.Params{
		CPU: cfg.Workload.CPU, IO: cfg.Workload.IO, Net: cfg.Workload.Net, MemoryMiB: cfg.Workload.MemoryMiB,
		Delay: cfg.Workload.Delay, Jitter: cfg.Workload.Jitter, Seed: cfg.Seed, DataDir: cfg.DataDir,
	})
	if err != nil {
		return err
	}
	defer wl.Close()

	// The agent's actions (a fault on, off, refused) also go to the
	// request log, where log-based detectors look for them.
	agentLog := log
	if reqLog != nil {
		agentLog = slog.New(slog.NewMultiHandler(log.Handler(), reqLog.Handler()))
	}
	agent, err := faultagent.New(faultagent.Options{
		Token: cfg.Token, Seed: cfg.Seed, DataDir: cfg.DataDir,
		Registerer: m.Registry(), ConstLabels: m.ConstLabels(),
		Logger: agentLog.With("component", "agent"),
	})
	if err != nil {
		return fmt.Errorf("fault agent: %w", err)
	}
	defer func() { err = errors.Join(err, agent.Close()) }()

	// The database proxy lives until the HTTP server has drained (below),
	// not until the signal: in-flight requests still use it.
	proxyCtx, stopProxies := context.WithCancel(context.Background())
	defer stopProxies()

	var store server.Store
	if cfg.Type.IsStorage() {
		st, err := openStore(ctx, proxyCtx, cfg, agent, log, tracer)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, st.Close()) }()
		store = st
	}

	callees := make([]calls.Callee, len(cfg.Calls))
	for i, c := range cfg.Calls {
		callees[i] = calls.Callee{Name: c.Name, URL: c.URL}
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	caller, err := calls.New(calls.Options{
		Callees: callees, Mode: cfg.CallMode,
		Dial: m.WrapDialer(dialer.DialContext), Observe: m.ObserveDownstream,
		UserAgent: "vecro-service/" + cfg.Service, Tracer: tracer,
	})
	if err != nil {
		return err
	}
	defer caller.CloseIdleConnections()

	// The span and the log line sit outside the agent's http-abort, so
	// that they see its answers; inside the metrics, as before.
	observe := telemetry.Options{Tracer: tracer, Log: reqLog, Faults: agent.Active}
	handler, err := server.Handler(server.Options{
		Workload: wl, Store: store, Reads: cfg.Workload.Read, Writes: cfg.Workload.Write,
		Caller: caller, Instrument: m.Instrument,
		Middleware: func(h http.Handler) http.Handler { return telemetry.Middleware(observe, agent.Middleware(h)) },
		Logger:     log, RequestLog: reqLog,
	})
	if err != nil {
		return err
	}
	health := &server.Health{}
	admin, err := server.AdminHandler(server.AdminOptions{Metrics: m.Handler(), Faults: agent.Handler(), Health: health})
	if err != nil {
		return err
	}

	// The HTTP server serves the service port itself, through the agent's
	// wrapper: faults "on: ingress" act on its connections, and cost nothing
	// while none is on (a TCP proxy in front would halve the throughput).
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("service port: %w", err)
	}
	ingressL, err := agent.WrapIngress(l)
	if err != nil {
		_ = l.Close()
		return fmt.Errorf("service port: %w", err)
	}
	ingress := l.Addr()
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- server.Serve(serveCtx, server.NewHTTPServer(handler, log), m.WrapListener(ingressL), cfg.ShutdownTimeout)
	}()

	adminL, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		stopServing()
		return errors.Join(fmt.Errorf("admin port: %w", err), <-svcDone)
	}
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	adminDone := make(chan error, 1)
	go func() { adminDone <- server.Serve(adminCtx, server.NewHTTPServer(admin, log), adminL, time.Second) }()

	if cfg.AddrFile != "" {
		if err := writeAddrFile(cfg.AddrFile, ingress.String(), adminL.Addr().String()); err != nil {
			stopServing()
			stopAdmin()
			return errors.Join(err, <-svcDone, <-adminDone)
		}
	}
	log.Info("ready", "type", cfg.Type, "listen", ingress.String(), "admin", adminL.Addr().String(),
		"calls", len(callees), "call_mode", cfg.CallMode)

	var failed error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", cfg.ShutdownTimeout)
	case err := <-svcDone:
		failed = fmt.Errorf("service server: %w", err)
		svcDone <- nil // the drain below waits on it again
	case err := <-adminDone:
		failed = fmt.Errorf("admin server: %w", err)
		adminDone <- nil
	}
	// Drain: probes see 503 first, then the server stops accepting and lets
	// in-flight requests finish, then the db proxy closes, the admin port last
	// (so the final state can still be scraped until here).
	health.Drain()
	stopServing()
	svcErr := <-svcDone
	stopProxies()
	stopAdmin()
	adminErr := <-adminDone
	return errors.Join(failed, svcErr, adminErr)
}

// startTracing starts the span exporter when the contract names an OTLP
// endpoint; without one it returns a nil tracer, and no request pays for
// tracing. The returned function flushes and stops the exporter.
func startTracing(cfg *config.Config, log *slog.Logger) (trace.Tracer, func() error, error) {
	if cfg.OTLPEndpoint == "" {
		return nil, func() error { return nil }, nil
	}
	// The SDK reports failed and partly refused exports here (by default
	// to the standard logger); they are the instance's own events.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("export spans", "error", err) }))
	tp, err := traces.NewProvider(traces.ExportOptions{
		Endpoint: cfg.OTLPEndpoint, SampleRatio: cfg.TraceSampleRatio,
		System: cfg.System, Service: cfg.Service, Instance: cfg.Instance,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	shutdown := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tp.Shutdown(ctx)
	}
	return tp.Tracer("github.com/vecrosim/vecro/images/service"), shutdown, nil
}

// addrs is the --addr-file content.
type addrs struct {
	Listen string `json:"listen"`
	Admin  string `json:"admin"`
	PID    int    `json:"pid"`
}

// writeAddrFile writes the file whole or not at all (rename), so that a
// reader polling for it never sees half of it.
func writeAddrFile(path, listen, admin string) error {
	b, err := json.Marshal(addrs{Listen: listen, Admin: admin, PID: os.Getpid()})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return fmt.Errorf("addr file: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	if err := errors.Join(werr, tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("addr file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("addr file: %w", err)
	}
	return nil
}

// openStore connects a storage type to its database through the agent's
// db proxy, so that "on: db" faults act on that link, and seeds the
// dataset. ctx (the signal) bounds the seeding; proxyCtx the proxy's life.
func openStore(ctx, proxyCtx context.Context, cfg *config.Config, agent *faultagent.Agent, log *slog.Logger, tracer trace.Tracer) (storage.Store, error) {
	dbAddr, err := storage.HostPort(cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	proxyAddr, err := agent.FrontDB(proxyCtx, dbAddr)
	if err != nil {
		return nil, fmt.Errorf("database proxy for %s: %w", dbAddr, err)
	}
	url, err := storage.WithHostPort(cfg.DB, proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	st, err := storage.Open(ctx, storage.Config{
		Type: cfg.Type, URL: url, Records: cfg.Records, Seed: cfg.Seed,
		Logger: log.With("component", "storage"), Tracer: tracer,
	})
	if err != nil {
		return nil, err
	}
	log.Info("database fronted by the agent", "db", dbAddr, "proxy", proxyAddr)
	return st, nil
}
