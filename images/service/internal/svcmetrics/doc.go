// Package svcmetrics holds the service's Prometheus registry and its vecro_*
// series: requests by code and method, the request duration histogram (the
// original's buckets), response bytes, requests in flight, downstream call
// durations by callee and code, and the bytes the service itself received
// and sent.
//
// Bytes are counted at the service's own sockets — the listener of its HTTP
// server and the dialer of its downstream client — because the network
// namespace's counters (/proc/self/net/dev) are shared by every process of
// a local deployment, so they cannot tell one service from another. The
// admin port (scrapes, probes, fault calls) is not counted: it is the
// harness's traffic, not the service's.
//
// Every series carries the constant labels vecro_system, vecro_service and
// vecro_instance; so do client_golang's go_* and process_* collectors, which
// are registered here too. With Options.Legacy the original VECROsim's
// vecro_base_<system>_* series are added under their old names and label
// vecrosim_service_name, so its PromQL keeps working.
package svcmetrics
