package faultagent

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// cpu-stress: workers each busy load percent of the time, computing with a
// method.
//
// Model. Each worker is a goroutine locked to its own OS thread. Time is cut
// into 100 ms slices of wall-clock time; in each slice the worker computes
// for load% of the slice and sleeps for the rest (as stress-ng --cpu-load
// does), so one worker at load 50 keeps about half a core busy when the
// machine has room. Workers default to GOMAXPROCS, so load is then the share
// of the process's cores.
//
// Switch-off. A worker checks for the end after every kernel call (a few
// microseconds), not once per slice: a slice is up to 100 ms of computing,
// which made the fault end 90–160 ms after its plan. It also yields its P
// every yieldEvery of computing, so the agent's end timer and the service's
// own goroutines get one within a millisecond instead of after the Go
// runtime's 10 ms preemption; the OS thread stays with the worker. What
// remains is the kernel not running the process at all, which the embedded
// runtime bounds with a 10 ms CFS period (see framework/runtime/local).
//
// Priority. The workers run at the service's own priority: in a container,
// stress-ng beside the service competes with it at the same nice level in
// the same cgroup, and so do these threads, within the same CPU limit.
//
// Methods: sqrt (square roots of pseudo-random
// numbers, the original workload's kernel; the default, behavior.CPUMethods[0]),
// int64 (64-bit
// integer mixing), float (floating-point multiply, add and divide),
// matrixprod (8×8 matrix products). Units: load 0–100 (more than 0), workers
// a count.
//
// Effect: cpu_seconds, the CPU time the workers' threads really got (from
// getrusage(RUSAGE_THREAD), so it is less than the wall-clock busy time when
// the machine is saturated or the cgroup throttles), and workers.
type cpuStress struct {
	load    float64
	workers int
	kernel  func(x *uint64) float64

	stopCh  chan struct{}
	stopped atomic.Bool
	wg      sync.WaitGroup
	cpuNs   atomic.Int64
}

const (
	cpuSlice = 100 * time.Millisecond
	// yieldEvery is how long a worker computes before letting the Go
	// scheduler run someone else on its P.
	yieldEvery = time.Millisecond
)

// cpuKernels are the cpu-stress methods; each call is a few microseconds of
// work, so the worker checks the clock often enough to keep its slices.
var cpuKernels = map[string]func(x *uint64) float64{
	"sqrt":       kernelSqrt,
	"int64":      kernelInt64,
	"float":      kernelFloat,
	"matrixprod": kernelMatrixProd,
}

func parseCPUStress(_ *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.CPUStress
	if err := decodeParams(f.Params, &p); err != nil {
		return nil, "", err
	}
	method := cmp.Or(p.Method, behavior.CPUMethods[0])
	kernel, ok := cpuKernels[method]
	if !ok {
		// Validate knows the method; this agent has no kernel for it.
		return nil, "", fmt.Errorf("method %q: this agent has no kernel for it", method)
	}
	workers := p.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &cpuStress{load: p.Load.Fraction(), workers: workers, kernel: kernel}, f.Behavior, nil
}

func (c *cpuStress) start() error {
	c.stopCh = make(chan struct{})
	c.wg.Add(c.workers)
	for i := range c.workers {
		go c.work(uint64(i) + 1)
	}
	return nil
}

func (c *cpuStress) stop() {
	c.stopped.Store(true)
	close(c.stopCh)
	c.wg.Wait()
}

func (c *cpuStress) effect() map[string]float64 {
	return map[string]float64{
		"cpu_seconds": float64(c.cpuNs.Load()) / 1e9,
		"workers":     float64(c.workers),
	}
}

// cpuSink keeps the kernels' results observable so the compiler cannot
// drop the work.
var cpuSink atomic.Uint64

func (c *cpuStress) work(seed uint64) {
	defer c.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	busy := time.Duration(c.load * float64(cpuSlice))
	x := seed
	var sink float64
	last, measured := threadCPU()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer func() { cpuSink.Store(math.Float64bits(sink)) }()
	for slice := time.Now(); ; slice = slice.Add(cpuSlice) {
		// A worker that fell more than a slice behind (descheduled) starts
		// afresh rather than bursting to catch up.
		if now := time.Now(); now.Sub(slice) > cpuSlice {
			slice = now
		}
		busyEnd := slice.Add(busy)
		began := time.Now()
		yield := began.Add(yieldEvery)
		for now := began; now.Before(busyEnd) && !c.stopped.Load(); now = time.Now() {
			sink += c.kernel(&x)
			if now.After(yield) {
				runtime.Gosched()
				yield = time.Now().Add(yieldEvery)
			}
		}
		if measured {
			now, _ := threadCPU()
			c.cpuNs.Add(int64(now - last))
			last = now
		} else {
			c.cpuNs.Add(int64(time.Since(began)))
		}
		if c.stopped.Load() {
			return
		}
		if wait := time.Until(slice.Add(cpuSlice)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-c.stopCh:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
	}
}

// next is xorshift64*, a cheap source of varied operands.
func next(x *uint64) uint64 {
	*x ^= *x >> 12
	*x ^= *x << 25
	*x ^= *x >> 27
	return *x * 2685821657736338717
}

func kernelSqrt(x *uint64) float64 {
	var s float64
	for range 256 {
		s += math.Sqrt(float64(next(x) >> 11))
	}
	return s
}

func kernelInt64(x *uint64) float64 {
	v := next(x)
	for i := range uint64(512) {
		v = (v ^ (v >> 31)) * 0x9e3779b97f4a7c15
		v += i * 0xbf58476d1ce4e5b9
		v ^= v << 7
	}
	return float64(v >> 11)
}

func kernelFloat(x *uint64) float64 {
	a := float64(next(x)>>11) / (1 << 53)
	b, c := 1.0000001, 0.9999999
	for range 256 {
		a = a*b + c
		a /= 1.5
		b, c = c, b
	}
	return a
}

func kernelMatrixProd(x *uint64) float64 {
	const n = 8
	var m, p, r [n][n]float64
	for i := range n {
		for j := range n {
			m[i][j] = float64(next(x)>>40) / (1 << 24)
			p[i][j] = float64(next(x)>>40) / (1 << 24)
		}
	}
	for i := range n {
		for j := range n {
			var s float64
			for k := range n {
				s += m[i][k] * p[k][j]
			}
			r[i][j] = s
		}
	}
	return r[n-1][n-1]
}
