package behavior

// NetRate limits bandwidth to Rate.
type NetRate struct {
	Rate Rate `yaml:"rate" json:"rate" vecro:"required"`
	On   Link `yaml:"on,omitempty" json:"on,omitempty"`
}

// Kind implements Behavior.
func (*NetRate) Kind() string { return "net-rate" }

// Link implements Networked.
func (n *NetRate) Link() Link { return linkOrDefault(n.On) }

// Validate implements Behavior.
func (n *NetRate) Validate() []Problem {
	var ps problems
	if !(n.Rate >= 1) { // also catches NaN
		ps.add("rate", "rate is %s; want at least 1 byte/s (8bit)", n.Rate)
	}
	ps.link(n.On)
	return ps
}
