package faultagent

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vecrosim/vecro/framework/agent"
)

// Options configure an Agent.
type Options struct {
	// Token is the bearer token every fault call must carry. Empty means the
	// fault API refuses every call: an agent without a token is switched off,
	// never open.
	Token string
	// Seed is the instance's seed. Every fault's draws come from a PCG
	// source seeded by the fault's seed and this seed mixed with the fault's
	// id, so they are a function of those three and of nothing else.
	Seed int64
	// DataDir is where io-stress writes its files; empty means os.TempDir().
	DataDir string
	// Registerer receives the vecro_fault_* collector; nil means no metrics.
	Registerer prometheus.Registerer
	// Logger receives the agent's log; nil means none.
	Logger *slog.Logger
	// ConstLabels are added to every metric the agent exports (vecro_system,
	// vecro_service, vecro_instance).
	ConstLabels prometheus.Labels
}

// Agent holds the faults of one service instance and the proxies and
// middleware through which they act. Its methods are safe for concurrent use.
type Agent struct {
	token   string
	seed    int64
	dataDir string
	log     *slog.Logger

	reg       prometheus.Registerer
	collector prometheus.Collector

	// clock holds chunks in the toxics (see preciseClock).
	clock sleeper

	// tp is the Toxiproxy server value that its proxies require (for their
	// logger and metrics container); its HTTP API is never started.
	tp *toxiproxy.ApiServer

	mu      sync.Mutex
	closed  bool
	faults  map[string]*entry
	proxies map[linkName]*proxyLink

	// aborts is the list of active http-abort behaviours, read lock-free on
	// every request so that the middleware costs one atomic load when no
	// fault is active.
	aborts atomic.Pointer[[]*httpAbort]

	// active names the faults switched on (their definitions' names,
	// sorted, each once), read lock-free by every request's server span.
	active atomic.Pointer[[]string]

	// traceDelay, when set (by tests, before the fault is pushed), sees the
	// first chunk of every burst a net-delay fault delayed, the delay drawn
	// for it and the delay it really got, so that a benchmark can pair
	// requests with draws.
	traceDelay func(id string, first []byte, drawn, added time.Duration)
}

// entry is one fault on this agent. Its fields below trans are guarded by
// Agent.mu; trans serialises the slow switch-on and switch-off of the
// behaviour.
type entry struct {
	trans sync.Mutex

	fault     agent.Fault
	behaviour behaviour
	scope     string

	phase        agent.Phase
	appliedStart *time.Time
	appliedEnd   *time.Time
	err          string
	startTimer   *time.Timer
	endTimer     *time.Timer
}

// New returns an agent with no faults. It starts nothing: the caller mounts
// Handler and Middleware, serves the service port through WrapIngress (or
// ServeIngress) and calls FrontDB for storage types.
func New(opts Options) (*Agent, error) {
	registerToxics()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = os.TempDir()
	}
	a := &Agent{
		token:   opts.Token,
		seed:    opts.Seed,
		dataDir: dataDir,
		log:     log,
		reg:     opts.Registerer,
		tp:      toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		faults:  map[string]*entry{},
		proxies: map[linkName]*proxyLink{},
		clock:   newSleeper(),
	}
	if opts.Token == "" {
		log.Warn("fault agent has no token: every fault call will be refused")
	}
	if a.reg != nil {
		c := newCollector(a, opts.ConstLabels)
		if err := a.reg.Register(c); err != nil {
			a.clock.close()
			return nil, fmt.Errorf("register fault agent metrics: %w", err)
		}
		a.collector = c
	}
	return a, nil
}

// Close switches every fault off (phase cancelled), stops the proxies and
// unregisters the metrics. It is safe to call more than once.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	entries := slices.Collect(maps.Values(a.faults))
	a.mu.Unlock()

	for _, e := range entries {
		a.finish(e, agent.PhaseCancelled)
	}

	a.mu.Lock()
	proxies := slices.Collect(maps.Values(a.proxies))
	a.proxies = map[linkName]*proxyLink{}
	a.mu.Unlock()
	for _, p := range proxies {
		p.stop()
	}
	a.clock.close()
	if a.collector != nil {
		a.reg.Unregister(a.collector)
	}
	return nil
}

// conflictError is a push that contradicts the agent's state (409), as
// opposed to bad input (400).
type conflictError struct{ error }

func conflictf(format string, args ...any) error {
	return conflictError{fmt.Errorf(format, args...)}
}

