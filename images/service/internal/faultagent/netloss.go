package faultagent

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// net-loss: percent of segments lost, shown as TCP shows it — retransmission
// delay. No byte is ever dropped.
//
// Model. The proxy carries a TCP byte stream, and TCP recovers every lost
// segment by retransmitting it, so what an application sees of packet loss is
// delay, not missing data. Each chunk (one read from a socket, up to 32 KiB)
// stands for a segment and is lost with probability p = percent/100; a lost
// chunk is held for one retransmission timeout (RTO). The retransmission can
// be lost again with the same p; each consecutive loss doubles the RTO
// (exponential backoff, RFC 6298 §5.5). The initial RTO is 200 ms, Linux's
// TCP_RTO_MIN, which is what a loopback or in-cluster connection (RTT far
// below 200 ms) uses; the RTO is capped at 120 s (TCP_RTO_MAX) and the
// number of consecutive losses at 15 (tcp_retries2, after which Linux would
// abort the connection; here the chunk is still delivered). A chunk lost k
// times is held Σ_{i<k} min(200 ms·2^i, 120 s): 200 ms, 600 ms, 1.4 s …
// Later chunks of the same connection wait behind a held one (in-order
// delivery, head-of-line blocking) but are not delayed further unless they
// are lost themselves. The model is the RTO path: a bulk transfer with many
// segments in flight would often recover faster by fast retransmit (about one
// RTT), so for large flows it is pessimistic; for request/response traffic
// with small flights, tail loss recovered by RTO is the common case.
//
// Both directions of the link lose chunks, each independently. Draws come
// from the fault's seeded PCG source. Units: percent is 0–100 (exclusive of
// 0).
//
// Effect: chunks_seen, chunks_lost (chunks lost at least once),
// retransmissions (losses in total), added_delay_seconds (total delay added
// to all chunks, including those waiting behind a lost one). At the fault's
// end every held chunk is released at once.
type netLoss struct {
	id    string
	link  *proxyLink
	p     float64
	rng   *lockedRand
	clock sleeper

	toxicSet

	seen    atomic.Int64
	lost    atomic.Int64
	retrans atomic.Int64
	addedNs atomic.Int64
}

// TCP retransmission constants of Linux.
const (
	rtoInitial = 200 * time.Millisecond
	rtoMax     = 120 * time.Second
	maxLosses  = 15
)

func parseNetLoss(a *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.NetLoss
	proxy, key, err := a.decodeLinked(f, &p)
	if err != nil {
		return nil, "", err
	}
	l := &netLoss{id: f.ID, p: p.Percent.Fraction(), clock: a.clock, link: proxy}
	l.rng = newLockedRand(a.seedFor(f))
	return l, key, nil
}

// drawLosses draws how many times in a row a chunk is lost.
func drawLosses(r *rand.Rand, p float64) int {
	k := 0
	for k < maxLosses && r.Float64() < p {
		k++
	}
	return k
}

// lossHold is how long a chunk lost k times in a row is held: the sum of the
// backed-off RTOs.
func lossHold(k int) time.Duration {
	var hold time.Duration
	rto := rtoInitial
	for range k {
		hold += rto
		rto = min(2*rto, rtoMax)
	}
	return hold
}

func (l *netLoss) start() error {
	return l.attach(l.link, l.id, toxicLoss, l, stream.Upstream, stream.Downstream)
}

func (l *netLoss) effect() map[string]float64 {
	return map[string]float64{
		"chunks_seen":         float64(l.seen.Load()),
		"chunks_lost":         float64(l.lost.Load()),
		"retransmissions":     float64(l.retrans.Load()),
		"added_delay_seconds": float64(l.addedNs.Load()) / 1e9,
	}
}

// lossToxic is the Toxiproxy side of net-loss.
type lossToxic struct {
	run *netLoss
}

// lossState is per connection and direction: the chunk held and when the
// last chunk is released, so that no chunk overtakes a held one.
type lossState struct {
	holdState
	release time.Time
}

// UnmarshalJSON binds the toxic to its fault (see resolve).
func (t *lossToxic) UnmarshalJSON(data []byte) (err error) {
	t.run, _, err = bound[netLoss](data)
	return err
}

// GetBufferSize lets chunks that arrive behind a held one queue (they have
// reached the receiver, which buffers them out of order).
func (t *lossToxic) GetBufferSize() int { return 1024 }

// NewState implements toxics.StatefulToxic.
func (t *lossToxic) NewState() any { return new(lossState) }

// Pipe implements toxics.Toxic.
func (t *lossToxic) Pipe(stub *toxics.ToxicStub) {
	st, ok := stub.State.(*lossState)
	if t.run == nil || !ok {
		passThrough(stub)
		return
	}
	run := t.run
	holdPipe(stub, run.clock, &st.holdState, &run.stopping, func(c *stream.StreamChunk) held {
		var k int
		run.rng.with(func(r *rand.Rand) { k = drawLosses(r, run.p) })
		run.seen.Add(1)
		if k > 0 {
			run.lost.Add(1)
			run.retrans.Add(int64(k))
		}
		arrived := c.Timestamp
		st.release = laterOf(arrived.Add(lossHold(k)), st.release)
		h := held{chunk: c, release: st.release}
		if st.release.After(arrived) {
			h.done = func(now time.Time) { run.addedNs.Add(int64(now.Sub(arrived))) }
		}
		return h
	})
}
