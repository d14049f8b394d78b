package local

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/spec"
)

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
