package workload

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// chunk is how many sqrt(rand) calls run between two looks at the clock:
// about 15 µs of work on a current x86 core, so the overshoot past the
// target is small and the clock reads (a system call of about 0.5 µs each)
// cost a few percent of the burn.
const chunk = 2048

// sink keeps the compiler from dropping the square roots.
var sink atomic.Uint64

// spin runs n sqrt(rand) calls, the original's unit of CPU work.
func spin(n int) {
	var acc float64
	for range n {
		acc += math.Sqrt(rand.Float64())
	}
	sink.Add(math.Float64bits(acc) & 1)
}

// BurnCPU uses d of CPU time on the calling goroutine (see the package
// doc), or less if ctx ends first, in which case it returns ctx's cause.
func BurnCPU(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := burn(ctx, d); err != nil {
		return fmt.Errorf("cpu %s: %w", d, err)
	}
	return nil
}
