//go:build !linux

package local

import (
	"log/slog"
	"runtime"

	"github.com/vecrosim/vecro/framework/spec"
)

type cgroups struct{}

type cgroupSlot struct{}

type errNoCgroups struct{ reason string }

func (e errNoCgroups) Error() string { return e.reason }

func newCgroups(string, *slog.Logger) (*cgroups, error) {
	return nil, errNoCgroups{"cgroups exist only on Linux, not " + runtime.GOOS}
}

func (*cgroups) describe() string { return "" }

func (*cgroups) slot(string, spec.MilliCPU, spec.Size) (*cgroupSlot, error) { return nil, nil }

func (*cgroupSlot) command(bin string, args []string) (string, []string) { return bin, args }

func (*cgroups) remove() {}

func (*cgroups) adopt(string, int, spec.MilliCPU, spec.MilliCPU) error { return nil }

func (*cgroups) dirs() []string { return nil }

func (*cgroupSlot) oomKills() int { return 0 }
