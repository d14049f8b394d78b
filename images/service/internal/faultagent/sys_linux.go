//go:build linux

package faultagent

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time (user + system) of the calling OS thread; the
// caller must be locked to its thread.
func threadCPU() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// totalMemory is the machine's RAM in bytes, or 0 if unknown.
func totalMemory() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
