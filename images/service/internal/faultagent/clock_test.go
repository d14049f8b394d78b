package faultagent

import (
	"sync"
	"testing"
	"time"
)

func sleepers() map[string]func() sleeper {
	return map[string]func() sleeper{
		"default": newSleeper,
		"timer":   func() sleeper { return timerSleeper{} },
	}
}

// TestSleeperNeverEarly checks that many concurrent waiters, pushed in
// random deadline order, each wake at or after their deadline and within a
// generous bound (the machine is shared; precision is the benchmark's job).
func TestSleeperNeverEarly(t *testing.T) {
	for name, mk := range sleepers() {
		t.Run(name, func(t *testing.T) {
			c := mk()
			defer c.close()
			base := time.Now().Add(50 * time.Millisecond)
			var wg sync.WaitGroup
			for i := range 200 {
				deadline := base.Add(time.Duration(i*7919%200) * time.Millisecond)
				wg.Go(func() {
					if !c.sleepUntil(deadline, nil) {
						t.Error("not interrupted, yet reported interrupted")
					}
					if late := time.Since(deadline); late < 0 || late > 500*time.Millisecond {
						t.Errorf("woke %s after the deadline, want 0 to 500ms", late)
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestSleeperInterrupt(t *testing.T) {
	for name, mk := range sleepers() {
		t.Run(name, func(t *testing.T) {
			c := mk()
			defer c.close()
			interrupt := make(chan struct{})
			res := make(chan bool)
			go func() { res <- c.sleepUntil(time.Now().Add(time.Hour), interrupt) }()
			interrupt <- struct{}{}
			if <-res {
				t.Error("interrupted sleep reported the deadline reached")
			}
			if !c.sleepUntil(time.Now().Add(-time.Second), nil) {
				t.Error("a past deadline did not return at once")
			}
		})
	}
}
