package local

import (
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vecrosim/vecro/framework/spec"
)

// fixture loads a system from fixtures/systems.
func fixture(t testing.TB, name string) *spec.System {
	t.Helper()
	sys, err := spec.LoadSystem(filepath.Join("..", "..", "..", "fixtures", "systems", name))
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func newTestPlan(t testing.TB, sys *spec.System) *plan {
	t.Helper()
	p, err := newPlan(sys, 42)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.closeFronts)
	return p
}

func TestPlanSocial(t *testing.T) {
	sys := fixture(t, "social.yaml")
	p := newTestPlan(t, sys)
	if len(p.services) != 25 || len(p.instances()) != 25 {
		t.Fatalf("plan has %d services, %d instances; want 25, 25", len(p.services), len(p.instances()))
	}
	pos := map[string]int{}
	for i, s := range p.services {
		pos[s.spec.Name] = i
	}
	addrs := map[string]string{}
	for _, s := range p.services {
		for _, c := range s.spec.Calls {
			if pos[c] > pos[s.spec.Name] {
				t.Errorf("%s starts before its callee %s", s.spec.Name, c)
			}
		}
		if s.front != nil {
			t.Errorf("%s has one replica but a front", s.spec.Name)
		}
		if s.addr != s.instances[0].listen {
			t.Errorf("%s: callers dial %s, not its only instance's %s", s.spec.Name, s.addr, s.instances[0].listen)
		}
		if s.cpu != spec.DefaultCPULimit || s.memory != spec.DefaultMemoryLimit {
			t.Errorf("%s limits %v %v, want the defaults", s.spec.Name, s.cpu, s.memory)
		}
		for _, in := range s.instances {
			for _, a := range []string{in.listen, in.admin} {
				if !strings.HasPrefix(a, "127.0.0.1:") {
					t.Errorf("%s: address %s is not on loopback", in.name, a)
				}
				if other, dup := addrs[a]; dup {
					t.Errorf("%s and %s share %s", in.name, other, a)
				}
				addrs[a] = in.name
			}
		}
	}
	if got := p.byName["posts-storage-db"].instances[0].name; got != "posts-storage-db-0" {
		t.Errorf("instance name %q, want posts-storage-db-0", got)
	}
}

func TestPlanReplicasGetAFront(t *testing.T) {
	sys := &spec.System{Name: "r", Replicas: 3, Services: []spec.Service{
		{Name: "a", Type: spec.TypeBase, Calls: []string{"b"}},
		{Name: "b", Type: spec.TypeBase, Replicas: 1, Resources: spec.Resources{CPU: 1500, Memory: 64 << 20}},
	}}
	p := newTestPlan(t, sys)
	if got := []string{p.services[0].spec.Name, p.services[1].spec.Name}; !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("start order %v, want [b a]", got)
	}
	a, b := p.byName["a"], p.byName["b"]
	if len(a.instances) != 3 || a.front == nil || a.addr != a.front.Addr().String() {
		t.Fatalf("a: %d instances, front %v, addr %s", len(a.instances), a.front, a.addr)
	}
	if len(b.instances) != 1 || b.front != nil {
		t.Errorf("b: %d instances, front %v", len(b.instances), b.front)
	}
	if b.cpu != 1500 || b.memory != 64<<20 {
		t.Errorf("b limits %v %v, want 1500m 64Mi", b.cpu, b.memory)
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "VECRO_LISTEN=:1", "GOMAXPROCS=8", "HOME=/h", "VECRO_CACHE=/c"}, "VECRO_TOKEN=x")
	want := []string{"PATH=/bin", "HOME=/h", "VECRO_TOKEN=x"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
}

func TestFreePortsOutsideTheEphemeralRange(t *testing.T) {
	ps, err := freePorts(200)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.closeRest()
	lo, hi := portFloor, ephemeralLow()
	seen := map[string]bool{}
	for range 200 {
		a := ps.addr()
		if seen[a] {
			t.Fatalf("port %s given twice", a)
		}
		seen[a] = true
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		if n < lo || n >= hi {
			t.Errorf("port %d outside [%d, %d): the kernel may hand it to someone else", n, lo, hi)
		}
	}
}
