package behavior

// HTTPAbort answers Percent of requests with Status (400–599;
// DefaultAbortStatus when 0, see StatusCode) instead of serving them.
type HTTPAbort struct {
	Percent Percent `yaml:"percent" json:"percent" vecro:"required"`
	Status  int     `yaml:"status,omitempty" json:"status,omitempty"`
}

// DefaultAbortStatus is the status http-abort answers with when none is
// set: 503 Service Unavailable, what an overloaded or draining service says.
const DefaultAbortStatus = 503

// Kind implements Behavior.
func (*HTTPAbort) Kind() string { return "http-abort" }

// StatusCode returns the status to answer with, DefaultAbortStatus when unset.
func (h *HTTPAbort) StatusCode() int {
	if h.Status == 0 {
		return DefaultAbortStatus
	}
	return h.Status
}

// Validate implements Behavior. A Status of 0 is unset, not wrong: only a
// file can tell "status: 0" from no status, so spec checks that.
func (h *HTTPAbort) Validate() []Problem {
	var ps problems
	ps.percent("percent", h.Percent)
	if h.Status != 0 && (h.Status < 400 || h.Status > 599) {
		ps.add("status", "status is %d; want an error status from 400 to 599", h.Status)
	}
	return ps
}
