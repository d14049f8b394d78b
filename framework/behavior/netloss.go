package behavior

// NetLoss loses Percent of the traffic's segments; on TCP that shows as
// retransmission delay (the agent documents its model).
type NetLoss struct {
	Percent Percent `yaml:"percent" json:"percent" vecro:"required"`
	On      Link    `yaml:"on,omitempty" json:"on,omitempty"`
}

// Kind implements Behavior.
func (*NetLoss) Kind() string { return "net-loss" }

// Link implements Networked.
func (n *NetLoss) Link() Link { return linkOrDefault(n.On) }

// Validate implements Behavior.
func (n *NetLoss) Validate() []Problem {
	var ps problems
	ps.percent("percent", n.Percent)
	ps.link(n.On)
	return ps
}
