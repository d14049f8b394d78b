package faultagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"

	"github.com/vecrosim/vecro/framework/behavior"
)

// The service port without a proxy hop.
//
// A TCP proxy in front of the HTTP server costs every request a second
// connection, two goroutines and twice the syscalls, whether a fault is on or
// not: about half a service's throughput. So the HTTP server serves the
// service port itself, through a listener the agent wraps (WrapIngress), and
// each accepted connection is an ingressConn that reads and writes its socket
// directly while no "on: ingress" toxic is attached (one atomic load per
// call).
//
// Once a toxic is attached, a connection is routed: Toxiproxy's own link
// machinery (ToxicCollection.StartLink, the chain every proxy connection
// runs through) carries the socket's bytes to the server through an
// in-process pipe, and the server's bytes back to the socket through another
// one, so the toxics and their ground truth are exactly those of a proxied
// connection: the upstream link reads the socket (and stamps each chunk's
// arrival) as the proxy would, the downstream link writes it.
//
// The switch happens on the server's reading goroutine and only between two
// reads, so no byte is lost or reordered: a read blocked on the socket when a
// toxic is attached is woken by a read deadline in the past (the "kick") and
// retried on the routed path; the bytes it was waiting for are still in the
// kernel's buffer and go through the toxics. Writes follow the switch on
// their next call; they assume, as net/http does, that one connection is not
// written from two goroutines at once. A connection stays routed until it
// closes, even after the fault ends (the chain is then empty: the bytes pass
// through Toxiproxy's noop stub), so a keep-alive connection that saw a
// fault costs the proxy's price for the rest of its life; new connections
// are direct again.
//
// While routed, the caller's deadlines apply to its ends of the pipes, never
// to the socket: the links own the socket, and a deadline there (net/http
// sets one in the past to abort its background read) would end the link
// and lose the connection.

// ingress is the service port's side of the agent: its live connections and
// the Toxiproxy collection (of a proxy that never listens) whose links they
// join while an ingress toxic is attached.
type ingress struct {
	tp    *toxiproxy.ApiServer
	proxy *toxiproxy.Proxy
	// active counts the toxics attached to proxy's collection.
	active atomic.Int32
	nextID atomic.Uint64

	mu     sync.Mutex
	closed bool
	conns  map[*ingressConn]struct{}
	// stopListen, if set, closes a listener the agent opened (ServeIngress).
	stopListen func()
}

// WrapIngress returns l with every accepted connection under the agent's
// ingress faults: the HTTP server of the service port serves on the listener
// it returns. Faults "on: ingress" act on those connections; while none is
// on, they cost an atomic load per read and write. The agent takes no
// ownership of l: the caller closes it. Call it once per agent.
func (a *Agent) WrapIngress(l net.Listener) (net.Listener, error) {
	in, err := a.newIngress(l.Addr().String())
	if err != nil {
		return nil, err
	}
	return &ingressListener{Listener: l, in: in}, nil
}

// ServeIngress listens on listenAddr (e.g. ":8080") and forwards every
// connection, under the agent's ingress faults (see WrapIngress), to
// upstreamAddr: for an HTTP server that does not run in this process. It
// returns the address it listens on; it stops listening when ctx is done or
// the agent is closed.
func (a *Agent) ServeIngress(ctx context.Context, listenAddr, upstreamAddr string) (net.Addr, error) {
	if upstreamAddr == "" {
		return nil, fmt.Errorf("%s proxy: no upstream address", behavior.LinkIngress)
	}
	l, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("%s proxy: listen on %s for %s: %w", behavior.LinkIngress, listenAddr, upstreamAddr, err)
	}
	wl, err := a.WrapIngress(l)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = l.Close() }) }
	context.AfterFunc(ctx, stop)
	a.mu.Lock()
	if pl := a.proxies[behavior.LinkIngress]; pl != nil && pl.in != nil {
		pl.in.mu.Lock()
		pl.in.stopListen = stop
		pl.in.mu.Unlock()
	}
	a.mu.Unlock()
	go func() {
		for {
			c, err := wl.Accept()
			if err != nil {
				return
			}
			go a.forward(c, upstreamAddr)
		}
	}()
	return l.Addr(), nil
}

// forward copies c to a new connection to upstream and back, closing each
// side when the other has finished (as Toxiproxy's proxy does).
func (a *Agent) forward(c net.Conn, upstream string) {
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		a.log.Warn("ingress: dial upstream", "upstream", upstream, "err", err)
		_ = c.Close()
		return
	}
	go func() {
		_, _ = io.Copy(up, c)
		_ = up.Close()
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

func (a *Agent) newIngress(listen string) (*ingress, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, fmt.Errorf("%s proxy: agent is closed", behavior.LinkIngress)
	}
	if _, ok := a.proxies[behavior.LinkIngress]; ok {
		return nil, fmt.Errorf("%s proxy: already started", behavior.LinkIngress)
	}
	// The proxy is never started: only its toxic collection is used, and
	// its links are started by the connections themselves.
	in := &ingress{
		tp:    a.tp,
		proxy: toxiproxy.NewProxy(a.tp, string(behavior.LinkIngress), listen, ""),
		conns: map[*ingressConn]struct{}{},
	}
	a.proxies[behavior.LinkIngress] = &proxyLink{name: behavior.LinkIngress, proxy: in.proxy, in: in}
	a.log.Info("ingress wrapped", "listen", listen)
	return in, nil
}

