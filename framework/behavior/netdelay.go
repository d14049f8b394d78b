package behavior

import (
	"slices"
	"strings"
)

// NetDelay delays traffic by Time ± Jitter, drawn from Distribution
// ("uniform", the default, or "normal" with Jitter as the standard deviation).
type NetDelay struct {
	Time         Duration `yaml:"time" json:"time" vecro:"required"`
	Jitter       Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Distribution string   `yaml:"distribution,omitempty" json:"distribution,omitempty"`
	On           Link     `yaml:"on,omitempty" json:"on,omitempty"`
}

// Distributions are the net-delay jitter distributions. An empty one means
// the first one.
var Distributions = []string{"uniform", "normal"}

// Kind implements Behavior.
func (*NetDelay) Kind() string { return "net-delay" }

// Link implements Networked.
func (n *NetDelay) Link() Link { return linkOrDefault(n.On) }

// Validate implements Behavior.
func (n *NetDelay) Validate() []Problem {
	var ps problems
	if n.Time <= 0 {
		ps.add("time", "delay time is %s; want more than 0", n.Time)
	}
	if n.Jitter < 0 {
		ps.add("jitter", "jitter is negative")
	}
	// A uniform draw spans time ± jitter: past time it would ask for a
	// negative delay.
	if (n.Distribution == "" || n.Distribution == Distributions[0]) && n.Time > 0 && n.Jitter > n.Time {
		ps.add("jitter", "jitter %s exceeds time %s: a uniform delay would go negative (use distribution: normal, or a smaller jitter)", n.Jitter, n.Time)
	}
	if n.Distribution != "" && !slices.Contains(Distributions, n.Distribution) {
		ps.add("distribution", "unknown distribution %q%s; want one of %s", n.Distribution, DidYouMean(n.Distribution, Distributions), strings.Join(Distributions, ", "))
	}
	ps.link(n.On)
	return ps
}
