//go:build !linux

package workload

import (
	"context"
	"time"
)

// burn spins for d of wall time: without a portable per-thread CPU clock,
// this is the best approximation off Linux (exact only on an idle CPU). The
// service binary is built for Linux; this keeps the package portable.
func burn(ctx context.Context, d time.Duration) error {
	start := time.Now()
	done := ctx.Done()
	for time.Since(start) < d {
		spin(chunk)
		select {
		case <-done:
			return context.Cause(ctx)
		default:
		}
	}
	return nil
}
