package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/runtime/local/jaeger"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/internal/flock"
	"golang.org/x/sync/errgroup"
)

// Name is this runtime's name in a Deployment and on the command line.
const Name = "local"

// Defaults of Options.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopGrace    = 5 * time.Second
)

// Options configure a local Runtime. The zero value is ready to use.
type Options struct {
	// RunDir holds the run's files: every instance's data directory, the
	// database servers' directories and the metrics TSDB. Default: a new
	// temporary directory that Stop removes. A given RunDir is kept.
	RunDir string
	// LogDir receives one <instance>.log per service process (stdout and
	// stderr) and one <instance>.db.log per database server. Default:
	// RunDir/logs, so give LogDir to keep the logs of a default RunDir.
	LogDir string
	// Logger receives the runtime's own events. Default: discard.
	Logger *slog.Logger

	// ServiceBinary is the service binary to run. Default: built from
	// ModuleDir and cached by content (build.Service).
	ServiceBinary string
	// ModuleDir is the source the binary is built from. Default: found by
	// build.FindModule.
	ModuleDir string

	// Cgroups says whether instances get their services' resource limits
	// through cgroups. Default CgroupsAuto.
	Cgroups CgroupMode
	// ReadyTimeout bounds the start of the whole system, from the first
	// process to the last instance answering /healthz (database servers
	// included). Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL.
	// Default DefaultStopGrace.
	StopGrace time.Duration

	// Seed is the run's seed; every instance derives its own from it and
	// its name.
	Seed int64
	// Records is the size of each storage instance's seeded dataset; 0
	// keeps the service binary's default (1,000).
	Records int
	// LegacyMetrics makes every instance also expose the original's
	// vecro_base_<system>_* series.
	LegacyMetrics bool
	// Mongo selects the MongoDB-protocol server: mongod if on PATH, else
	// FerretDB (dbserver.MongoAuto, the default).
	Mongo dbserver.MongoServer

	// ScrapeInterval is the embedded Prometheus engine's scrape interval.
	// Default metrics.DefaultScrapeInterval (1s).
	ScrapeInterval time.Duration

	// NoTracing starts no span receiver and gives the instances no OTLP
	// endpoint: they make no spans (Deployment.Traces is nil).
	NoTracing bool
	// TraceSampleRatio is the share of new traces an instance keeps (those
	// a caller started follow the caller); 0 keeps all.
	TraceSampleRatio float64
	// MaxSpans caps the span receiver's store; 0 means
	// traces.DefaultMaxSpans.
	MaxSpans int
	// Jaeger, when set, is a jaeger executable (cmd/jaeger, make jaeger):
	// the runtime runs it beside the system (package jaeger) and the span
	// receiver forwards a copy of every span there, so that a user can
	// search the traces while the system runs (Deployment.JaegerURL).
	// Datasets are still made from the receiver's own store.
	Jaeger string

	// watchdog replaces Pdeathsig by the watchdog process, as on systems
	// without Pdeathsig; for tests of that path.
	watchdog bool
}

