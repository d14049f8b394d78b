package service

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Instance is one service instance as a runtime launches it. Both runtimes
// build it from the system definition and hand it to the same binary: the
// local runtime as flags (Args), Kubernetes as container environment (Env);
// the binary reads either, a flag winning over its variable.
type Instance struct {
	System, Service string
	// Instance names the instance. Empty lets the binary take its host
	// name, which on Kubernetes is the pod's.
	Instance string
	Type     Type
	CallMode CallMode
	// Listen is the service port as callers see it; AdminListen serves
	// /metrics, /healthz and /faults. Empty keeps the binary's defaults.
	Listen, AdminListen string
	// Calls are the downstream services, called in this order.
	Calls    []Call
	Workload Workload
	// DataDir holds the io workload's and io-stress's files.
	DataDir string
	// Seed is the run's seed. The binary draws from InstanceSeed(Seed,
	// instance name), so replicas draw differently and a run replays from
	// its seed wherever the instance names repeat (locally <service>-<n>;
	// Kubernetes names pods at random, so there replicas differ but a
	// replay draws anew).
	Seed int64
	// DB is a storage type's database URL; Records the size of its seeded
	// dataset (0: the binary's default).
	DB      string
	Records int
	// TokenFile holds the fault agent's bearer token. (A process may get
	// the token in VECRO_TOKEN instead, never on its command line.)
	TokenFile string
	// LegacyMetrics adds the original's vecro_base_<system>_* series.
	LegacyMetrics bool
	// OTLPEndpoint is the OTLP/HTTP base URL (http://host:4318) the
	// instance exports its spans to; empty turns tracing off.
	OTLPEndpoint string
	// TraceSampleRatio is the share of new traces an instance keeps; a
	// request with a traceparent follows its caller's decision. 0 keeps
	// the binary's default (all).
	TraceSampleRatio float64
}

// Call is one downstream service: its name and the URL requested.
type Call struct {
	Name, URL string
}

// Workload is the per-request work of a base service and the reads and
// writes of a storage one, in the original's units.
type Workload struct {
	// CPU: N ≈ N ms of CPU per request; IO: N × 64 KiB written and synced;
	// Net: a response payload of N/2 bytes.
	CPU, IO, Net int
	// MemoryMiB is allocated at start-up and kept live.
	MemoryMiB int
	// Read and Write: point reads and inserts per request (storage types).
	Read, Write int
	// Delay ± Jitter (uniform) before any work.
	Delay, Jitter time.Duration
}

// EnvName returns the environment variable that sets the binary's flag
// name: VECRO_ and the name in upper snake case, except --call, whose
// variable VECRO_CALLS holds a comma-separated list.
func EnvName(flag string) string {
	if flag == "call" {
		return "VECRO_CALLS"
	}
	return "VECRO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setting is one flag of the contract with its value; a zero value is left
// out, so the binary keeps its default.
type setting struct {
	flag  string
	value string
}

func (in Instance) settings() []setting {
	var out []setting
	str := func(flag, v string) {
		if v != "" {
			out = append(out, setting{flag, v})
		}
	}
	num := func(flag string, v int) {
		if v != 0 {
			out = append(out, setting{flag, strconv.Itoa(v)})
		}
	}
	dur := func(flag string, d time.Duration) {
		if d != 0 {
			out = append(out, setting{flag, d.String()})
		}
	}
	str("system", in.System)
	str("service", in.Service)
	str("type", string(in.Type))
	str("instance", in.Instance)
	str("listen", in.Listen)
	str("admin-listen", in.AdminListen)
	str("call-mode", string(in.CallMode))
	str("data-dir", in.DataDir)
	if in.Seed != 0 {
		out = append(out, setting{"seed", strconv.FormatInt(in.Seed, 10)})
	}
	for _, c := range in.Calls {
		out = append(out, setting{"call", c.Name + "=" + c.URL})
	}
	w := in.Workload
	num("cpu", w.CPU)
	num("io", w.IO)
	num("net", w.Net)
	num("memory", w.MemoryMiB)
	num("read", w.Read)
	num("write", w.Write)
	dur("delay", w.Delay)
	dur("jitter", w.Jitter)
	str("db", in.DB)
	num("records", in.Records)
	str("token-file", in.TokenFile)
	if in.LegacyMetrics {
		out = append(out, setting{"legacy-metrics", "true"})
	}
	str("otlp-endpoint", in.OTLPEndpoint)
	if in.TraceSampleRatio != 0 {
		out = append(out, setting{"trace-sample", strconv.FormatFloat(in.TraceSampleRatio, 'g', -1, 64)})
	}
	return out
}

// Args returns the instance as the binary's command-line flags.
func (in Instance) Args() []string {
	var out []string
	for _, s := range in.settings() {
		out = append(out, "--"+s.flag+"="+s.value)
	}
	return out
}

// EnvVar is one environment variable of a container.
type EnvVar struct {
	Name, Value string
}

// Env returns the instance as the binary's environment variables, in a
// fixed order (a stable pod spec applies without changes).
func (in Instance) Env() []EnvVar {
	var out []EnvVar
	var calls []string
	for _, s := range in.settings() {
		if s.flag == "call" {
			calls = append(calls, s.value)
			continue
		}
		out = append(out, EnvVar{EnvName(s.flag), s.value})
	}
	if len(calls) > 0 {
		out = append(out, EnvVar{EnvName("call"), strings.Join(calls, ",")})
	}
	return out
}

// InstanceSeed is the seed an instance draws from: the run's seed mixed
// with the instance's name, so that replicas differ and a run replays.
func InstanceSeed(seed int64, instance string) int64 {
	h := fnv.New64a()
	h.Write([]byte(instance))
	return seed ^ int64(h.Sum64()&(1<<63-1))
}
