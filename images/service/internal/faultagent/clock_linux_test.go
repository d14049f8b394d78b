//go:build linux

package faultagent

import (
	"sync"
	"testing"
	"time"
)

// TestPreciseClockCloseReleases checks that closing the clock releases
// everyone still waiting, so no toxic can hang on a closed agent.
func TestPreciseClockCloseReleases(t *testing.T) {
	c := newSleeper()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.sleepUntil(time.Now().Add(time.Hour), nil) })
	}
	time.Sleep(20 * time.Millisecond)
	c.close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("waiters still blocked after close")
	}
	c.close() // twice is fine
	if !c.sleepUntil(time.Now().Add(10*time.Millisecond), nil) {
		t.Error("sleep after close failed")
	}
}
