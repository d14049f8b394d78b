package local

import (
	"fmt"
	"net"
	"strconv"

	"github.com/vecrosim/vecro/framework/spec"
)

// plan is a system laid out on this machine: every instance's name, ports
// and seed, fixed before any process starts.
type plan struct {
	system   string
	seed     int64          // the run's; each instance mixes in its name (service.InstanceSeed)
	services []*servicePlan // callees before their callers
	byName   map[string]*servicePlan
}

// servicePlan is one service: its definition, limits and address.
type servicePlan struct {
	spec   spec.Service
	cpu    spec.MilliCPU
	memory spec.Size
	// addr is what callers dial: the front, or the only instance.
	addr string
	// front is the round-robin listener of a replicated service, held open
	// from planning so that nobody else takes its port; nil for one replica.
	front     net.Listener
	instances []*instancePlan
}

// instancePlan is one replica.
type instancePlan struct {
	service *servicePlan
	name    string
	listen  string // 127.0.0.1:P, owned by the agent's ingress proxy
	admin   string // 127.0.0.1:A
}

// url is the service URL callers use.
func (s *servicePlan) url() string { return "http://" + s.addr }

// newPlan lays out sys, which must be valid. It closes any listener it
// opened when it fails.
func newPlan(sys *spec.System, seed int64) (p *plan, err error) {
	p = &plan{system: sys.Name, seed: seed, byName: map[string]*servicePlan{}}
	defer func() {
		if err != nil {
			p.closeFronts()
		}
	}()
	order := sys.StartOrder()

	// Count the ports first and take them in one go, each listener held
	// until all are taken, so that no two instances get the same port.
	nports := 0
	for _, name := range order {
		n := sys.ReplicasOf(name)
		nports += 2 * n
		if n > 1 {
			nports++
		}
	}
	ports, err := freePorts(nports)
	if err != nil {
		return nil, err
	}
	defer ports.closeRest()

	for _, name := range order {
		s := sys.Service(name)
		if s == nil {
			return nil, fmt.Errorf("plan system %s: service %q vanished", sys.Name, name)
		}
		lim := s.Limits()
		sp := &servicePlan{spec: *s, cpu: lim.CPU, memory: lim.Memory}
		n := sys.ReplicasOf(name)
		for r := range n {
			iname := s.Name + "-" + strconv.Itoa(r)
			sp.instances = append(sp.instances, &instancePlan{
				service: sp,
				name:    iname,
				listen:  ports.addr(),
				admin:   ports.addr(),
			})
		}
		if n > 1 {
			sp.front = ports.take()
			sp.addr = sp.front.Addr().String()
		} else {
			sp.addr = sp.instances[0].listen
		}
		p.services = append(p.services, sp)
		p.byName[s.Name] = sp
	}
	// Only the fronts stay open (deferred closeRest): the instances bind
	// their ports themselves.
	return p, nil
}

// instances returns every instance, callees' first.
func (p *plan) instances() []*instancePlan {
	var out []*instancePlan
	for _, s := range p.services {
		out = append(out, s.instances...)
	}
	return out
}

func (p *plan) closeFronts() {
	for _, s := range p.services {
		if s.front != nil {
			s.front.Close()
		}
	}
}
