package runtime_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
)

func TestContractWorkloadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    spec.Workload
		want []string
	}{
		{"empty", spec.Workload{}, nil},
		{"base", spec.Workload{CPU: 2, IO: 3, Net: 512, Memory: 16 << 20},
			[]string{"--cpu=2", "--io=3", "--net=512", "--memory=16"}},
		{"memory rounds up to MiB", spec.Workload{Memory: 1<<20 + 1}, []string{"--memory=2"}},
		{"storage", spec.Workload{Read: 1, Write: 2}, []string{"--read=1", "--write=2"}},
		{"delay", spec.Workload{Delay: &spec.Delay{Time: spec.Duration(300 * time.Millisecond), Jitter: spec.Duration(50 * time.Millisecond)}},
			[]string{"--delay=300ms", "--jitter=50ms"}},
		{"delay without jitter", spec.Workload{Delay: &spec.Delay{Time: spec.Duration(time.Second)}}, []string{"--delay=1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Only the workload: no names, type or call mode.
			c := runtime.Contract("", &spec.Service{Workload: tc.w}, 0, false)
			c.CallMode = ""
			if got := c.Args(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("workload flags = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContractNamesTheService(t *testing.T) {
	c := runtime.Contract("social", &spec.Service{Name: "text", Type: spec.TypeBase}, 42, true)
	want := []string{"--system=social", "--service=text", "--type=base", "--call-mode=sequential", "--seed=42", "--legacy-metrics=true"}
	if got := c.Args(); !reflect.DeepEqual(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
}
