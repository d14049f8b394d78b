// Command service is the one program every simulated microservice runs:
// locally as a child process of the local runtime, on Kubernetes as the
// container. Its configuration comes from flags and VECRO_* environment
// variables (see internal/config and the service binary contract in
// ARCHITECTURE.md).
//
// One process holds:
//
//   - the service port (--listen), served by the HTTP server through the
//     fault agent's listener wrapper: a connection goes straight to the
//     server while no "on: ingress" fault is on, and through the agent's
//     Toxiproxy toxics, in process, once one is. Any method and path is
//     served: delay → cpu →
//     io → database reads and writes (storage types) → downstream calls →
//     a payload of net/2 bytes;
//   - the admin port (--admin-listen): /metrics and /healthz, open, and the
//     fault API under /faults, which needs the bearer token. Faults never act
//     on it, so they cannot delay a scrape or fail a probe;
//   - for storage types, a connection to a real database server (--db) that
//     the agent fronts with a second proxy, so that "on: db" faults act on it.
//
// Every request leaves a JSON line on stdout (the request log: trace and
// span ids, method, path, status, duration, and an error line with the
// cause of every failure), capped at --log-rate lines per second, the
// dropped ones counted in vecro_log_lines_dropped_total; the instance's own
// events go to stderr as text. With --otlp-endpoint every request is also a
// server span that continues the caller's W3C traceparent, every downstream
// call a client span whose context the callee receives, and every database
// operation a span with db.system, exported in batches over OTLP/HTTP;
// without it no request pays for tracing.
//
// SIGTERM or SIGINT drains it: /healthz turns 503, the HTTP server stops
// accepting and lets in-flight requests finish (--shutdown-timeout), then the
// agent switches every fault off and the database proxy closes.
//
// With --addr-file the bound addresses are written as JSON once the instance
// is ready ({"listen": …, "admin": …, "pid": …}), so that a parent may pass
// ":0" ports.
package main
