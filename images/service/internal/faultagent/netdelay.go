package faultagent

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// net-delay: time ± jitter added to the request direction of a link.
//
// Model. The delay acts on the upstream direction of the link's proxy: from
// the service's callers to the service (on: ingress) or from the service to
// its database (on: db), i.e. on requests, like the manual's "network ingress
// delay" and the published scenario's delay towards the database. Responses
// are not delayed.
//
// One draw per burst, not per TCP chunk. A chunk that arrives when the
// toxic holds nothing starts a burst and draws a delay d; every chunk that
// arrives before the previous chunk's release time belongs to the same burst
// and is released exactly d after it arrived, as on a link with a fixed
// propagation delay. An HTTP request (head and body, however many chunks) is
// therefore delayed once, by one draw; on a keep-alive connection the next
// request arrives after the previous response, so it starts a new burst and
// gets its own draw. Pipelined requests that arrive together share a draw.
// Bytes are never reordered or dropped.
//
// Draws. Uniform (the default): d uniform in [time−jitter, time+jitter);
// jitter may not exceed time. Normal: d = time + jitter·N(0,1), clamped at 0
// (jitter is the standard deviation). Draws come from the fault's seeded PCG
// source in burst order across all connections. Units: Go durations.
//
// Effect: requests_delayed (bursts), mean_added_delay_seconds (measured from
// a burst's first chunk arriving at the toxic to it being handed on),
// mean_drawn_delay_seconds. At the fault's end every held chunk is released
// at once; a burst cut short that way counts with the delay it really got.
type netDelay struct {
	id     string
	link   *proxyLink
	clock  sleeper
	time   time.Duration
	jitter time.Duration
	dist   string
	rng    *lockedRand
	trace  func(id string, first []byte, drawn, added time.Duration)

	toxicSet

	bursts  atomic.Int64
	addedNs atomic.Int64
	drawnNs atomic.Int64
}

// Delay distributions.
const (
	distUniform = "uniform"
	distNormal  = "normal"
)

func parseNetDelay(a *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.NetDelay
	proxy, key, err := a.decodeLinked(f, &p)
	if err != nil {
		return nil, "", err
	}
	d := &netDelay{id: f.ID, clock: a.clock, time: p.Time.D(), jitter: p.Jitter.D(), dist: cmp.Or(p.Distribution, behavior.Distributions[0]), trace: a.traceDelay, link: proxy}
	if d.dist != distUniform && d.dist != distNormal {
		// Validate knows the distribution; this agent has no draw for it.
		return nil, "", fmt.Errorf("distribution %q: this agent does not implement it", d.dist)
	}
	d.rng = newLockedRand(a.seedFor(f))
	return d, key, nil
}

// drawDelay draws one delay. It is the whole model of the draw, so it is
// tested directly against its distribution.
func drawDelay(r *rand.Rand, mean, jitter time.Duration, dist string) time.Duration {
	var d float64
	switch dist {
	case distNormal:
		d = float64(mean) + r.NormFloat64()*float64(jitter)
	default:
		d = float64(mean) + (2*r.Float64()-1)*float64(jitter)
	}
	return time.Duration(max(d, 0))
}

func (d *netDelay) draw() time.Duration {
	var out time.Duration
	d.rng.with(func(r *rand.Rand) { out = drawDelay(r, d.time, d.jitter, d.dist) })
	d.drawnNs.Add(int64(out))
	return out
}

// start attaches the delay to the request direction only: an ingress delay
// is what a caller sees before the service reads its request.
func (d *netDelay) start() error {
	return d.attach(d.link, d.id, toxicDelay, d, stream.Upstream)
}

func (d *netDelay) effect() map[string]float64 {
	n := d.bursts.Load()
	return map[string]float64{
		"requests_delayed":         float64(n),
		"mean_added_delay_seconds": meanSeconds(d.addedNs.Load(), n),
		"mean_drawn_delay_seconds": meanSeconds(d.drawnNs.Load(), n),
	}
}

func meanSeconds(sumNs, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(sumNs) / float64(n) / 1e9
}

// delayToxic is the Toxiproxy side of net-delay.
type delayToxic struct {
	run *netDelay
}

// UnmarshalJSON binds the toxic to its fault (see resolve).
func (t *delayToxic) UnmarshalJSON(data []byte) (err error) {
	t.run, _, err = bound[netDelay](data)
	return err
}

// GetBufferSize lets chunks queue behind a held one, so that holding does
// not slow the reading side and each chunk's arrival time is its own.
func (t *delayToxic) GetBufferSize() int { return 1024 }

// delayState is per connection: the burst's draw and the chunk held.
type delayState struct {
	holdState
	drawn   time.Duration
	release time.Time
}

// NewState implements toxics.StatefulToxic.
func (t *delayToxic) NewState() any { return new(delayState) }

// Pipe implements toxics.Toxic.
func (t *delayToxic) Pipe(stub *toxics.ToxicStub) {
	st, ok := stub.State.(*delayState)
	if t.run == nil || !ok {
		passThrough(stub)
		return
	}
	run := t.run
	holdPipe(stub, run.clock, &st.holdState, &run.stopping, func(c *stream.StreamChunk) held {
		arrived := c.Timestamp
		first := !arrived.Before(st.release)
		if first {
			st.drawn = run.draw()
		}
		st.release = arrived.Add(st.drawn)
		h := held{chunk: c, release: st.release}
		if first {
			drawn := st.drawn
			h.done = func(now time.Time) {
				added := now.Sub(arrived)
				run.bursts.Add(1)
				run.addedNs.Add(int64(added))
				if run.trace != nil {
					run.trace(run.id, c.Data, drawn, added)
				}
			}
		}
		return h
	})
}
