package behavior

// IOStress keeps Workers (0 means one) writing and syncing files in the
// service's data dir; Method is one of IOMethods, empty for the first.
type IOStress struct {
	Method  string `yaml:"method,omitempty" json:"method,omitempty"`
	Workers int    `yaml:"workers,omitempty" json:"workers,omitempty"`
}

// IOMethods are the io-stress methods the agent implements: write (large
// writes, never synced: page-cache pressure), fsync (small writes, each
// synced: device latency) and mixed (in between, like the io workload). An
// empty method means the first one.
var IOMethods = []string{"write", "fsync", "mixed"}

// MaxIOWorkers bounds io-stress workers: each keeps a file of its own
// busy in the service's data dir, which the service shares.
const MaxIOWorkers = 64

// Kind implements Behavior.
func (*IOStress) Kind() string { return "io-stress" }

// Validate implements Behavior.
func (s *IOStress) Validate() []Problem {
	var ps problems
	if s.Workers < 0 || s.Workers > MaxIOWorkers {
		ps.add("workers", "workers is %d; want 0 (one) to %d", s.Workers, MaxIOWorkers)
	}
	ps.method(s.Kind(), s.Method, IOMethods)
	return ps
}
