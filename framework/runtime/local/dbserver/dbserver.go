package dbserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/childproc"
)

// Defaults of Options. The grace is short because the data is thrown away
// anyway, and FerretDB's graceful stop waits for its clients to leave.
const (
	DefaultStartTimeout = 60 * time.Second
	DefaultStopGrace    = 2 * time.Second
)

// MongoServer selects the program that serves the MongoDB protocol.
type MongoServer string

// MongoDB-protocol servers. MongoAuto prefers a real mongod.
const (
	MongoAuto     MongoServer = ""
	MongoD        MongoServer = "mongod"
	MongoFerretDB MongoServer = "ferretdb"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Dir is where the server's own temporary directory is created;
	// empty means os.TempDir().
	Dir string
	// Logger receives start and stop events; nil discards them.
	Logger *slog.Logger
	// LogWriter receives the server's stdout and stderr as they come; nil
	// keeps only the last part, for error messages (Server.Output).
	LogWriter io.Writer
	// Mongo chooses the MongoDB-protocol server for spec.TypeMongoDB.
	Mongo MongoServer
	// StartTimeout bounds the wait until the server answers queries
	// (default DefaultStartTimeout); ctx may end it sooner.
	StartTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before it kills the
	// process group (default DefaultStopGrace).
	StopGrace time.Duration
}

// Server is a running database server. Its methods are safe for concurrent use.
type Server struct {
	kind    spec.ServiceType
	program string
	path    string
	addr    string
	url     string
	dir     string
	extra   []string // further directories Stop removes (a short socket dir)
	proc    *childproc.Proc
	log     *slog.Logger
	grace   time.Duration
	startup time.Duration

	stopOnce sync.Once
	stopErr  error
}

// Start runs a database server for a storage service type on 127.0.0.1 at
// a free port, with its own temporary data directory, and returns once it
// answers queries. ctx bounds the start only: the server runs until Stop.
// A missing program gives a *MissingError (errors.Is(err, ErrNotInstalled))
// that names the command installing it.
func Start(ctx context.Context, kind spec.ServiceType, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	var f flavor
	switch kind {
	case spec.TypeRedis:
		f = redisFlavor{}
	case spec.TypeMySQL:
		f = mariadbFlavor{}
	case spec.TypeMongoDB:
		var err error
		if f, err = mongoFlavorFor(opts.Mongo); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("start database server: service type %q has no database server (want %s, %s or %s)",
			kind, spec.TypeRedis, spec.TypeMySQL, spec.TypeMongoDB)
	}
	path, err := f.find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.Dir, "vecro-"+string(kind)+"-")
	if err != nil {
		return nil, fmt.Errorf("start %s server: create its data directory: %w", kind, err)
	}
	s := &Server{
		kind: kind, program: filepath.Base(path), path: path, dir: dir,
		log: opts.Logger.With("db", string(kind)), grace: opts.StopGrace,
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := f.start(ctx, s, opts); err != nil {
		_ = s.Stop()
		if errors.Is(err, ErrNotInstalled) {
			return nil, err // it names the server already
		}
		return nil, fmt.Errorf("start %s server (%s): %w", kind, s.program, err)
	}
	s.startup = time.Since(begin)
	s.log.Info("database server ready", "program", s.program, "addr", s.addr,
		"pid", s.proc.Pid(), "dir", s.dir, "took", s.startup)
	return s, nil
}

// Kind is the storage service type the server serves.
func (s *Server) Kind() spec.ServiceType { return s.kind }

// Program is the server program's name: redis-server, mariadbd, mongod or ferretdb.
func (s *Server) Program() string { return s.program }

// Addr is the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return s.addr }

// URL is what the service binary's --db takes: redis://127.0.0.1:P,
// mysql://user:pass@127.0.0.1:P/db or mongodb://127.0.0.1:P/db.
func (s *Server) URL() string { return s.url }

// Dir is the server's temporary directory (data, socket, state); Stop removes it.
func (s *Server) Dir() string { return s.dir }

// Pid is the server's process id, which is also its process group id.
func (s *Server) Pid() int { return s.proc.Pid() }

// StartupTime is how long Start took, from finding the program to the first
// answered query (for mysql including mariadb-install-db).
func (s *Server) StartupTime() time.Duration { return s.startup }

// Done is closed when the server process has exited, whether by Stop or not;
// a close before Stop was called means it died.
func (s *Server) Done() <-chan struct{} { return s.proc.Done() }

// Err is why the server exited (nil while it runs), with its command and
// last output.
func (s *Server) Err() error {
	if !s.proc.Exited() {
		return nil
	}
	if err := s.proc.Wait(); err != nil {
		return err
	}
	return fmt.Errorf("%s (pid %d) exited with status 0\noutput:\n%s", s.program, s.Pid(), childproc.LastLines(s.proc.Output(), 20))
}

// Output is the last part of the server's stdout and stderr.
func (s *Server) Output() string { return s.proc.Output() }

// Tail returns the last n lines of the server's output so far.
func (s *Server) Tail(n int) string { return childproc.LastLines(s.Output(), n) }