// Runtime runs one system as local processes. Start it once; Stop it once
// or more. It implements runtime.Runtime.
type Runtime struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	started   bool
	procs     []*process
	dbs       []*dbserver.Server
	fronts    []*front
	cg        *cgroups
	limits    Limits
	spawn     *spawner
	dog       *watchdog
	embedded  *ownedSource
	promSrv   *http.Server
	spans     *traces.Receiver
	jaeger    *jaeger.Server
	jaegerLog io.Closer
	tmpRun    string // the default RunDir, removed by Stop
	// handedOver: Start returned the Deployment, whose user now owns the
	// metrics source (Close).
	handedOver bool

	failures chan error

	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{}
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a Runtime; nothing starts until Start.
func New(opts Options) (*Runtime, error) {
	if !supported {
		return nil, errors.New("the local runtime needs a Unix system (process groups and signals)")
	}
	if opts.Logger == nil {
		opts.Logger = discard
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	mode, err := ParseCgroupMode(string(opts.Cgroups))
	if err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	opts.Cgroups = mode
	if opts.Records < 0 {
		return nil, fmt.Errorf("local runtime: records %d: must not be negative", opts.Records)
	}
	if opts.ServiceBinary != "" && !build.IsExecutable(opts.ServiceBinary) {
		return nil, fmt.Errorf("local runtime: service binary %s is not an executable file", opts.ServiceBinary)
	}
	return &Runtime{opts: opts, log: opts.Logger, stopped: make(chan struct{})}, nil
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return Name }

// Limits says whether the instances' resource limits are enforced and how;
// known once Start has begun.
func (r *Runtime) Limits() Limits {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limits
}

// Start runs sys and returns once every instance answers /healthz. ctx
// bounds the deployment's whole life, as exec.CommandContext does a
// command's: when it is cancelled (a CLI's SIGINT) everything is stopped,
// as by Stop. On error everything Start began is stopped before it returns.
func (r *Runtime) Start(ctx context.Context, sys *spec.System) (dep *runtime.Deployment, err error) {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return nil, errors.New("local runtime: Start called twice: use one Runtime per deployment")
	}
	r.started = true
	r.mu.Unlock()

	if sys == nil {
		return nil, errors.New("local runtime: start: no system")
	}
	if err := sys.Validate(); err != nil {
		return nil, fmt.Errorf("local runtime: start system %s: %w", sys.Name, err)
	}
	defer func() {
		if p := recover(); p != nil {
			r.Stop(context.Background())
			panic(p)
		}
		if err != nil {
			err = fmt.Errorf("local runtime: start system %s: %w", sys.Name, err)
			if serr := r.Stop(context.Background()); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()

	t0 := time.Now()
	bin := r.opts.ServiceBinary
	if bin == "" {
		if bin, err = build.Service(ctx, r.opts.ModuleDir, build.Target{}, r.log); err != nil {
			return nil, err
		}
	}
	tBin := time.Now()

	// Hold the machine's port lock from drawing ports until every instance
	// has bound its own (it is ready), so that no other runtime draws them.
	unlock, err := flock.Lock(ctx, portLock())
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", portLock(), err)
	}
	var unlockOnce sync.Once
	unlockPorts := func() { unlockOnce.Do(unlock) }
	defer unlockPorts()
	p, err := newPlan(sys, r.opts.Seed)
	if err != nil {
		return nil, err
	}
	// From here Stop owns the fronts' listeners.
	for _, s := range p.services {
		if s.front != nil {
			backends := make([]string, len(s.instances))
			for i, in := range s.instances {
				backends[i] = in.listen
			}
			r.addFront(newFront(s.spec.Name, s.front, backends, r.log))
		}
	}

	sweepTemp(r.log)
	runID := randomHex(4)
	runDir, logDir, err := r.dirs(sys.Name)
	if err != nil {
		return nil, err
	}
	token := randomHex(32)
	if err := r.setupLimits(runID); err != nil {
		return nil, err
	}
	if err := r.setupSpawner(); err != nil {
		return nil, err
	}
	r.failures = make(chan error, len(p.instances())*2+1)
	if !r.opts.NoTracing {
		ro := traces.ReceiverOptions{MaxSpans: r.opts.MaxSpans, Logger: r.log}
		if r.opts.Jaeger != "" {
			js, err := r.startJaeger(ctx, logDir)
			if err != nil {
				return nil, err
			}
			ro.Forward = js.OTLPURL()
		}
		rcv, err := traces.StartReceiver("127.0.0.1:0", ro)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.spans = rcv
		r.mu.Unlock()
	}

	// The deployment lives as long as ctx: a cancelled ctx stops it all.
	go func() {
		select {
		case <-ctx.Done():
			r.log.Info("context ended: stopping the deployment", "system", sys.Name, "cause", context.Cause(ctx))
			r.Stop(context.Background())
		case <-r.stopped:
		}
	}()

	ready, cancel := context.WithTimeoutCause(ctx, r.opts.ReadyTimeout,
		fmt.Errorf("system %s not ready within %s (Options.ReadyTimeout)", sys.Name, r.opts.ReadyTimeout))
	defer cancel()
	g, gctx := errgroup.WithContext(ready)
	for _, in := range p.instances() {
		g.Go(func() error {
			return r.startInstance(gctx, p, in, bin, token, runDir, logDir)
		})
	}
	err = g.Wait()
	unlockPorts()
	if err != nil {
		if c := context.Cause(ready); c != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, c
		}
		return nil, err
	}
	tReady := time.Now()

	dep = &runtime.Deployment{
		Runtime:   Name,
		System:    sys.Name,
		Namespace: sys.Namespace,
		Created:   time.Now().UTC(),
		PID:       os.Getpid(),
		Failures:  r.failures,
	}
	var targets []metrics.Target
	var logFiles logs.Files
	for _, s := range p.services {
		svc := runtime.Service{Name: s.spec.Name, Type: s.spec.Type, URL: s.url()}
		for _, in := range s.instances {
			logFiles = append(logFiles, filepath.Join(logDir, in.name+".log"))
			svc.Instances = append(svc.Instances, runtime.Instance{
				Name: in.name,
				Agent: agent.Endpoint{
					Instance: in.name,
					Service:  s.spec.Name,
					URL:      "http://" + in.admin,
					Token:    token,
				},
			})
			targets = append(targets, metrics.Target{
				URL: "http://" + in.admin + "/metrics",
				Labels: map[string]string{
					"system":   sys.Name,
					"service":  s.spec.Name,
					"instance": in.name,
					"job":      metrics.DefaultJob,
				},
			})
		}
		dep.Services = append(dep.Services, svc)
	}
	src, promURL, err := r.startMetrics(targets)
	if err != nil {
		return nil, err
	}
	dep.Metrics, dep.PrometheusURL, dep.Monitoring = src, promURL, "embedded"
	dep.Logs = logFiles
	if rcv := r.receiver(); rcv != nil {
		dep.Traces, dep.OTLPEndpoint = rcv, rcv.URL()
	}
	r.mu.Lock()
	if r.jaeger != nil {
		dep.JaegerURL = r.jaeger.QueryURL()
	}
	r.mu.Unlock()
	dep.Isolation = r.Limits().isolation()
	r.mu.Lock()
	r.handedOver = true
	r.mu.Unlock()
	r.log.Info("system ready", "system", sys.Name, "instances", len(p.instances()),
		"took", time.Since(t0).Round(time.Millisecond),
		"binary", tBin.Sub(t0).Round(time.Millisecond),
		"processes", tReady.Sub(tBin).Round(time.Millisecond),
		"limits", r.limits.How, "logs", logDir)
	return dep, nil
}

