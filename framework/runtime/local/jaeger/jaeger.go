// Package jaeger runs a Jaeger v2 (github.com/jaegertracing/jaeger,
// cmd/jaeger, built into the tool cache by tools/jaeger/build.sh) beside a
// locally run system: an OTLP/HTTP receiver, the in-memory trace store and
// the query service on loopback ports, so that a user can search the
// system's traces while it runs. The harness's own span receiver forwards
// to it (traces.ReceiverOptions.Forward); traces.Jaeger reads it back.
//
// The server is a child process that cannot outlive the harness
// (internal/childproc): its own process group, killed whole by Stop, and
// on Linux a parent-death signal.
package jaeger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/internal/childproc"
)

// Defaults of Options.
const (
	// DefaultMaxTraces bounds the in-memory store: a 20-minute run of the
	// social system at 20 requests/s is 24,000 traces.
	DefaultMaxTraces     = 100_000
	DefaultStartTimeout  = 60 * time.Second
	DefaultStopGrace     = 3 * time.Second
	startAttempts        = 3
	readyPollInterval    = 50 * time.Millisecond
	readyRequestDeadline = time.Second
)

// Options configure Start.
type Options struct {
	// Binary is the jaeger executable (toolcache.Find("jaeger", …)).
	Binary string
	// Dir holds the server's configuration; empty means a new temporary
	// directory, removed by Stop.
	Dir string
	// Log gets the server's output; nil keeps only its tail for errors.
	Log io.Writer
	// MaxTraces bounds the in-memory store (Jaeger evicts the oldest
	// traces beyond it); 0 means DefaultMaxTraces.
	MaxTraces int
	// StartTimeout bounds the start, to the query service answering;
	// 0 means DefaultStartTimeout.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Server is a running Jaeger.
type Server struct {
	proc    *childproc.Proc
	dir     string
	ownDir  bool
	otlp    string
	query   string
	grace   time.Duration
	log     *slog.Logger
	stopped chan struct{}
}

// Start runs Jaeger on three free loopback ports and returns once its
// query service answers. A port another program took between being found
// free and being bound is retried with new ports.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Binary == "" {
		return nil, errors.New("jaeger: no binary (build it with make jaeger)")
	}
	if o.MaxTraces <= 0 {
		o.MaxTraces = DefaultMaxTraces
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: o.Dir, grace: DefaultStopGrace, log: o.Logger, stopped: make(chan struct{})}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "vecro-jaeger-")
		if err != nil {
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		s.dir, s.ownDir = d, true
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	t0 := time.Now()
	var last error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ports, err := freePorts(3)
		if err != nil {
			s.removeDir()
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		otlp, query, grpc := ports[0], ports[1], ports[2]
		cfg := filepath.Join(s.dir, "config.yaml")
		if err := os.WriteFile(cfg, []byte(traces.JaegerConfig(otlp, query, grpc, o.MaxTraces)), 0o644); err != nil {
			s.removeDir()
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		p, err := childproc.Start(o.Binary, []string{"--config", cfg}, s.dir, o.Log)
		if err != nil {
			s.removeDir()
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		s.proc, s.otlp, s.query = p, "http://"+otlp, "http://"+query
		last = s.waitReady(ctx, otlp)
		if last == nil {
			s.log.Info("jaeger ready", "query", s.query, "otlp", s.otlp, "pid", p.Pid(), "took", time.Since(t0).Round(time.Millisecond))
			return s, nil
		}
		p.Stop(s.grace)
		if ctx.Err() != nil || !strings.Contains(strings.ToLower(p.Output()), "address already in use") {
			break
		}
		s.log.Info("jaeger: a port was taken meanwhile; trying others", "attempt", attempt)
	}
	s.removeDir()
	return nil, fmt.Errorf("jaeger: start %s: %w", o.Binary, last)
}

// waitReady polls the query service until it answers and the OTLP port
// accepts connections.
func (s *Server) waitReady(ctx context.Context, otlp string) error {
	client := &http.Client{Timeout: readyRequestDeadline}
	var last error
	for {
		if s.proc.Exited() {
			if err := s.proc.Wait(); err != nil {
				return err
			}
			return fmt.Errorf("exited with status 0\noutput:\n%s", childproc.LastLines(s.proc.Output(), 20))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.query+"/api/v3/services", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c, derr := net.DialTimeout("tcp", otlp, readyRequestDeadline)
				if derr == nil {
					c.Close()
					return nil
				}
				err = derr
			} else {
				err = fmt.Errorf("query service: %s", resp.Status)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last: %v)\noutput:\n%s", ctx.Err(), last, childproc.LastLines(s.proc.Output(), 20))
		case <-s.proc.Done():
		case <-time.After(readyPollInterval):
		}
	}
}

// OTLPURL is the OTLP/HTTP base URL spans are sent to (its /v1/traces).
func (s *Server) OTLPURL() string { return s.otlp }

// QueryURL is the query service's base URL: its API (/api/v3/…) and, in a
// build that has them, its UI's pages.
func (s *Server) QueryURL() string { return s.query }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.proc.Pid() }

// Stop ends the server (SIGTERM, SIGKILL after a grace) and removes a
// directory Start made. It is safe to call more than once.
func (s *Server) Stop() {
	select {
	case <-s.stopped:
		return
	default:
		close(s.stopped)
	}
	s.proc.Stop(s.grace)
	s.removeDir()
}

func (s *Server) removeDir() {
	if s.ownDir {
		os.RemoveAll(s.dir)
	}
}

// freePorts returns n loopback addresses nobody listened on a moment ago.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
