// Package experiment runs one chaos experiment end to end and hands back
// what happened: the pipeline's last stage, built on the others.
//
// An Experiment is a system (spec.System), the faults to inject
// (spec.FaultFile), the load that exercises it (Load: closed-loop users or
// an open-loop rate), the phases around the faults (Phases: warm-up,
// baseline, recovery) and a runtime (runtime.Runtime; the embedded local
// runtime when none is given). Build it in Go, with FromFiles, or from an
// experiment definition file (LoadFile, kind: Experiment).
//
// Run does, in order:
//
//  1. deploy the system on the runtime (Start);
//  2. start the load, whose first request is t0, the origin of every fault
//     offset;
//  3. plan the faults (fault.Plan: targets, replicas, seeds) and push the
//     whole timeline to the instances' agents ahead of time, so that each
//     agent switches its fault on and off on its own clock — a harness
//     that dies mid-run cannot leave a fault on past its end;
//  4. watch: progress, steady state at the end of the baseline (no fault
//     is injected into a sick system), the guardrail, and the deployment's
//     Failures (a dead process, a restarted pod) — any of them aborts the
//     run and clears the faults;
//  5. collect the agents' ground truth (what was applied, where, when) and
//     every metric family through the deployment's metrics.Source (PromQL);
//  6. write the dataset (package dataset): metrics, labels, load, manifest,
//     plots; a run whose faults were not applied is written and marked
//     failed, never relabelled as planned;
//  7. stop the runtime. Faults are cleared on every way out: success,
//     error, panic, a cancelled context.
//
// The Result reads the run back for assertions: Series and Edge give a
// family of a service or a call-graph edge as an analysis.Series, Fault a
// fault's applied window, Signature the fault's signature. Package matchers
// asserts on them in Gomega, and ginkgorun.MustRun runs an experiment inside
// a Ginkgo spec.
package experiment
