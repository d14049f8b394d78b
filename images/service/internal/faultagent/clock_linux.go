//go:build linux

package faultagent

import (
	"container/heap"
	"encoding/binary"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// preciseClock wakes waiters at their deadlines to within tens of
// microseconds instead of the runtime timer's millisecond steps (see
// timerSleeper): one goroutine, locked to its own OS thread with a 1 ns timer
// slack, sleeps in ppoll(2) — whose timeout has nanosecond resolution — until
// the earliest deadline, then releases every waiter that is due. An eventfd
// wakes it when an earlier deadline arrives. While it sleeps it holds no P
// and burns no CPU; it costs one thread per agent. Each waiter also arms a
// runtime timer and takes whichever fires first, so the clock can only
// improve on the runtime timer, never be worse.
type preciseClock struct {
	efd int

	mu      sync.Mutex
	q       deadlineHeap
	stopped bool
	done    chan struct{}
}

// newSleeper returns the precise clock, or the runtime timer if the clock
// cannot be made (no eventfd).
func newSleeper() sleeper {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return timerSleeper{}
	}
	c := &preciseClock{efd: fd, done: make(chan struct{})}
	go c.run()
	return c
}

func (c *preciseClock) sleepUntil(deadline time.Time, interrupt <-chan struct{}) bool {
	if !deadline.After(time.Now()) {
		return true
	}
	ch := make(chan struct{})
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return timerSleeper{}.sleepUntil(deadline, interrupt)
	}
	heap.Push(&c.q, waiter{at: deadline, ch: ch})
	earliest := c.q[0].ch == ch
	c.mu.Unlock()
	if earliest {
		c.kick()
	}
	// A runtime timer for the same deadline bounds the tail: the clock is
	// one thread, and when the OS or the Go scheduler holds it back (it needs
	// a P again after ppoll returns), every waiter due meanwhile would wait
	// with it. Whichever fires first wins; neither fires early.
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return true
	case <-interrupt:
		// The entry stays queued until its deadline and is then dropped;
		// closing a channel nobody reads costs nothing.
		return false
	}
}

// kick wakes the clock's thread to look at the queue again.
func (c *preciseClock) kick() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	// EAGAIN means the counter is already set: the thread will wake anyway.
	_, _ = unix.Write(c.efd, one[:])
}

// close releases every waiter and stops the thread.
func (c *preciseClock) close() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.mu.Unlock()
	c.kick()
	<-c.done
}

func (c *preciseClock) run() {
	// The thread is not unlocked: it dies with this goroutine, taking its
	// timer slack setting with it.
	runtime.LockOSThread()
	defer close(c.done)
	defer unix.Close(c.efd)
	// Timer slack lets the kernel defer a wake-up by 50 µs by default to
	// batch it with others; the clock wants it on time.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	fds := []unix.PollFd{{Fd: int32(c.efd), Events: unix.POLLIN}}
	var buf [8]byte
	for {
		c.mu.Lock()
		now := time.Now()
		for len(c.q) > 0 && (c.stopped || !c.q[0].at.After(now)) {
			close(heap.Pop(&c.q).(waiter).ch)
		}
		if c.stopped {
			c.mu.Unlock()
			return
		}
		var timeout *unix.Timespec
		if len(c.q) > 0 {
			ts := unix.NsecToTimespec(int64(c.q[0].at.Sub(now)))
			timeout = &ts
		}
		c.mu.Unlock()
		// EINTR and spurious wake-ups just go round again.
		if n, _ := unix.Ppoll(fds, timeout, nil); n > 0 {
			_, _ = unix.Read(c.efd, buf[:])
		}
	}
}

type waiter struct {
	at time.Time
	ch chan struct{}
}

// deadlineHeap is a min-heap of waiters by deadline (container/heap).
type deadlineHeap []waiter

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(waiter)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = waiter{}
	*h = old[:len(old)-1]
	return x
}
