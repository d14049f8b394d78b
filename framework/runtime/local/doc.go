// Package local is the embedded runtime: it runs a whole system on this
// machine, one child process of the service binary (images/service) per
// service instance, on loopback ports, with no cluster and no container
// engine, so that experiments run on any laptop and in CI.
//
// # What Start does
//
//   - Builds the service binary once and caches it by content (see
//     framework/service/build) unless Options.ServiceBinary names one.
//   - Reserves every loopback port up front, so that all processes start at
//     once: a caller only needs its callee's address, not a running callee.
//     The ports are drawn below the kernel's ephemeral range (which bind to
//     port 0 and outgoing connections use), under a machine-wide lock held
//     until every instance has bound its ports, so nobody takes one in the
//     moment between the draw and the child's bind.
//   - Starts one process per instance with the service contract's flags; a
//     storage instance first gets its own database server (framework/runtime/
//     local/dbserver). The per-run agent token travels in the environment
//     (VECRO_TOKEN), never on a command line that ps would show.
//   - Puts a small round-robin TCP front before a service with more than one
//     replica, so callers see one address. It balances per connection, as
//     kube-proxy does for a ClusterIP Service.
//   - Waits for every instance's admin /healthz, up to Options.ReadyTimeout.
//   - Scrapes every instance's admin /metrics into the embedded Prometheus
//     engine (framework/metrics) and serves its HTTP API on loopback.
//
// # Nothing left behind
//
// Every child runs in its own process group, and Stop signals the groups
// (SIGTERM, then SIGKILL after Options.StopGrace). The same happens when
// the context given to Start is cancelled, so a CLI that cancels its context
// on SIGINT or SIGTERM cleans up even if it forgets to call Stop. If the
// parent itself dies (SIGKILL, a crash), on Linux the kernel kills every
// child: each is started with Pdeathsig SIGKILL. Linux sends that signal
// when the thread that forked the child exits, not the process, and Go
// moves goroutines between threads and may end a thread, so every child is
// forked from one goroutine locked to its own OS thread for the Runtime's
// whole life. Elsewhere a watchdog (a tiny sh process reading the process
// groups from a pipe) kills the groups when the pipe closes, which the
// kernel does when the parent dies.
//
// A child that exits while it should be running is an error: Start fails
// with it, and afterwards it arrives on Deployment.Failures naming
// the instance, its exit status and the last lines of its log.
//
// What a SIGKILLed parent cannot clean up itself (its cgroups, its
// temporary directories, all named after its pid) the next Start on the
// machine removes.
//
// # Resource limits
//
// Like a pod, each instance is limited to its service's resources (700m CPU
// and 250Mi memory by default) where the machine allows it: on Linux, as
// root (or with a delegated cgroup), each process runs in its own cgroup
// below the parent's own, with cpu.cfs_quota_us and memory.limit_in_bytes on
// cgroup v1 or cpu.max and memory.max on v2, from its first instruction (a
// /bin/sh writes its own pid into the cgroup and execs the service binary).
// A CPU-stress fault then starves its own service first, and a process over
// its memory limit is OOM-killed and reported as OOMKilled, as on
// Kubernetes. The CPU request is the limit (the definitions declare only
// limits; so does Kubernetes for a pod with limits alone) and becomes the
// instance's weight, cpu.shares or cpu.weight with the kubelet's
// conversion; the run's own cgroup weighs the sum of its requests (at
// least the machine's CPUs), as kubepods weighs a node's allocatable CPU, so
// that processes beside the run (the harness, other builds) cannot squeeze
// the whole system into one process's share. The CFS period is 10 ms, not the
// kernel's 100 ms, so a throttled instance (its fault agent's timers with
// it) is never frozen for more than a few ms. Each database server is moved
// into a CPU cgroup of its own once started, weighted as its storage
// service with the Kubernetes runtime's sidecar limit of one CPU. Where that is not possible the
// runtime logs that limits are not enforced and sets each child's GOMAXPROCS
// to its CPU limit rounded up. When limits are enforced GOMAXPROCS is left to
// Go, which reads the cgroup limit as it does in a container.
//
// # Traces and logs
//
// Unless Options.NoTracing, Start serves an OTLP/HTTP span receiver on a
// loopback port (traces.Receiver) before any instance, and puts its URL in
// every instance's contract, so every request's spans arrive there; the
// Deployment hands it over as Traces (readable until Stop) and its URL as
// OTLPEndpoint, where the load generator's root spans go too. Each
// instance's request log, JSON lines among its other output in
// <LogDir>/<instance>.log, is the Deployment's Logs (logs.Files). With
// Options.Jaeger the runtime also runs Jaeger (package jaeger) before the
// receiver, which forwards it a copy of every span (Deployment.JaegerURL).
package local
