package local

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// front is the round-robin TCP front of a replicated service: callers see
// one address and each new connection goes to the next replica, as with a
// ClusterIP Service under kube-proxy. Balancing per connection rather than
// per request keeps it faithful to Kubernetes: a caller that keeps one
// connection alive talks to one replica there too.
type front struct {
	service  string
	ln       net.Listener
	backends []string
	log      *slog.Logger

	next   atomic.Uint64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// dialTimeout bounds one attempt to reach a replica; a refused connection
// fails at once, so this only matters for a wedged one.
const dialTimeout = 2 * time.Second

func newFront(service string, ln net.Listener, backends []string, log *slog.Logger) *front {
	f := &front{service: service, ln: ln, backends: backends, log: log, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: back off instead of spinning.
			f.log.Warn("front accept", "service", f.service, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go f.proxy(c)
	}
}

// track remembers a connection so that close can end it; false once closed.
func (f *front) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *front) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// proxy joins a caller to the next replica that accepts, trying each at
// most once, and copies both ways until either side closes.
func (f *front) proxy(in net.Conn) {
	defer f.wg.Done()
	defer f.untrack(in)
	n := uint64(len(f.backends))
	first := f.next.Add(1) - 1
	var out net.Conn
	for k := range n {
		addr := f.backends[(first+k)%n]
		c, err := net.DialTimeout("tcp", addr, dialTimeout)
		if err == nil {
			out = c
			break
		}
		f.log.Debug("front dial", "service", f.service, "replica", addr, "err", err)
	}
	if out == nil {
		return
	}
	if !f.track(out) {
		out.Close()
		return
	}
	defer f.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// Pass the half-close on, so request/response protocols finish.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// close stops accepting, ends every open connection and waits for the
// copying goroutines.
func (f *front) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// addr is the address callers dial.
func (f *front) addr() string { return f.ln.Addr().String() }