// dirs creates the run and log directories.
func (r *Runtime) dirs(system string) (runDir, logDir string, err error) {
	runDir = r.opts.RunDir
	if runDir == "" {
		if runDir, err = mkTemp(system); err != nil {
			return "", "", fmt.Errorf("create run directory: %w", err)
		}
		r.mu.Lock()
		r.tmpRun = runDir
		r.mu.Unlock()
	} else if err := os.MkdirAll(runDir, 0o755); err != nil {
		return "", "", fmt.Errorf("create run directory: %w", err)
	}
	logDir = r.opts.LogDir
	if logDir == "" {
		logDir = filepath.Join(runDir, "logs")
	}
	for _, d := range []string{logDir, filepath.Join(runDir, "data"), filepath.Join(runDir, "db")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", fmt.Errorf("create run directory: %w", err)
		}
	}
	return runDir, logDir, nil
}

// setupLimits prepares the run's cgroups as Options.Cgroups says.
func (r *Runtime) setupLimits(runID string) error {
	var lim Limits
	switch r.opts.Cgroups {
	case CgroupsOff:
		lim.How = "not enforced: cgroups are off (GOMAXPROCS set from each CPU limit)"
	default:
		cg, err := newCgroups(runID, r.log)
		if err != nil {
			var no errNoCgroups
			if r.opts.Cgroups == CgroupsOn || !errors.As(err, &no) {
				return fmt.Errorf("resource limits: %w", err)
			}
			lim.How = "not enforced: " + err.Error() + " (GOMAXPROCS set from each CPU limit)"
			r.log.Warn("resource limits are not enforced", "reason", err.Error())
		} else {
			lim = Limits{Enforced: true, How: cg.describe()}
			r.mu.Lock()
			r.cg = cg
			r.mu.Unlock()
		}
	}
	r.mu.Lock()
	r.limits = lim
	r.mu.Unlock()
	return nil
}

// setupSpawner starts the forking thread and, where there is no Pdeathsig,
// the watchdog.
func (r *Runtime) setupSpawner() error {
	var dog *watchdog
	if !hasPdeathsig || r.opts.watchdog {
		var err error
		if dog, err = startWatchdog(); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.spawn = newSpawner()
	r.dog = dog
	r.mu.Unlock()
	return nil
}

// startMetrics creates the embedded Prometheus engine, gives it every
// instance's /metrics and serves its HTTP API on a loopback port. The TSDB
// lives in a temporary directory of its own, not in the run's, because the
// source outlives Stop (a dataset is often written after the system
// stopped); the source's Close, which its user calls, removes it.
func (r *Runtime) startMetrics(targets []metrics.Target) (metrics.Source, string, error) {
	dir, err := mkTemp("tsdb")
	if err != nil {
		return nil, "", fmt.Errorf("start the embedded metrics: %w", err)
	}
	e, err := metrics.NewEmbedded(metrics.EmbeddedOptions{
		Dir:            dir,
		ScrapeInterval: r.opts.ScrapeInterval,
		Logger:         r.log,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("start the embedded metrics: %w", err)
	}
	src := ownedSource{Embedded: e, dir: dir}
	r.mu.Lock()
	r.embedded = &src
	r.mu.Unlock()
	if err := e.SetTargets(targets); err != nil {
		return nil, "", fmt.Errorf("start the embedded metrics: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("serve the embedded metrics: %w", err)
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.promSrv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
	return src, "http://" + ln.Addr().String(), nil
}

// receiver is the span receiver, nil with tracing off.
func (r *Runtime) receiver() *traces.Receiver {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans
}

// startJaeger runs Jaeger for Options.Jaeger, its output in logDir; Stop
// ends it.
func (r *Runtime) startJaeger(ctx context.Context, logDir string) (*jaeger.Server, error) {
	lf, err := openLog(filepath.Join(logDir, "jaeger.log"))
	if err != nil {
		return nil, err
	}
	js, err := jaeger.Start(ctx, jaeger.Options{Binary: r.opts.Jaeger, Log: lf, Logger: r.log})
	if err != nil {
		lf.Close()
		return nil, err
	}
	r.mu.Lock()
	r.jaeger, r.jaegerLog = js, lf
	r.mu.Unlock()
	return js, nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

// discard is the default logger: library code says nothing unless asked.
var discard = slog.New(slog.DiscardHandler)