// put adds a fault, or confirms an identical one. It reports whether the
// fault is new. A conflictError is a conflict; others are bad
// input.
func (a *Agent) put(f agent.Fault) (agent.Status, bool, error) {
	params, err := compactParams(f.Params)
	if err != nil {
		return agent.Status{}, false, fmt.Errorf("fault %q: params of %s: %w", f.ID, f.Behavior, err)
	}
	f.Params = params
	f.Start, f.End = f.Start.Round(0), f.End.Round(0)

	// A repeat of a fault the agent already has is answered with its
	// status, whatever its phase: a harness retrying a push must not get an
	// error because the fault has meanwhile run.
	a.mu.Lock()
	if old, ok := a.faults[f.ID]; ok {
		st := a.statusLocked(old)
		a.mu.Unlock()
		if sameFault(old.fault, f) {
			return st, false, nil
		}
		if !terminal(st.Phase) {
			return agent.Status{}, false, conflictf("fault %q is already %s with a different body (DELETE it first)", f.ID, st.Phase)
		}
	} else {
		a.mu.Unlock()
	}

	if err := checkWindow(f, time.Now()); err != nil {
		return agent.Status{}, false, err
	}
	k, ok := kinds[f.Behavior]
	if !ok {
		return agent.Status{}, false, fmt.Errorf("fault %q: unknown behavior %q (known: %s)", f.ID, f.Behavior, knownKinds())
	}

	// Parsing may look at the proxies and the file system; do it unlocked,
	// then re-check everything under the lock before inserting.
	b, scope, err := k.parse(a, f)
	if err != nil {
		return agent.Status{}, false, fmt.Errorf("fault %q: %s: %w", f.ID, f.Behavior, err)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return agent.Status{}, false, conflictf("fault %q: agent is closed", f.ID)
	}
	if old, ok := a.faults[f.ID]; ok {
		if sameFault(old.fault, f) {
			return a.statusLocked(old), false, nil
		}
		if !terminal(old.phase) {
			return agent.Status{}, false, conflictf("fault %q is already %s with a different body (DELETE it first)", f.ID, old.phase)
		}
	}
	for _, o := range a.faults {
		if o.fault.ID == f.ID || terminal(o.phase) || o.scope != scope {
			continue
		}
		if f.Start.Before(o.fault.End) && o.fault.Start.Before(f.End) {
			return agent.Status{}, false, conflictf("fault %q (%s, %s–%s) overlaps fault %q (%s–%s) of the same behaviour on the same link",
				f.ID, scope, stamp(f.Start), stamp(f.End), o.fault.ID, stamp(o.fault.Start), stamp(o.fault.End))
		}
	}
	e := &entry{fault: f, behaviour: b, scope: scope, phase: agent.PhasePending}
	a.faults[f.ID] = e
	e.startTimer = time.AfterFunc(time.Until(f.Start), func() { a.activate(e) })
	e.endTimer = time.AfterFunc(time.Until(f.End), func() { a.finish(e, agent.PhaseDone) })
	a.log.Info("fault scheduled", "id", f.ID, "behavior", f.Behavior, "start", f.Start, "end", f.End)
	return a.statusLocked(e), true, nil
}

// checkWindow rejects windows the agent could never apply.
func checkWindow(f agent.Fault, now time.Time) error {
	switch {
	case f.Start.IsZero() || f.End.IsZero():
		return fmt.Errorf("fault %q: start and end are both required (RFC 3339)", f.ID)
	case !f.End.After(f.Start):
		return fmt.Errorf("fault %q: end %s is not after start %s", f.ID, stamp(f.End), stamp(f.Start))
	case !f.End.After(now):
		return fmt.Errorf("fault %q: end %s is in the past (agent clock %s)", f.ID, stamp(f.End), stamp(now))
	}
	return nil
}

// activate switches a pending fault on.
func (a *Agent) activate(e *entry) {
	e.trans.Lock()
	defer e.trans.Unlock()
	a.mu.Lock()
	if e.phase != agent.PhasePending {
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()

	fired := time.Now()
	err := e.behaviour.start()
	now := time.Now()

	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		e.phase = agent.PhaseDone
		e.err = err.Error()
		e.endTimer.Stop()
		a.log.Error("fault could not be switched on", "id", e.fault.ID, "behavior", e.fault.Behavior, "err", err)
		return
	}
	e.phase = agent.PhaseActive
	e.appliedStart = &now
	a.publishActiveLocked()
	a.log.Info("fault on", "id", e.fault.ID, "behavior", e.fault.Behavior,
		"timer_late", fired.Sub(e.fault.Start), "switch_on", now.Sub(fired))
}

