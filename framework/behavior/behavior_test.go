package behavior

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestValidate pins each rule to its field, relative to the behaviour, and
// the words spec's fixtures and the agent's errors both rely on.
func TestValidate(t *testing.T) {
	ms := func(n int) Duration { return Duration(time.Duration(n) * time.Millisecond) }
	for _, c := range []struct {
		b    Behavior
		want []string // "field: message substring", in order; none = valid
	}{
		{&NetDelay{Time: ms(10), Jitter: ms(5)}, nil},
		{&NetDelay{Time: ms(10), Jitter: ms(20), Distribution: "normal", On: LinkDB}, nil},
		{&NetDelay{}, []string{"time: delay time is 0s; want more than 0"}},
		{&NetDelay{Time: ms(10), Jitter: ms(-1)}, []string{"jitter: jitter is negative"}},
		{&NetDelay{Time: ms(10), Jitter: ms(20)}, []string{"jitter: jitter 20ms exceeds time 10ms: a uniform delay would go negative"}},
		{&NetDelay{Time: ms(10), Distribution: "normall"}, []string{`distribution: unknown distribution "normall" (did you mean "normal"?); want one of uniform, normal`}},
		{&NetDelay{Time: ms(10), On: "egress"}, []string{`on: unknown link "egress"; want ingress`}},
		{&NetLoss{Percent: 5}, nil},
		{&NetLoss{Percent: 0, On: "dbb"}, []string{"percent: percent is 0; want more than 0 and at most 100", `on: unknown link "dbb"`}},
		{&NetRate{Rate: 125000}, nil},
		{&NetRate{Rate: 0.5}, []string{"rate: rate is 4bit; want at least 1 byte/s (8bit)"}},
		{&CPUStress{Load: 50, Workers: MaxCPUWorkers, Method: "float"}, nil},
		{&CPUStress{Load: 101, Workers: -1, Method: "sqr"}, []string{
			"load: load is 101; want more than 0 and at most 100",
			"workers: workers is -1; want 0 (one per core) to 1024",
			`method: unknown cpu-stress method "sqr" (did you mean "sqrt"?); want one of sqrt, matrixprod, int64, float`}},
		{&IOStress{}, nil},
		{&IOStress{Workers: MaxIOWorkers + 1, Method: "read"}, []string{"workers: workers is 65; want 0 (one) to 64", `method: unknown io-stress method "read"`}},
		{&MemStress{Size: 1 << 20}, nil},
		{&MemStress{}, []string{"size: size is 0B; want more than 0"}},
		{&HTTPAbort{Percent: 10}, nil},
		{&HTTPAbort{Percent: 10, Status: 200}, []string{"status: status is 200; want an error status from 400 to 599"}},
	} {
		var got []string
		for _, p := range c.b.Validate() {
			got = append(got, p.String())
		}
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s %+v: Validate = %q, want %q", c.b.Kind(), c.b, got, c.want)
		}
	}
}

func TestNetworkedDefaultsToIngress(t *testing.T) {
	for _, n := range []Networked{&NetDelay{}, &NetLoss{}, &NetRate{}} {
		if n.Link() != LinkIngress {
			t.Errorf("%s: Link() = %q, want %q", n.Kind(), n.Link(), LinkIngress)
		}
	}
	if l := (&NetRate{On: LinkDB}).Link(); l != LinkDB {
		t.Errorf("on: db gives %q", l)
	}
}

func TestKindsAreDistinct(t *testing.T) {
	var kinds []string
	for _, b := range []Behavior{&NetDelay{}, &NetLoss{}, &NetRate{}, &CPUStress{}, &IOStress{}, &MemStress{}, &HTTPAbort{}} {
		if slices.Contains(kinds, b.Kind()) {
			t.Errorf("kind %q twice", b.Kind())
		}
		kinds = append(kinds, b.Kind())
	}
}

func TestStatusCode(t *testing.T) {
	if got := (&HTTPAbort{}).StatusCode(); got != DefaultAbortStatus {
		t.Errorf("unset status answers %d, want %d", got, DefaultAbortStatus)
	}
	if got := (&HTTPAbort{Status: 500}).StatusCode(); got != 500 {
		t.Errorf("status 500 answers %d", got)
	}
}
