// Package agent is the harness side of the fault agent that lives inside
// every service process: the wire types of its admin API (Fault, Status,
// Endpoint, ErrorBody), a client of one agent (Client) and fan-out helpers
// for many (PushAll, ClearAll, ListAll).
//
// The agent listens on the service's admin port (never the service port), so
// a fault on the service port cannot delay a scrape or fail a probe. Every
// call but /metrics and /healthz carries a bearer token.
//
// A fault set is pushed with PushAll: all of it or none of it. If any agent
// refuses a fault or cannot be reached, every fault already pushed is deleted
// again and the failures are returned joined, each naming its instance, so a
// run never starts with half its faults armed. Each fault carries an absolute
// start and end; the agent switches it on and off by its own clock, so a
// harness that dies leaves nothing behind for longer than the fault's end.
package agent
