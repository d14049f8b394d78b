package faultagent

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// net-rate: a bandwidth limit of rate bytes per second on each direction of
// a link, shared by all its connections.
//
// Model. Each direction of the link is one transmitter, like an interface
// shaped by tc: every connection's bytes queue for it, so N busy connections
// share the rate instead of getting it each (Toxiproxy's bandwidth toxic
// limits each connection separately, in whole KB/s). A chunk is cut into
// pieces of at most 10 ms of transmission (at least one byte); each piece
// reserves the transmitter for len/rate from where the previous reservation
// ended, or from now if the transmitter has been idle for longer than one
// piece, and is handed on when its transmission ends (store-and-forward).
// So a pacer that wakes late does not push the schedule back (the next piece
// starts where the previous one ended, not when the pacer woke), and idle
// time is saved up to one piece only (a burst allowance of 10 ms of
// transmission, like a token bucket of that depth): over any interval of T
// seconds at most rate·T + one piece passes. Units: rate in bytes/s
// (behavior.Rate; the fault file may write "1mbit").
//
// Effect: bytes_throttled (bytes that passed the limiter),
// throttle_wait_seconds (total time pieces waited for the transmitter and
// their transmission). At the fault's end queued bytes pass at once.
type netRate struct {
	id    string
	link  *proxyLink
	rate  float64
	clock sleeper

	mu   sync.Mutex
	busy [stream.NumDirections]time.Time

	toxicSet

	bytes  atomic.Int64
	waitNs atomic.Int64
}

// pieceTime is the longest transmission one piece may take.
const pieceTime = 10 * time.Millisecond

func parseNetRate(a *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.NetRate
	proxy, key, err := a.decodeLinked(f, &p)
	if err != nil {
		return nil, "", err
	}
	return &netRate{id: f.ID, rate: p.Rate.BytesPerSecond(), clock: a.clock, link: proxy}, key, nil
}

// transmitTime is how long n bytes take at rate bytes/s.
func transmitTime(n int, rate float64) time.Duration {
	return time.Duration(float64(n) / rate * float64(time.Second))
}

// pieceBytes is the largest piece: pieceTime of transmission, at least 1.
func pieceBytes(rate float64) int {
	return max(1, int(rate*pieceTime.Seconds()))
}

// reserve books the transmitter of a direction for n bytes and returns when
// their transmission ends.
func (r *netRate) reserve(dir stream.Direction, n int, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := laterOf(now.Add(-pieceTime), r.busy[dir]).Add(transmitTime(n, r.rate))
	r.busy[dir] = end
	return end
}

func (r *netRate) start() error {
	return r.attach(r.link, r.id, toxicRate, r, stream.Upstream, stream.Downstream)
}

func (r *netRate) effect() map[string]float64 {
	return map[string]float64{
		"bytes_throttled":       float64(r.bytes.Load()),
		"throttle_wait_seconds": float64(r.waitNs.Load()) / 1e9,
	}
}

// rateToxic is the Toxiproxy side of net-rate.
type rateToxic struct {
	run *netRate
	dir stream.Direction
}

// UnmarshalJSON binds the toxic to its fault and direction (see resolve).
func (t *rateToxic) UnmarshalJSON(data []byte) (err error) {
	t.run, t.dir, err = bound[netRate](data)
	return err
}

// rateState is per connection and direction: the bytes of the current chunk
// not yet handed on and the reservation of their next piece. It survives the
// toxic being interrupted for a rewiring of the chain.
type rateState struct {
	rest  []byte
	n     int
	began time.Time
	due   time.Time
}

// NewState implements toxics.StatefulToxic.
func (t *rateToxic) NewState() any { return new(rateState) }

// Pipe implements toxics.Toxic. It is unbuffered on purpose: a sender
// faster than the rate is slowed down (back-pressure), as by a full queue.
func (t *rateToxic) Pipe(stub *toxics.ToxicStub) {
	st, ok := stub.State.(*rateState)
	if t.run == nil || !ok {
		passThrough(stub)
		return
	}
	run := t.run
	piece := pieceBytes(run.rate)
	for {
		if len(st.rest) == 0 {
			select {
			case <-stub.Interrupt:
				return
			case c := <-stub.Input:
				if c == nil {
					stub.Close()
					return
				}
				if len(c.Data) == 0 {
					continue
				}
				st.rest, st.due = c.Data, time.Time{}
			}
		}
		if st.due.IsZero() {
			st.n = min(len(st.rest), piece)
			st.began = time.Now()
			st.due = run.reserve(t.dir, st.n, st.began)
		}
		ok := run.clock.sleepUntil(st.due, stub.Interrupt)
		if !ok && !run.stopping.Load() {
			return // the chain is being rewired: carry on when run again
		}
		n := st.n
		if !ok {
			n = len(st.rest) // switched off: what is left passes at once
		}
		now := time.Now()
		stub.Output <- &stream.StreamChunk{Data: st.rest[:n], Timestamp: now}
		run.bytes.Add(int64(n))
		run.waitNs.Add(int64(now.Sub(st.began)))
		st.rest, st.due = st.rest[n:], time.Time{}
		if !ok {
			return
		}
	}
}
