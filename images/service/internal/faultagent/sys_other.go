//go:build !linux

package faultagent

import "time"

// threadCPU is not available here: cpu-stress then reports its busy
// wall-clock time.
func threadCPU() (time.Duration, bool) { return 0, false }

// totalMemory is unknown here.
func totalMemory() int64 { return 0 }

// newSleeper is the runtime timer here.
func newSleeper() sleeper { return timerSleeper{} }
