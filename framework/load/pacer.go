package load

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Pacer plans the open loop: when each hit is due. Both methods are pure
// functions of their arguments (no clock inside), so pacers are tested with
// tables, and the sender measures every latency from the planned time Due
// gives, not from when it managed to send.
type Pacer interface {
	// Pace is how long to wait, from elapsed since the start, before hit
	// number hits (0-based: the number of hits already sent) is due. wait is
	// 0 when that hit is already due or overdue. stop is true when the plan
	// has no such hit.
	Pace(elapsed time.Duration, hits uint64) (wait time.Duration, stop bool)
	// Due is the planned offset of hit n from the start; ok is false when the
	// plan has no hit n.
	Due(n uint64) (at time.Duration, ok bool)
}

// Arrivals is how hits are spread in time at the scheduled rate.
type Arrivals string

// Arrival processes.
const (
	// Uniform spaces hits evenly: hit n is due when the schedule's integral
	// reaches n.
	Uniform Arrivals = "uniform"
	// Poisson makes the gaps independent exponential draws (seeded), as from
	// many independent users; for a varying rate it rescales a unit-rate
	// Poisson process through the schedule's integral.
	Poisson Arrivals = "poisson"
)

// NewPacer plans hits at schedule's rate with the given arrival process,
// ending at end (0 = never). seed drives the Poisson draws.
func NewPacer(s Schedule, arr Arrivals, seed int64, end time.Duration) (Pacer, error) {
	if s == nil {
		return nil, fmt.Errorf("new pacer: no rate schedule")
	}
	if err := validSchedule(s); err != nil {
		return nil, fmt.Errorf("new pacer: %w", err)
	}
	switch arr {
	case Uniform, "":
		return UniformPacer{Schedule: s, End: end}, nil
	case Poisson:
		return &PoissonPacer{Schedule: s, End: end, Seed: seed}, nil
	}
	return nil, fmt.Errorf("new pacer: arrivals %q: want %q or %q", arr, Uniform, Poisson)
}

// UniformPacer spaces hits evenly along the schedule: hit n is due at
// Schedule.Time(n), so at a constant 2,000/s hit n is due at n × 500 µs.
type UniformPacer struct {
	Schedule Schedule
	// End is when the plan stops; hits due at or after it are not sent.
	// Zero means never.
	End time.Duration
}

// PoissonPacer draws exponential gaps from a counter-based generator keyed
// by Seed, so hit n's time depends only on (Seed, n): the same seed replays
// the same arrivals. Safe for concurrent use.
type PoissonPacer struct {
	Schedule Schedule
	End      time.Duration
	Seed     int64

	// memo of the last prefix sum: the sender asks for n, n+1, n+2 …, so the
	// sum of n exponential draws costs O(1) per hit, not O(n).
	mu   sync.Mutex
	memN uint64
	memS float64
}

var (
	_ Pacer = UniformPacer{}
	_ Pacer = (*PoissonPacer)(nil)
)

// Due implements Pacer.
func (p UniformPacer) Due(n uint64) (time.Duration, bool) {
	return due(p.Schedule, p.End, float64(n))
}

// Pace implements Pacer.
func (p UniformPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return pace(p, elapsed, hits)
}

// Due implements Pacer.
func (p *PoissonPacer) Due(n uint64) (time.Duration, bool) {
	return due(p.Schedule, p.End, p.unitArrival(n))
}

// Pace implements Pacer.
func (p *PoissonPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return pace(p, elapsed, hits)
}

// unitArrival is the time of hit n in a unit-rate Poisson process: the sum
// of n+1 exponential draws with mean 1.
func (p *PoissonPacer) unitArrival(n uint64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n+1 < p.memN {
		p.memN, p.memS = 0, 0
	}
	for p.memN <= n {
		p.memS += expDraw(uint64(p.Seed), p.memN)
		p.memN++
	}
	return p.memS
}

func due(s Schedule, end time.Duration, h float64) (time.Duration, bool) {
	at, ok := s.Time(h)
	if !ok || (end > 0 && at >= end) {
		return 0, false
	}
	return at, true
}

func pace(p Pacer, elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at, ok := p.Due(hits)
	if !ok {
		return 0, true
	}
	return max(at-elapsed, 0), false
}

// expDraw is draw k of an exponential distribution with mean 1 for the given
// seed: -ln(1-U) with U uniform in [0,1) from splitmix64 of (seed, k).
func expDraw(seed, k uint64) float64 {
	z := seed + (k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	u := float64(z>>11) / (1 << 53)
	return -math.Log1p(-u)
}
