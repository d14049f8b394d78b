package faultagent

import (
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// Toxiproxy interrupts a toxic not only when it is removed but also when
// another toxic joins or leaves the chain behind it; its own latency toxic
// then lets the chunk it holds go at once, so adding a second fault to a link
// would cut the first one's delays short. The toxics here keep what they hold
// in the per-connection state instead and carry on when Toxiproxy runs them
// again; they let go early only when their own fault is switched off (its
// stopping flag is set before the toxic is removed).

// held is a chunk a toxic holds until its release time.
type held struct {
	chunk   *stream.StreamChunk
	release time.Time
	// done, if set, accounts for the chunk once it is handed on.
	done func(now time.Time)
}

// holdState is the part of a per-connection state that keeps the chunk held
// across interrupts.
type holdState struct {
	h *held
}

// holdPipe runs a toxic that holds each chunk until the release time admit
// decides, in order, never dropping a byte.
func holdPipe(stub *toxics.ToxicStub, clock sleeper, hs *holdState, stopping *atomic.Bool, admit func(c *stream.StreamChunk) held) {
	for {
		if hs.h == nil {
			select {
			case <-stub.Interrupt:
				return
			case c := <-stub.Input:
				if c == nil {
					stub.Close()
					return
				}
				h := admit(c)
				hs.h = &h
			}
		}
		ok := clock.sleepUntil(hs.h.release, stub.Interrupt)
		if !ok && !stopping.Load() {
			return // the chain is being rewired: keep holding when run again
		}
		now := time.Now()
		h := hs.h
		hs.h = nil
		h.chunk.Timestamp = laterOf(h.chunk.Timestamp, now)
		stub.Output <- h.chunk
		if h.done != nil {
			h.done(now)
		}
		if !ok {
			return
		}
	}
}

// passThrough is the noop toxic, for a toxic that lost its binding.
func passThrough(stub *toxics.ToxicStub) {
	new(toxics.NoopToxic).Pipe(stub)
}

func laterOf(x, y time.Time) time.Time {
	if y.After(x) {
		return y
	}
	return x
}
