// Package agent is the harness side of the fault agent that lives inside
// every service process: the wire types of its admin API and a client.
//
// The agent listens on the service's admin port (never the service port), so
// a fault on the service port cannot delay a scrape or fail a probe. Every
// call but /metrics and /healthz carries a bearer token.
package agent
