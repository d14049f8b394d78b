package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
)

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
	// After the receiver, which forwarded its last copies to it.
	r.mu.Lock()
	js, jlog := r.jaeger, r.jaegerLog
	r.mu.Unlock()
	if js != nil {
		js.Stop()
		jlog.Close()
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
