// Package fault turns a fault definition into a timeline of agent faults and
// reads back what really happened.
//
// Plan resolves each fault's target to agent endpoints (by its mode: all
// replicas, one, or a percentage, drawn from the seed), fixes absolute start
// and end times from t0 (the moment load starts) and derives one seed per
// fault and behaviour, so that a run is replayable from its seed. The
// harness pushes the plan to the agents ahead of time; each agent switches
// its faults on and off by its own clock. Windows merges the agents' reports
// into the ground truth a dataset's labels.csv carries: planned and applied
// windows, which instances really applied each fault (and why the others did
// not), and the measured effect. Ground truth is what the agents report,
// never the plan: a fault no agent switched on is never active.
package fault
