package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
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
	// ModuleDir and cached by content (BuildService).
	ServiceBinary string
	// ModuleDir is the source the binary is built from. Default: found by
	// FindModule.
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

	// watchdog replaces Pdeathsig by the watchdog process, as on systems
	// without Pdeathsig; for tests of that path.
	watchdog bool
}

// Runtime runs one system as local processes. Start it once; Stop it once
// or more. It implements runtime.Runtime.
type Runtime struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	started  bool
	procs    []*process
	dbs      []*dbserver.Server
	fronts   []*front
	cg       *cgroups
	limits   Limits
	spawn    *spawner
	dog      *watchdog
	embedded *ownedSource
	promSrv  *http.Server
	spans    *traces.Receiver
	tmpRun   string // the default RunDir, removed by Stop
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
	if opts.ServiceBinary != "" && !isExecutable(opts.ServiceBinary) {
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
		if bin, err = BuildService(ctx, r.opts.ModuleDir, r.log); err != nil {
			return nil, err
		}
	}
	tBin := time.Now()

	// Hold the machine's port lock from drawing ports until every instance
	// has bound its own (it is ready), so that no other runtime draws them.
	unlock, err := lockFile(ctx, portLock())
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
		rcv, err := traces.StartReceiver("127.0.0.1:0", traces.ReceiverOptions{MaxSpans: r.opts.MaxSpans, Logger: r.log})
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

// startInstance starts one instance (after its database server, for a
// storage type) and waits until it is ready.
func (r *Runtime) startInstance(ctx context.Context, p *plan, in *instancePlan, bin, token, runDir, logDir string) error {
	s := in.service
	var dbURL string
	if s.spec.Type.IsStorage() {
		db, err := r.startDB(ctx, in, runDir, logDir)
		if err != nil {
			return err
		}
		dbURL = db.URL()
	}
	dataDir := filepath.Join(runDir, "data", in.name)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("instance %s: %w", in.name, err)
	}
	contract := runtime.Contract(p.system, &s.spec, p.seed, r.opts.LegacyMetrics)
	contract.Instance, contract.Listen, contract.AdminListen, contract.DataDir = in.name, in.listen, in.admin, dataDir
	for _, c := range s.spec.Calls {
		contract.Calls = append(contract.Calls, service.Call{Name: c, URL: p.byName[c].url()})
	}
	if dbURL != "" {
		contract.DB, contract.Records = dbURL, r.opts.Records
	}
	if rcv := r.receiver(); rcv != nil {
		contract.OTLPEndpoint, contract.TraceSampleRatio = rcv.URL(), r.opts.TraceSampleRatio
	}
	args := contract.Args()
	env := childEnv(os.Environ(), "VECRO_TOKEN="+token)
	if !r.limits.Enforced {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(int(math.Ceil(s.cpu.Cores()))))
	}
	proc, err := r.spawnProcess(in.name, s.spec.Name, bin, args, env, filepath.Join(logDir, in.name+".log"), s)
	if err != nil {
		return err
	}
	return r.waitReady(ctx, proc, in)
}

