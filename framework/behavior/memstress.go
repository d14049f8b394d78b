package behavior

// MemStress allocates and touches Size bytes for the fault's duration.
type MemStress struct {
	Size Size `yaml:"size" json:"size" vecro:"required"`
}

// Kind implements Behavior.
func (*MemStress) Kind() string { return "mem-stress" }

// Validate implements Behavior.
func (m *MemStress) Validate() []Problem {
	var ps problems
	if m.Size <= 0 {
		ps.add("size", "size is %s; want more than 0", m.Size)
	}
	return ps
}
