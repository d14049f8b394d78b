package behavior

// CPUStress burns CPU: Workers goroutines each busy Load percent of the
// time (Load in (0, 100]; Workers 0 means one per core; Method one of
// CPUMethods, empty for the first).
type CPUStress struct {
	Load    Percent `yaml:"load" json:"load" vecro:"required"`
	Workers int     `yaml:"workers,omitempty" json:"workers,omitempty"`
	Method  string  `yaml:"method,omitempty" json:"method,omitempty"`
}

// CPUMethods are the cpu-stress methods the agent implements. An empty
// method means the first one.
var CPUMethods = []string{"sqrt", "matrixprod", "int64", "float"}

// MaxCPUWorkers bounds cpu-stress workers: each is an OS thread in the
// service's process, so the bound is what a slip of the keyboard can start.
const MaxCPUWorkers = 1024

// Kind implements Behavior.
func (*CPUStress) Kind() string { return "cpu-stress" }

// Validate implements Behavior.
func (c *CPUStress) Validate() []Problem {
	var ps problems
	ps.percent("load", c.Load)
	if c.Workers < 0 || c.Workers > MaxCPUWorkers {
		ps.add("workers", "workers is %d; want 0 (one per core) to %d", c.Workers, MaxCPUWorkers)
	}
	ps.method(c.Kind(), c.Method, CPUMethods)
	return ps
}
