package runtime

import (
	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/spec"
)

// Contract returns what every instance of svc shares, whatever runs it: the
// names, type, call mode, workload and the run's seed, in the service
// contract's terms. A runtime adds where the instance listens, what it
// calls and where its data and database are.
func Contract(system string, svc *spec.Service, seed int64, legacyMetrics bool) service.Instance {
	w := svc.Workload
	in := service.Instance{
		System: system, Service: svc.Name, Type: svc.Type, CallMode: svc.Mode(),
		Workload: service.Workload{
			CPU: w.CPU, IO: w.IO, Net: w.Net, Read: w.Read, Write: w.Write,
			// The contract counts whole MiB; round up so that a
			// definition's "100KiB" still allocates.
			MemoryMiB: int((int64(w.Memory) + (1<<20 - 1)) >> 20),
		},
		Seed:          seed,
		LegacyMetrics: legacyMetrics,
	}
	if w.Delay != nil {
		in.Workload.Delay, in.Workload.Jitter = w.Delay.Time.D(), w.Delay.Jitter.D()
	}
	return in
}