// finish ends a fault with the given terminal phase, switching it off if it
// is on. It returns once the behaviour is gone; the phase changes only then,
// together with the applied end, so a terminal phase always comes with its
// applied window.
func (a *Agent) finish(e *entry, phase agent.Phase) {
	e.trans.Lock()
	defer e.trans.Unlock()
	a.mu.Lock()
	e.startTimer.Stop()
	e.endTimer.Stop()
	prev := e.phase
	if terminal(prev) || prev != agent.PhaseActive {
		if !terminal(prev) {
			e.phase = phase
		}
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()

	fired := time.Now()
	e.behaviour.stop()
	now := time.Now()
	a.mu.Lock()
	e.phase = phase
	e.appliedEnd = &now
	a.publishActiveLocked()
	a.mu.Unlock()
	a.log.Info("fault off", "id", e.fault.ID, "behavior", e.fault.Behavior, "phase", phase,
		"timer_late", fired.Sub(e.fault.End), "switch_off", now.Sub(fired))
}

// Active returns the names of the faults that are on, sorted; nil when
// none is. The slice is shared: do not modify it.
func (a *Agent) Active() []string {
	if p := a.active.Load(); p != nil {
		return *p
	}
	return nil
}

// publishActiveLocked recomputes Active's list; a.mu is held.
func (a *Agent) publishActiveLocked() {
	var names []string
	for _, e := range a.faults {
		if e.phase != agent.PhaseActive {
			continue
		}
		name := e.fault.Fault
		if name == "" {
			name = e.fault.ID
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		a.active.Store(nil)
		return
	}
	slices.Sort(names)
	a.active.Store(&names)
}

// remove cancels a fault and forgets it, returning its final status.
func (a *Agent) remove(id string) (agent.Status, bool) {
	a.mu.Lock()
	e, ok := a.faults[id]
	a.mu.Unlock()
	if !ok {
		return agent.Status{}, false
	}
	a.finish(e, agent.PhaseCancelled)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.faults[id] == e {
		delete(a.faults, id)
	}
	return a.statusLocked(e), true
}

// clear cancels and forgets every fault.
func (a *Agent) clear() []agent.Status {
	a.mu.Lock()
	ids := slices.Sorted(maps.Keys(a.faults))
	a.mu.Unlock()
	out := []agent.Status{}
	for _, id := range ids {
		if st, ok := a.remove(id); ok {
			out = append(out, st)
		}
	}
	return out
}

// list returns every fault's status, sorted by start then id.
func (a *Agent) list() []agent.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]agent.Status, 0, len(a.faults))
	for _, e := range a.faults {
		out = append(out, a.statusLocked(e))
	}
	slices.SortFunc(out, func(x, y agent.Status) int {
		if c := x.Start.Compare(y.Start); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out
}

// get returns one fault's status.
func (a *Agent) get(id string) (agent.Status, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.faults[id]
	if !ok {
		return agent.Status{}, false
	}
	return a.statusLocked(e), true
}

func (a *Agent) statusLocked(e *entry) agent.Status {
	st := agent.Status{Fault: e.fault, Phase: e.phase, Error: e.err}
	if e.appliedStart != nil {
		t := *e.appliedStart
		st.AppliedStart = &t
	}
	if e.appliedEnd != nil {
		t := *e.appliedEnd
		st.AppliedEnd = &t
	}
	st.Effect = e.behaviour.effect()
	return st
}

func terminal(p agent.Phase) bool { return p == agent.PhaseDone || p == agent.PhaseCancelled }

func sameFault(x, y agent.Fault) bool {
	return x.ID == y.ID && x.Fault == y.Fault && x.Behavior == y.Behavior &&
		x.Start.Equal(y.Start) && x.End.Equal(y.End) && x.Seed == y.Seed &&
		string(x.Params) == string(y.Params)
}

func stamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// seedFor returns the two PCG seeds of a fault: its own seed and the
// instance's, with the fault id hashed in so that two behaviours of one
// fault (same seed) still draw independently.
func (a *Agent) seedFor(f agent.Fault) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(f.ID))
	return uint64(f.Seed), uint64(a.seed) ^ h.Sum64()
}