// childEnv is the parent's environment without any VECRO_* variable (a
// stray VECRO_LISTEN in the user's shell must not reconfigure every
// instance) and without GOMAXPROCS, plus extra.
func childEnv(parent []string, extra ...string) []string {
	out := make([]string, 0, len(parent)+len(extra))
	for _, kv := range parent {
		if strings.HasPrefix(kv, "VECRO_") || strings.HasPrefix(kv, "GOMAXPROCS=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// startDB starts the database server beside one storage instance (each
// instance has its own, as each pod had its own database container).
func (r *Runtime) startDB(ctx context.Context, in *instancePlan, runDir, logDir string) (*dbserver.Server, error) {
	logPath := filepath.Join(logDir, in.name+".db.log")
	lf, err := openLog(logPath)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.name, err)
	}
	db, err := dbserver.Start(ctx, in.service.spec.Type, dbserver.Options{
		Dir:       filepath.Join(runDir, "db"),
		Logger:    r.log.With("instance", in.name),
		LogWriter: lf,
		Mongo:     r.opts.Mongo,
		StopGrace: r.opts.StopGrace,
	})
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("instance %s: %w", in.name, err)
	}
	if !r.addDB(db) {
		db.Stop()
		lf.Close()
		return nil, errSpawnerClosed
	}
	r.mu.Lock()
	cg := r.cg
	r.mu.Unlock()
	if cg != nil {
		// The storage service's size is the definition's only word on its
		// database's; the limit is the Kubernetes runtime's sidecar limit.
		if err := cg.adopt(in.name+"-db", db.Pid(), in.service.cpu, dbCPULimit); err != nil {
			return nil, fmt.Errorf("instance %s: database server: %w", in.name, err)
		}
	}
	go func() {
		<-db.Done()
		lf.Close()
		if !r.stopping.Load() {
			r.fail(fmt.Errorf("database server %s of instance %s ended unexpectedly: %w (log %s)",
				db.Program(), in.name, db.Err(), logPath))
		}
	}()
	return db, nil
}

// dbCPULimit is a database server's CPU limit, the Kubernetes runtime's for
// its database sidecar.
const dbCPULimit spec.MilliCPU = 1000

// spawnProcess starts a child in its own process group from the spawner's
// thread, puts it in its cgroup, and watches for its end.
func (r *Runtime) spawnProcess(name, service, bin string, args, env []string, logPath string, s *servicePlan) (*process, error) {
	var slot *cgroupSlot
	r.mu.Lock()
	cg, spawn, dog := r.cg, r.spawn, r.dog
	r.mu.Unlock()
	if cg != nil {
		var err error
		if slot, err = cg.slot(name, s.cpu, s.memory); err != nil {
			return nil, fmt.Errorf("instance %s: %w", name, err)
		}
	}
	lf, err := openLog(logPath)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", name, err)
	}
	path, argv := bin, args
	if slot != nil {
		path, argv = slot.command(bin, args)
	}
	cmd := exec.Command(path, argv...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr(dog == nil)
	proc := &process{name: name, service: service, cmd: cmd, logPath: logPath, log: lf, done: make(chan struct{}), slot: slot, memory: s.memory}
	if err := spawn.start(cmd); err != nil {
		lf.Close()
		return nil, fmt.Errorf("instance %s: start %s: %w", name, bin, err)
	}
	proc.started = time.Now()
	proc.pgid = cmd.Process.Pid
	if !r.addProc(proc) {
		// Stop began meanwhile and will not see this one: end it here.
		proc.expected.Store(true)
		signalGroup(proc.pgid, sigKill)
	}
	go func() {
		err := cmd.Wait()
		proc.state = cmd.ProcessState
		// Whatever the leader left in its group goes with it.
		signalGroup(proc.pgid, sigKill)
		lf.Close()
		close(proc.done)
		if err != nil && proc.state == nil {
			r.log.Warn("wait for process", "instance", name, "err", err)
		}
		if !proc.expected.Load() && !r.stopping.Load() {
			r.fail(proc.death())
		}
	}()
	if dog != nil {
		if err := dog.watch(proc.pgid); err != nil {
			return nil, fmt.Errorf("instance %s: %w", name, err)
		}
	}
	r.log.Debug("started", "instance", name, "pid", proc.pgid, "args", args)
	return proc, nil
}

// waitReady polls the instance's /healthz until it answers 200 and its
// service port accepts connections, the process ends, or ctx ends.
func (r *Runtime) waitReady(ctx context.Context, proc *process, in *instancePlan) error {
	client := &http.Client{Timeout: time.Second}
	url := "http://" + in.admin + "/healthz"
	pause := 5 * time.Millisecond
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c, err := net.DialTimeout("tcp", in.listen, time.Second)
				if err == nil {
					c.Close()
					return nil
				}
				last = fmt.Errorf("service port %s: %w", in.listen, err)
			} else {
				last = fmt.Errorf("GET %s: %s", url, resp.Status)
			}
		} else {
			last = err
		}
		select {
		case <-proc.done:
			return proc.death()
		case <-ctx.Done():
			return fmt.Errorf("instance %s not ready: %w (last: %v; log %s)", in.name, context.Cause(ctx), last, proc.logPath)
		case <-time.After(pause):
		}
		pause = min(pause*2, 100*time.Millisecond)
	}
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

