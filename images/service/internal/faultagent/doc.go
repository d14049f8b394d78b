// Package faultagent is the fault agent that lives inside every service
// process. The harness pushes timed faults to it over the admin port
// (PUT /faults/{id}, see framework/agent for the wire types and a client); the
// agent switches each one on and off by its own clock and records what it
// really did.
//
// # Schedule
//
// Every fault carries an absolute start and end. The agent arms one timer per
// edge, so a fault ends on time even if the harness that pushed it is gone (a
// time-to-live, not a lease). A fault pushed late (start already past, end
// still ahead) is switched on at once; its applied start says so. The applied
// start and end are taken when the behaviour is really in effect and really
// gone (a toxic added to every live connection, memory touched, workers
// stopped), not when the timer fired.
//
// # Where behaviours act
//
// Network behaviours (net-delay, net-loss, net-rate) are toxics of an
// embedded Toxiproxy. On the service port (on: ingress, the default) the HTTP
// server serves through a listener the agent wraps (WrapIngress): its
// connections use the socket directly while no ingress toxic is attached and
// run through Toxiproxy's toxic links, in process, from the moment one is
// (ingress.go), so a fault-free service pays no proxy hop. A storage
// service's database link (on: db) is a real Toxiproxy TCP proxy (FrontDB).
// The toxics are this package's own, registered in
// Toxiproxy's registry, because Toxiproxy's latency toxic draws jitter from an
// unseeded generator, works in whole milliseconds and delays every TCP chunk
// rather than every request, and Toxiproxy has no loss toxic at all. Every
// random draw comes from a math/rand/v2 PCG source seeded by the fault's seed
// and the agent's seed, so a run is replayable: the sequence of draws is fixed,
// although which connection gets which draw depends on arrival order.
//
// The toxics hold chunks with a clock of their own (preciseClock): the Go
// runtime's timers sleep in epoll_wait, whose timeout is whole milliseconds,
// so they fire up to 1 ms late even on an idle machine, which is the whole
// error budget of a delay fault. The clock sleeps in ppoll(2), which takes
// nanoseconds, on one dedicated thread per agent.
//
// http-abort acts in the HTTP middleware; cpu-stress, io-stress and mem-stress
// act inside the process. Each behaviour is one file with its model and units
// in its doc comment. Its parameters and their rules are framework/behavior's,
// the same Validate spec runs on the fault file, so a fault the harness
// accepted is not refused here for a rule spec does not know; the file adds
// only what is this agent's (its kernels, the data dir, the link's proxy).
//
// # Ground truth
//
// GET /faults returns each fault's phase, applied window and effect (counts and
// means, see agent.Status). The same figures are exported as
// vecro_fault_active{id,fault,behavior} and
// vecro_fault_effect{id,fault,behavior,effect}.
package faultagent
