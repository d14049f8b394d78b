package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Params are the workload's settings, in the original's units.
type Params struct {
	// CPU: N ms of CPU time per request.
	CPU int
	// IO: N × 64 KiB written and fsynced per request, in DataDir.
	IO int
	// Net: a response payload of N/2 bytes.
	Net int
	// MemoryMiB is allocated, touched and kept live from New to Close.
	MemoryMiB int
	// Delay ± Jitter (uniform) is waited before the CPU work.
	Delay  time.Duration
	Jitter time.Duration
	// Seed drives the jitter draws and the payload bytes.
	Seed int64
	// DataDir holds the io files; it must exist when IO > 0.
	DataDir string
}

// Workload runs the per-request work. It is safe for concurrent use.
type Workload struct {
	p       Params
	payload []byte

	// memory is the start-up allocation; holding it here keeps it live.
	memory []byte

	mu  sync.Mutex
	rng *rand.Rand // jitter draws, under mu
}

// pageSize is the stride at which the memory is touched: one write per
// page faults every page in. 4 KiB is the smallest page size of the
// platforms Go supports on servers, so a larger real page is touched too.
const pageSize = 4 << 10

// New validates p, allocates and touches the memory and builds the payload.
func New(p Params) (*Workload, error) {
	switch {
	case p.CPU < 0, p.IO < 0, p.Net < 0, p.MemoryMiB < 0:
		return nil, fmt.Errorf("workload %+v: negative amount", p)
	case p.Delay < 0, p.Jitter < 0:
		return nil, fmt.Errorf("workload delay %s jitter %s: must not be negative", p.Delay, p.Jitter)
	}
	if p.IO > 0 {
		fi, err := os.Stat(p.DataDir)
		if err != nil {
			return nil, fmt.Errorf("workload io %d: data dir: %w", p.IO, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("workload io %d: data dir %s is not a directory", p.IO, p.DataDir)
		}
	}
	w := &Workload{
		p:   p,
		rng: rand.New(rand.NewPCG(uint64(p.Seed), 0x7665_6372_6f)), // "vecro"
	}
	w.payload = makePayload(p.Net/2, uint64(p.Seed))
	if p.MemoryMiB > 0 {
		w.memory = make([]byte, p.MemoryMiB<<20)
		touch(w.memory)
	}
	return w, nil
}

// touch writes one non-zero byte per page so that the kernel backs every
// page with real memory (a fresh allocation is untouched zero pages).
func touch(b []byte) {
	for i := 0; i < len(b); i += pageSize {
		b[i] = byte(i/pageSize) | 1
	}
}

// makePayload returns n seeded printable bytes.
func makePayload(n int, seed uint64) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(seed, 0x6e6574)) // "net"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// Payload is the response body: Net/2 bytes, the same for every request.
// Callers must not modify it.
func (w *Workload) Payload() []byte { return w.payload }

// MemoryBytes is the size of the start-up allocation held live.
func (w *Workload) MemoryBytes() int { return len(w.memory) }

// Run does one request's work in the original's order: delay, cpu, io. It
// returns early with ctx's error when the request is cancelled.
func (w *Workload) Run(ctx context.Context) error {
	if err := w.delay(ctx); err != nil {
		return err
	}
	if w.p.CPU > 0 {
		if err := BurnCPU(ctx, time.Duration(w.p.CPU)*time.Millisecond); err != nil {
			return err
		}
	}
	if w.p.IO > 0 {
		if _, err := WriteTempFile(ctx, w.p.DataDir, w.p.IO); err != nil {
			return err
		}
	}
	return nil
}

func (w *Workload) delay(ctx context.Context) error {
	if w.p.Delay == 0 && w.p.Jitter == 0 {
		return nil
	}
	w.mu.Lock()
	u := w.rng.Float64()
	w.mu.Unlock()
	d := DrawDelay(u, w.p.Delay, w.p.Jitter)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("delay %s: %w", d, context.Cause(ctx))
	}
}

// DrawDelay maps a uniform draw u in [0, 1) to delay ± jitter, uniform,
// clamped at zero.
func DrawDelay(u float64, delay, jitter time.Duration) time.Duration {
	d := delay + time.Duration((2*u-1)*float64(jitter))
	return max(d, 0)
}

// Close releases the start-up memory. The Workload must not be used after.
func (w *Workload) Close() error {
	w.memory = nil
	return nil
}
