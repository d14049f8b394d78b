package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/runtime/kube"
)

func newRunCmd(s streams) *cobra.Command {
	var (
		repeat    int
		seed      int64
		artifacts string
		social9   bool
		rcaeval   bool
		noPlots   bool
		family    string
		verbose   bool
		original  bool
		state     string
		rt        string
		kcfg      string
		k         kubeFlags
		// traceSample is the share of load requests traced.
		traceSample float64
		tracing     string
	)
	cmd := &cobra.Command{
		Use:   "run EXPERIMENT.yaml",
		Short: "Run an experiment file and write its dataset",
		Long: `run deploys the experiment's system on the embedded runtime (or, with
--runtime kube, on a Kubernetes cluster), starts load, injects the faults on their
timeline, collects every metric family and writes a dataset under the artifacts
directory (ARTIFACTS_DIR, default artifacts/). It then prints how the target, its
callers and a few unrelated services moved.

On Kubernetes the Prometheus is kube-prometheus when it is installed or can be
fetched, and otherwise a standalone Prometheus deployed with the system
(--monitoring). Images vecro builds reach the cluster through kind (--kind), a
registry (--registry) or a local containerd (--containerd-socket).

Faults are removed on every way out: at their end by the agents' own clocks, on
Ctrl-C by the harness, and by the agents even if vecro is killed.`,
		Example: `  vecro run fixtures/experiments/social-delay.yaml
  vecro run --repeat 5 --seed 1 fixtures/experiments/social-delay.yaml
  vecro run --runtime kube --kind fixtures/experiments/social-delay.yaml
  vecro run --runtime kube --kubeconfig admin.kubeconfig --containerd-socket /run/containerd/containerd.sock \
    --db-image mongodb=vecro.local/ferretdb:v1.24.2 --cpu-request 20m fixtures/experiments/social-delay.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repeat < 1 {
				return fmt.Errorf("--repeat %d: want at least 1", repeat)
			}
			for i := range repeat {
				e, _, err := experiment.LoadFile(args[0])
				if err != nil {
					return err
				}
				if cmd.Flags().Changed("seed") {
					v := seed + int64(i)
					e.Seed = &v
				} else if repeat > 1 && e.Seed != nil {
					// Distinct seeds per repetition, replayable from the first.
					v := fault.DeriveSeed(*e.Seed, fmt.Sprint(i))
					e.Seed = &v
				}
				if artifacts != "" {
					e.ArtifactsDir = artifacts
				}
				e.Social9 = e.Social9 || social9
				e.RCAEval = e.RCAEval || rcaeval
				e.NoPlots = e.NoPlots || noPlots
				e.OriginalMetricNames = e.OriginalMetricNames || original
				if cmd.Flags().Changed("trace-sample") {
					e.TraceSampleRatio = traceSample
				}
				if rt == "local" {
					if e.Jaeger, err = jaegerBinary(tracing); err != nil {
						return err
					}
				}
				k.LegacyMetrics, k.Tracing = e.OriginalMetricNames, tracing
				e.Progress = s.Err
				e.StateFile = state
				if verbose {
					e.Logger = slog.New(slog.NewTextHandler(s.Err, nil))
				}
				var cluster *kube.Cluster
				switch rt {
				case "local":
				case "kube":
					var s0 int64
					if e.Seed != nil {
						s0 = *e.Seed
					}
					// Without -v the runtime still says what a user must
					// know (the monitoring it fell back to).
					logger := e.Logger
					if logger == nil {
						logger = slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
					}
					var kr *kube.Runtime
					if kr, cluster, err = newKubeRuntime(k, kcfg, s0, e.TraceSampleRatio, logger); err != nil {
						return err
					}
					e.Runtime = kr
				default:
					return fmt.Errorf("--runtime %q: want local or kube", rt)
				}
				if repeat > 1 {
					fmt.Fprintf(s.Out, "run %d of %d\n", i+1, repeat)
				}
				res, err := e.Run(cmd.Context())
				if cluster != nil {
					// The run's Stop removed the system; a kind cluster
					// its Start created goes now, as it went with Stop
					// before clusters had their own lifecycle.
					dctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Minute)
					if derr := cluster.Delete(dctx); derr != nil {
						err = errors.Join(err, fmt.Errorf("experiment %s: stop runtime: %w", e.Name, derr))
					}
					cancel()
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "dataset: %s\n", res.Dir)
				if res.Traces != nil {
					sum := res.Traces.Summarize(e.System)
					fmt.Fprintf(s.Out, "traces: %d spans, %d traces from the load, %.1f%% complete, %d spans dropped\n",
						sum.Spans, sum.Rooted, sum.CompletePercent, sum.Dropped)
				}
				if res.Logs != nil {
					sum := res.Logs.Summarize()
					fmt.Fprintf(s.Out, "logs: %d lines, %d errors\n", sum.Lines, sum.ErrorLines)
				}
				for _, w := range res.Windows {
					fmt.Fprintf(s.Out, "fault %s (%s on %s): planned %s + %v, applied %+.1f ms / %+.1f ms\n", w.Fault, w.Behavior, w.Target,
						w.PlannedStart.Format("15:04:05.000"), w.PlannedEnd.Sub(w.PlannedStart),
						ms(w.AppliedStart.Sub(w.PlannedStart)), ms(w.AppliedEnd.Sub(w.PlannedEnd)))
				}
				if e.Faults == nil {
					continue
				}
				for _, f := range e.Faults.Faults {
					ms := res.Movements(e.System, family, f.Name, e.Windows.Quantile, 3)
					if len(ms) > 0 {
						fmt.Fprintf(s.Out, "\n%s during %s:\n", family, f.Name)
						if err := experiment.WriteMovements(s.Out, family, ms); err != nil {
							return err
						}
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&repeat, "repeat", 1, "run the experiment N times with distinct seeds")
	f.Int64Var(&seed, "seed", 0, "seed of the (first) run; overrides the file's")
	f.StringVar(&artifacts, "artifacts", "", "directory for datasets (default $ARTIFACTS_DIR or artifacts)")
	f.BoolVar(&social9, "social9", false, "also write the original VECROsim dataset layout")
	f.BoolVar(&rcaeval, "rcaeval", false, "also write the run in RCAEval's layout, under rcaeval/ in its dataset (experiment file: rcaeval: true)")
	f.BoolVar(&noPlots, "no-plots", false, "skip the PNG plots")
	f.BoolVar(&original, "original-metric-names", false, originalNamesHelp+" (experiment file: original-metric-names: true)")
	f.StringVar(&family, "summary-family", "latency_p95", "metric family of the printed summary")
	tracingFlag(f, &tracing)
	f.Float64Var(&traceSample, "trace-sample", 1, "share of load requests traced, each a whole trace (0 < ratio ≤ 1; the embedded runtime)")
	f.StringVar(&state, "state", "", "write the running deployment's state file here (for vecro faults clear, vecro collect)")
	f.StringVar(&rt, "runtime", "local", "where the system runs: local (processes on this machine) or kube")
	f.StringVar(&kcfg, "kubeconfig", "", "kube runtime: kubeconfig of an existing cluster")
	k.AddFlags(f)
	f.BoolVarP(&verbose, "verbose", "v", false, "log the run's events to stderr")
	return cmd
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
