package workload

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// burn spins until the thread has used d of CPU time. The goroutine is
// locked to its thread for the duration, so the thread's CPU clock is the
// goroutine's: time the thread spends descheduled (other requests, a
// cpu-stress fault, a cgroup quota) is not counted.
func burn(ctx context.Context, d time.Duration) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, err := threadCPU()
	if err != nil {
		return err
	}
	done := ctx.Done()
	for {
		spin(chunk)
		now, err := threadCPU()
		if err != nil {
			return err
		}
		if now-start >= d {
			return nil
		}
		select {
		case <-done:
			return context.Cause(ctx)
		default:
		}
	}
}

func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}