// Stop ends the server's whole process group (SIGTERM, then SIGKILL after
// Options.StopGrace) and removes its directory. It also cleans up after a
// server that already died. Safe to call more than once and concurrently;
// every call returns the first one's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.proc != nil {
			s.proc.Stop(s.grace)
		}
		var errs []error
		for _, d := range append([]string{s.dir}, s.extra...) {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, fmt.Errorf("stop %s server: remove %s: %w", s.kind, d, err))
			}
		}
		s.stopErr = errors.Join(errs...)
		s.log.Info("database server stopped", "program", s.program, "addr", s.addr, "err", s.stopErr)
	})
	return s.stopErr
}

// flavor is one server program: how to find it and how to run it.
type flavor interface {
	// find returns the program's path or a *MissingError.
	find() (string, error)
	// start runs the server in s.dir, setting s.proc, s.addr and s.url.
	start(ctx context.Context, s *Server, opts Options) error
}

// ErrNotInstalled is matched (errors.Is) by every *MissingError.
var ErrNotInstalled = errors.New("database server program not installed")

// MissingError says which program is missing and how to install it.
type MissingError struct {
	Kind    spec.ServiceType
	Program string // what was looked for
	Install string // the command that installs it
	Detail  string // where it was looked for
}

func (e *MissingError) Error() string {
	msg := fmt.Sprintf("start %s server: %s not found", e.Kind, e.Program)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + "; install it with `" + e.Install + "`"
}

// Is makes errors.Is(err, ErrNotInstalled) true.
func (e *MissingError) Is(target error) bool { return target == ErrNotInstalled }

// sbinDirs are searched after PATH: Debian puts mariadbd in /usr/sbin,
// which is not on a normal user's PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// lookProgram finds the first of names on PATH, then in extraDirs.
func lookProgram(names []string, extraDirs []string) (string, bool) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	for _, d := range extraDirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, true
			}
		}
	}
	return "", false
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// can take it before the server binds it; launch retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// probeFunc makes one attempt at a query against the server at addr.
type probeFunc func(ctx context.Context) error

// launch starts the server on a free port and waits until probe succeeds,
// retrying with another port when the chosen one was taken meanwhile.
// args and url get the port; newProbe builds the probe for a URL.
func (s *Server) launch(ctx context.Context, opts Options, args func(port int) []string,
	url func(port int) string, newProbe func(url string) (probeFunc, func(), error)) error {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		p, err := childproc.Start(s.path, args(port), s.dir, opts.LogWriter)
		if err != nil {
			return err
		}
		s.proc = p
		s.addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.url = url(port)
		err = waitListening(ctx, p, s.addr)
		if err == nil {
			// The client is made only now: the mongo driver, for one,
			// re-checks a server that refused its first connection no
			// sooner than 500 ms later.
			var probe probeFunc
			var closeProbe func()
			if probe, closeProbe, err = newProbe(s.url); err != nil {
				p.Stop(s.grace)
				return err
			}
			err = waitReady(ctx, p, probe)
			closeProbe()
			if err == nil {
				return nil
			}
		}
		p.Stop(s.grace)
		if attempt < attempts && strings.Contains(strings.ToLower(p.Output()), "already in use") {
			s.log.Debug("port taken meanwhile, retrying", "port", port)
			continue
		}
		return err
	}
}

// waitListening polls until addr accepts TCP connections, the process
// exits, or ctx ends.
func waitListening(ctx context.Context, p *childproc.Proc, addr string) error {
	var d net.Dialer
	return poll(ctx, p, 10*time.Millisecond, "accept connections on "+addr, func(ctx context.Context) error {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
}

// waitReady polls probe until it succeeds, the process exits, or ctx ends.
func waitReady(ctx context.Context, p *childproc.Proc, probe probeFunc) error {
	return poll(ctx, p, 20*time.Millisecond, "accept queries", probe)
}

// poll calls attempt, each with a bounded time, until it succeeds, the
// process exits, or ctx ends.
func poll(ctx context.Context, p *childproc.Proc, pause time.Duration, what string, attempt func(context.Context) error) error {
	const attemptTimeout = time.Second
	for {
		if p.Exited() {
			err := p.Wait()
			if err == nil {
				err = &CommandError{Command: p.Command(), Output: p.Output(), Err: errors.New("exited with status 0")}
			}
			return fmt.Errorf("server exited before it would %s: %w", what, err)
		}
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		last := attempt(actx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server did not %s (last attempt: %v): %w\ncommand: %s\noutput:\n%s",
				what, last, ctx.Err(), p.Command(), childproc.LastLines(p.Output(), 20))
		case <-p.Done():
		case <-time.After(pause):
		}
	}
}

// runToEnd runs a set-up program (such as mariadb-install-db) in its own
// process group and waits for it; ctx ending kills the group.
func runToEnd(ctx context.Context, program string, args []string, dir string, w io.Writer) error {
	p, err := childproc.Start(program, args, dir, w)
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop(time.Second)
		return &CommandError{Command: p.Command(), Output: p.Output(), Err: ctx.Err()}
	}
	return p.Wait()
}

// CommandError is a failed database server process: the command line, the
// last of its output, and why it failed.
type CommandError = childproc.CommandError
