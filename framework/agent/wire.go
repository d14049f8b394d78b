package agent

import (
	"encoding/json"
	"time"
)

// Fault is one behaviour of one fault as the harness pushes it to an agent:
// PUT /faults/{ID}. Start and End are absolute, so the agent switches the
// fault on and off by its own clock and drops it at End even if the harness
// is gone.
type Fault struct {
	// ID is unique per fault and behaviour, e.g. "db-delay.net-delay".
	ID string `json:"id"`
	// Fault is the fault's name in its definition file.
	Fault string `json:"fault"`
	// Behavior is the behaviour's kind, e.g. "net-delay".
	Behavior string `json:"behavior"`
	// Params is the behaviour's parameter struct from framework/spec, as JSON.
	Params json.RawMessage `json:"params"`
	Start  time.Time       `json:"start"`
	End    time.Time       `json:"end"`
	// Seed drives every random draw of the behaviour (jitter, loss).
	Seed int64 `json:"seed"`
}

// Phase is where a fault is in its life on one agent.
type Phase string

// Phases of a fault on an agent.
const (
	PhasePending   Phase = "pending"
	PhaseActive    Phase = "active"
	PhaseDone      Phase = "done"
	PhaseCancelled Phase = "cancelled"
)

// Status is what an agent reports of one fault: GET /faults returns a list.
type Status struct {
	Fault
	Phase Phase `json:"phase"`
	// AppliedStart and AppliedEnd are when the agent really switched the
	// behaviour on and off; nil until it did.
	AppliedStart *time.Time `json:"applied_start,omitempty"`
	AppliedEnd   *time.Time `json:"applied_end,omitempty"`
	// Effect is what the behaviour measurably did, by name, e.g.
	// "requests_delayed", "mean_added_delay_seconds", "requests_aborted",
	// "bytes_throttled", "cpu_seconds".
	Effect map[string]float64 `json:"effect,omitempty"`
	// Error says why the agent could not switch the behaviour on (e.g. the
	// data dir is not writable); the fault is then done without an applied
	// window.
	Error string `json:"error,omitempty"`
}

// Endpoint is where one agent listens and the token it requires.
type Endpoint struct {
	// Instance names the service instance, e.g. "posts-storage-db-0".
	Instance string `json:"instance"`
	Service  string `json:"service"`
	// URL is the agent's admin base URL, e.g. "http://127.0.0.1:40123".
	URL   string `json:"url"`
	Token string `json:"token"`
}

// ErrorBody is the JSON body of every error the agent returns.
type ErrorBody struct {
	Error string `json:"error"`
}
