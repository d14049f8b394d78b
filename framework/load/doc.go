// Package load drives HTTP load at a system and measures it honestly.
//
// Two modes share one measurement:
//
//   - Closed loop (the seed's load tool): Spec.Users users, each sending one
//     request per Spec.Delay tick with at most one in flight. A slow answer
//     delays that user's next send; the ticks that came due meanwhile are
//     counted (late, skipped), never queued. Delay zero is full speed.
//   - Open loop: requests leave at a planned rate (Constant, Linear ramp,
//     Steps; Uniform or seeded Poisson arrivals) whatever the server does.
//     Every latency is measured from the request's planned send time, so a
//     stall that holds the generator back shows in the latency instead of
//     hiding in fewer samples (no coordinated omission). Sends that start
//     late are counted; hits never sent are counted as skipped.
//
// Planning is pure: a Pacer says when hit n is due as a function of n and
// elapsed time only (vegeta's Pace(elapsed, hits) shape), so schedules are
// tested with tables, without clocks.
//
// Each user or open-loop worker owns one keep-alive connection and speaks
// HTTP/1.1 on it directly (responses parsed by net/http's ReadResponse), as
// wrk does: half the CPU per request of net/http's pooled client, so the
// generator keeps up with the servers it measures.
//
// Latencies go into HDR histograms (microseconds, 3 significant digits):
// one for the run and one per second. Each second becomes a row of
// load.csv (Columns, WriteCSV, ReadCSV); the run ends with a Report, as
// text (after wrk2) or JSON.
//
// From Go:
//
//	run, err := load.Start(ctx, load.Spec{Targets: load.URLs(url), Rate: load.Constant{PerSecond: 500}, Duration: time.Minute})
//	…
//	snap := run.Stats() // live: current second, totals
//	rep := run.Wait()   // or run.Stop() first
//
// Targets are URLs. An experiment that names services resolves them
// through its deployment (Resolve); when the user names none it passes the
// system's entry services, those no other service calls, so every front end
// gets traffic.
//
// With Spec.Tracer every request is the root span of its own trace (a
// client span from send to answer, its traceparent written into the
// request's head), so that one load request is one trace through the
// system.
package load
