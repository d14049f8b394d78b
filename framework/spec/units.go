package spec

import (
	"fmt"
	"math"
	"strings"

	"github.com/vecrosim/vecro/framework/behavior"
)

// The units are defined in framework/behavior, beside the behaviours whose
// parameters they are, so that the service binary can read them without
// this package's YAML decoder. They are aliases: the same types, with the
// same methods, under the names this package always had.
type (
	// Duration is a time.Duration that also reads the seed's "2min" spelling.
	Duration = behavior.Duration
	// MilliCPU is CPU in thousandths of a core, as Kubernetes' "700m".
	MilliCPU = behavior.MilliCPU
	// Size is a number of bytes; YAML accepts "16MiB", "1GiB", "250Mi" and
	// a bare number of MiB.
	Size = behavior.Size
	// Rate is a bandwidth in bytes per second in tc(8) units.
	Rate = behavior.Rate
	// Percent is a number from 0 to 100.
	Percent = behavior.Percent
)

// ParseDuration reads a duration as behavior.ParseDuration does: Go syntax
// or the seed's spellings, and no bare numbers other than 0.
func ParseDuration(s string) (Duration, error) { return behavior.ParseDuration(s) }

// ParseSize reads a size as behavior.ParseSize does ("16MiB"; a bare number
// is MiB).
func ParseSize(s string) (Size, error) { return behavior.ParseSize(s) }

// ParseRate reads a bandwidth as behavior.ParseRate does (tc(8) units).
func ParseRate(s string) (Rate, error) { return behavior.ParseRate(s) }

// ParseMilliCPU reads CPU as behavior.ParseMilliCPU does ("700m", "0.5").
func ParseMilliCPU(s string) (MilliCPU, error) { return behavior.ParseMilliCPU(s) }

// ParsePercent reads a percentage as behavior.ParsePercent does ("50",
// "50%").
func ParsePercent(s string) (Percent, error) { return behavior.ParsePercent(s) }

// Mode values besides "N%".
const (
	ModeAll Mode = "all"
	ModeOne Mode = "one"
)

// Count returns how many of n replicas the mode hits: all of them ("all" or
// empty), one, or N% rounded up (at least one, at most n). A malformed mode
// counts as "all"; validation rejects it before anyone asks.
func (m Mode) Count(n int) int {
	if n <= 0 {
		return 0
	}
	switch m {
	case ModeOne:
		return 1
	case "", ModeAll:
		return n
	}
	p, err := m.Percent()
	if err != nil {
		return n
	}
	k := int(math.Ceil(float64(n) * p.Fraction()))
	return max(1, min(n, k))
}

// Percent returns N of an "N%" mode.
func (m Mode) Percent() (Percent, error) {
	num, ok := strings.CutSuffix(string(m), "%")
	// ParsePercent would also take a sign, spaces and a second "%": a mode
	// is only digits and a point before its "%".
	if ok && strings.Trim(num, "0123456789.") == "" {
		if p, err := ParsePercent(num); err == nil {
			return p, nil
		}
	}
	return 0, fmt.Errorf("mode %q is not a percentage", m)
}