// fail records an unexpected death and hands it to whoever watches.
func (r *Runtime) fail(err error) {
	r.log.Error("deployment failure", "err", err)
	select {
	case r.failures <- err:
	default: // the buffer holds one per process; more is a bug, not a block
	}
}

func (r *Runtime) addProc(p *process) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping.Load() {
		return false
	}
	r.procs = append(r.procs, p)
	return true
}

func (r *Runtime) addDB(db *dbserver.Server) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping.Load() {
		return false
	}
	r.dbs = append(r.dbs, db)
	return true
}

func (r *Runtime) addFront(f *front) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fronts = append(r.fronts, f)
}

// Stop ends every process of the deployment (SIGTERM to each process
// group, SIGKILL after Options.StopGrace or when ctx ends), the database
// servers, the fronts and the metrics engine, then removes the run's
// cgroups and default RunDir. It is safe to call more than once and
// concurrently; every call waits for the first and returns its result.
func (r *Runtime) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() {
		r.stopErr = r.stop(ctx)
		close(r.stopped)
	})
	<-r.stopped
	return r.stopErr
}

func (r *Runtime) stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopping.Store(true)
	procs, dbs, fronts := r.procs, r.dbs, r.fronts
	cg, spawn, dog := r.cg, r.spawn, r.dog
	e, srv, tmp, handedOver, spans := r.embedded, r.promSrv, r.tmpRun, r.handedOver, r.spans
	r.mu.Unlock()

	var errs []error
	if srv != nil {
		srv.Close()
	}
	switch {
	case e != nil && handedOver:
		// The source stops scraping now; its data stays queryable until
		// Close, which the deployment's user owns (Deployment.Metrics). A
		// source the user closed already scrapes nothing.
		if err := e.SetTargets(nil); err != nil {
			r.log.Debug("stop scraping", "err", err)
		}
	case e != nil:
		if err := e.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the embedded metrics: %w", err))
		}
	}
	for _, f := range fronts {
		f.close()
	}

	// Every instance at once, so that the grace period runs once, not
	// once per process; the databases after them, so that no instance
	// sees its database vanish while it still serves.
	for _, p := range procs {
		p.expected.Store(true)
		if err := signalGroup(p.pgid, sigTerm); err != nil {
			errs = append(errs, fmt.Errorf("stop instance %s: %w", p.name, err))
		}
	}
	grace := time.NewTimer(r.opts.StopGrace)
	defer grace.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-grace.C:
		case <-ctx.Done():
		}
		if !p.exited() {
			break
		}
	}
	for _, p := range procs {
		if !p.exited() {
			r.log.Warn("instance did not stop in time: killing it", "instance", p.name, "grace", r.opts.StopGrace)
			signalGroup(p.pgid, sigKill)
		}
	}
	for _, p := range procs {
		<-p.done
	}
	// After the instances, which flush their last spans as they stop; the
	// spans stay readable.
	if spans != nil {
		if err := spans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the span receiver: %w", err))
		}
	}

	var wg sync.WaitGroup
	dbErrs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbErrs[i] = db.Stop()
		}()
	}
	wg.Wait()
	errs = append(errs, dbErrs...)

	if cg != nil {
		cg.remove()
	}
	if dog != nil {
		dog.close()
	}
	if spawn != nil {
		spawn.close()
	}
	if tmp != "" {
		if err := os.RemoveAll(tmp); err != nil {
			errs = append(errs, fmt.Errorf("remove run directory: %w", err))
		}
	}
	r.log.Info("deployment stopped", "processes", len(procs), "databases", len(dbs))
	return errors.Join(errs...)
}

// receiver is the span receiver, nil with tracing off.
func (r *Runtime) receiver() *traces.Receiver {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}
