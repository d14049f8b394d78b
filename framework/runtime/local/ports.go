package local

import (
	"fmt"
	"net"
)

// portSet is a batch of loopback listeners taken together.
type portSet struct {
	ls   []net.Listener
	next int
}

// freePorts reserves n distinct loopback ports by listening on
// 127.0.0.1:0. The kernel picks them at random from the ephemeral range
// and, since Linux 4.6, prefers odd ports for bind(0) and even ports for
// outgoing connections, so a port released here and bound again by a child
// a moment later is rarely taken in between.
func freePorts(n int) (*portSet, error) {
	ps := &portSet{ls: make([]net.Listener, 0, n)}
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ps.closeRest()
			return nil, fmt.Errorf("reserve %d loopback ports: %w", n, err)
		}
		ps.ls = append(ps.ls, l)
	}
	return ps, nil
}

// take hands over the next listener; the caller owns it.
func (ps *portSet) take() net.Listener {
	l := ps.ls[ps.next]
	ps.ls[ps.next] = nil
	ps.next++
	return l
}

// addr gives out the next port by address only: its listener stays in the
// set until closeRest, so that no later reservation gets the same port.
func (ps *portSet) addr() string {
	a := ps.ls[ps.next].Addr().String()
	ps.next++
	return a
}

// closeRest releases every listener not taken, keeping its port number
// for whoever was given it as an address.
func (ps *portSet) closeRest() {
	for _, l := range ps.ls {
		if l != nil {
			l.Close()
		}
	}
	ps.ls = nil
}
