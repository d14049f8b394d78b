package faultagent

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeLimit is how many bytes a pipe buffers before its writer waits: of the
// order of a loopback socket's buffer.
const pipeLimit = 256 << 10

// pipe is the in-process stand-in for a socket between a routed ingress
// connection's links and the HTTP server (see ingress.go). Unlike net.Pipe
// it buffers: a link hands a chunk on without waiting for the server to read
// it, as it would write a socket, so a toxic's hold times (and ground truth)
// do not include the server's own pace. One goroutine reads and one writes;
// each side has its deadline.
type pipe struct {
	mu      sync.Mutex
	buf     []byte
	rclosed bool // the reader is gone: writes fail
	wclosed bool // the writer is done: reads drain, then EOF

	readable chan struct{} // a token when data or a close arrives
	writable chan struct{} // a token when room or a close arrives

	rdl, wdl pipeDeadline
}

func newPipe() *pipe {
	return &pipe{
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
		rdl:      makePipeDeadline(),
		wdl:      makePipeDeadline(),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// read reads what is buffered, waiting for some.
func (p *pipe) read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		switch {
		case p.rclosed:
			p.mu.Unlock()
			return 0, net.ErrClosed
		case len(p.buf) > 0:
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.mu.Unlock()
			signal(p.writable)
			return n, nil
		case p.wclosed:
			p.mu.Unlock()
			return 0, io.EOF
		}
		p.mu.Unlock()
		select {
		case <-p.readable:
		case <-p.rdl.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// write buffers all of b, waiting for room.
func (p *pipe) write(b []byte) (int, error) {
	n := 0
	for {
		p.mu.Lock()
		switch {
		case p.rclosed:
			p.mu.Unlock()
			return n, io.ErrClosedPipe
		case p.wclosed:
			p.mu.Unlock()
			return n, net.ErrClosed
		}
		k := min(len(b)-n, pipeLimit-len(p.buf))
		if k > 0 {
			p.buf = append(p.buf, b[n:n+k]...)
			n += k
		}
		p.mu.Unlock()
		if k > 0 {
			signal(p.readable)
		}
		if n == len(b) {
			return n, nil
		}
		select {
		case <-p.writable:
		case <-p.wdl.wait():
			return n, os.ErrDeadlineExceeded
		}
	}
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.rclosed = true
	p.buf = nil
	p.mu.Unlock()
	signal(p.writable)
	signal(p.readable)
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.wclosed = true
	p.mu.Unlock()
	signal(p.readable)
	signal(p.writable)
}

// pipeReader and pipeWriter are a pipe's two ends as io types.
type pipeReader struct{ *pipe }

func (r pipeReader) Read(b []byte) (int, error) { return r.read(b) }
func (r pipeReader) Close() error               { r.closeRead(); return nil }

type pipeWriter struct{ *pipe }

func (w pipeWriter) Write(b []byte) (int, error) { return w.write(b) }
func (w pipeWriter) Close() error                { w.closeWrite(); return nil }

// pipeDeadline is net.Pipe's deadline: a channel closed when it passes.
type pipeDeadline struct {
	mu     sync.Mutex // guards timer and cancel
	timer  *time.Timer
	cancel chan struct{}
}

func makePipeDeadline() pipeDeadline {
	return pipeDeadline{cancel: make(chan struct{})}
}

// set moves the deadline; a zero t means none, a past t wakes the waiter.
func (d *pipeDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to have closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *pipeDeadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