// attached is called before a toxic is added to the collection: from then
// on every connection routes itself at its next read, and reads blocked on
// a socket are woken to do so.
func (in *ingress) attached() {
	in.active.Add(1)
	in.mu.Lock()
	defer in.mu.Unlock()
	for c := range in.conns {
		c.kick()
	}
}

// detached is called after a toxic left the collection.
func (in *ingress) detached() { in.active.Add(-1) }

// close closes every live connection (and the listener ServeIngress opened).
func (in *ingress) close() {
	in.mu.Lock()
	in.closed = true
	conns := in.conns
	in.conns = map[*ingressConn]struct{}{}
	stop := in.stopListen
	in.mu.Unlock()
	if stop != nil {
		stop()
	}
	for c := range conns {
		_ = c.Conn.Close()
	}
}

func (in *ingress) forget(c *ingressConn) {
	in.mu.Lock()
	delete(in.conns, c)
	in.mu.Unlock()
}

type ingressListener struct {
	net.Listener
	in *ingress
}

// Accept wraps the next connection.
func (l *ingressListener) Accept() (net.Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &ingressConn{Conn: raw, in: l.in, name: "ingress-" + strconv.FormatUint(l.in.nextID.Add(1), 10) + "-"}
	l.in.mu.Lock()
	// After the agent closed no fault can be on: the connection stays
	// direct and untracked.
	if !l.in.closed {
		l.in.conns[c] = struct{}{}
	}
	l.in.mu.Unlock()
	return c, nil
}

// aLongTimeAgo is a deadline in the past, which wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// ingressConn is one connection of the service port (see the top of this
// file). Conn is the socket.
type ingressConn struct {
	net.Conn
	in   *ingress
	name string

	// routed is set once, by the reading goroutine, with mu held.
	routed atomic.Bool

	mu sync.Mutex
	// kicked: the socket's read deadline is in the past to wake the reader.
	kicked bool
	closed bool
	// rdl and wdl are the caller's deadlines.
	rdl, wdl time.Time
	// up is the pipe the upstream link writes to and the caller reads; down
	// the pipe the caller writes and the downstream link reads.
	up, down *pipe
}

// Read reads the socket, or the upstream link once routed.
func (c *ingressConn) Read(p []byte) (int, error) {
	for {
		if c.routed.Load() {
			return c.up.read(p)
		}
		if c.in.active.Load() > 0 {
			if err := c.route(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := c.Conn.Read(p)
		if n == 0 && err != nil && c.unkick(err) {
			continue
		}
		return n, err
	}
}

// Write writes the socket, or the downstream link once routed.
func (c *ingressConn) Write(p []byte) (int, error) {
	if c.routed.Load() {
		return c.down.write(p)
	}
	return c.Conn.Write(p)
}

// kick wakes a read blocked on the socket so that it routes itself.
func (c *ingressConn) kick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routed.Load() || c.kicked || c.closed {
		return
	}
	c.kicked = true
	_ = c.Conn.SetReadDeadline(aLongTimeAgo)
}

// unkick reports whether err is the timeout of a kick (and undoes it), in
// which case the read is retried: it returned no byte.
func (c *ingressConn) unkick(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.kicked {
		return false
	}
	c.kicked = false
	_ = c.Conn.SetReadDeadline(c.rdl)
	return true
}

// route starts the connection's two links. It runs on the reading
// goroutine, between two reads of the socket.
func (c *ingressConn) route() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routed.Load() {
		return nil
	}
	if c.closed {
		return net.ErrClosed
	}
	c.kicked = false
	// The links own the socket from now on; see the top of this file.
	if err := c.Conn.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("ingress: route connection from %s: %w", c.RemoteAddr(), err)
	}
	up, down := newPipe(), newPipe()
	up.rdl.set(c.rdl)
	down.wdl.set(c.wdl)
	c.up, c.down = up, down
	tx := c.in.proxy.Toxics
	tx.StartLink(c.in.tp, c.name+"upstream", c.Conn, pipeWriter{up}, stream.Upstream)
	tx.StartLink(c.in.tp, c.name+"downstream", pipeReader{down}, socketEnd{c}, stream.Downstream)
	c.routed.Store(true)
	return nil
}

// Close closes the socket, or, once routed, the caller's ends of the pipes:
// the downstream link then flushes what its toxics hold to the socket and
// closes it, as a proxy does when its upstream closes.
func (c *ingressConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	routed := c.routed.Load()
	c.mu.Unlock()
	if !routed {
		c.in.forget(c)
		return c.Conn.Close()
	}
	c.up.closeRead()
	c.down.closeWrite()
	return nil
}

// SetDeadline sets both deadlines.
func (c *ingressConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline applies to the socket, or to the upstream pipe once routed.
func (c *ingressConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	switch {
	case c.routed.Load():
		c.up.rdl.set(t)
		return nil
	case c.kicked:
		return nil // unkick applies it
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline applies to the socket, or to the downstream pipe once
// routed.
func (c *ingressConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	if c.routed.Load() {
		c.down.wdl.set(t)
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// socketEnd is the socket as the downstream link's destination: closing it
// (once the link has flushed) also forgets the connection.
type socketEnd struct{ c *ingressConn }

func (s socketEnd) Write(p []byte) (int, error) { return s.c.Conn.Write(p) }

func (s socketEnd) Close() error {
	s.c.in.forget(s.c)
	return s.c.Conn.Close()
}
