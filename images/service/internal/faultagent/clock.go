package faultagent

import "time"

// sleeper waits until a deadline unless interrupted first; the toxics hold
// chunks with it. It reports false if interrupted.
type sleeper interface {
	sleepUntil(deadline time.Time, interrupt <-chan struct{}) bool
	close()
}

// timerSleeper waits with a runtime timer. On Linux the runtime sleeps in
// epoll_wait, whose timeout is whole milliseconds, so a timer fires up to
// 1 ms late (0.5 ms on average) even on an idle machine; it is the fallback
// where the precise clock is not available.
type timerSleeper struct{}

func (timerSleeper) sleepUntil(deadline time.Time, interrupt <-chan struct{}) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-interrupt:
		return false
	}
}

func (timerSleeper) close() {}
