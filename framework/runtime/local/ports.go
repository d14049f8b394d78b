package local

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// portSet is a batch of loopback listeners taken together.
type portSet struct {
	ls   []net.Listener
	next int
}

// Where freePorts looks. Children bind their ports a moment (up to a
// database start and a dataset seed) after freePorts released them, so a
// port must not be one that anybody else may take meanwhile. The kernel
// hands out ephemeral ports (bind to port 0, the local end of an outgoing
// connection) from ip_local_port_range only, and the services themselves
// bind internal ports to 0 and connect to each other all through a start:
// drawing from below that range leaves them nothing to collide with. Other
// vecro runtimes on the machine draw from the same range, so Start holds
// portLock from drawing until every instance has bound its ports.
const (
	portFloor          = 10000 // above the well-known and most registered servers' ports
	defaultEphemeralLo = 49152 // IANA's range, used by macOS and the BSDs
)

// portLock serializes port drawing among the runtimes of this machine.
func portLock() string { return filepath.Join(os.TempDir(), "vecro-ports.lock") }

// ephemeralLow is the first port the kernel may hand out by itself.
func ephemeralLow() int {
	if runtime.GOOS == "linux" {
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
			if f := strings.Fields(string(b)); len(f) == 2 {
				if lo, err := strconv.Atoi(f[0]); err == nil {
					return lo
				}
			}
		}
	}
	return defaultEphemeralLo
}

// freePorts reserves n distinct loopback ports: random ports between
// portFloor and the ephemeral range that nobody listens on, each listener
// held until all are taken. Where that range is too small it falls back to
// ports the kernel picks.
func freePorts(n int) (*portSet, error) {
	ps := &portSet{ls: make([]net.Listener, 0, n)}
	lo, hi := portFloor, ephemeralLow()
	if hi-lo >= 4*n {
		tried := map[int]bool{}
		for attempts := 0; len(ps.ls) < n && attempts < 50*n; attempts++ {
			p := lo + rand.IntN(hi-lo)
			if tried[p] {
				continue
			}
			tried[p] = true
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
				ps.ls = append(ps.ls, l)
			}
		}
	}
	for len(ps.ls) < n {
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
