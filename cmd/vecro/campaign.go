package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/campaign"
	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/runtime/kube"
)

func newCampaignCmd(s streams) *cobra.Command {
	var (
		dryRun, retryFailed, forceParallel bool
		parallel                           int
		artifacts                          string
		social9, noPlots, original         bool
		traceSample                        float64
		verbose                            bool
		rt, kcfg                           string
		k                                  kubeFlags
	)
	cmd := &cobra.Command{
		Use:   "campaign CAMPAIGN.yaml",
		Short: "Run a campaign file's matrix of experiments and write its corpus",
		Long: `campaign expands a campaign file (kind: Campaign) into its cases — fault
templates × strengths × targets × repetitions — and runs them one after another
on the embedded runtime, each as vecro run would run an experiment. The corpus
goes to <artifacts>/<campaign>/ (ARTIFACTS_DIR, default artifacts/): each case's
dataset under <case>/<run-id>/, and cases.csv, the index of every case with its
status (planned, partial, complete, failed), seed, dataset and the applied
window its agents measured.

cases.csv is rewritten whole after every case, so Ctrl-C (or a crash) leaves it
consistent; running the same command again resumes: complete cases whose
dataset is still there are skipped, planned and partial ones run, and failed
ones keep their outcome unless --retry-failed.

--dry-run prints the matrix (one line per case: id, behaviour, parameters,
target, seed) and the estimated time, and starts nothing.

Cases run one at a time on the embedded runtime: on one machine, cases side by
side would share its CPUs and each would measure the other's load, so
--parallel N above 1 is refused there unless --force-parallel. On Kubernetes
(--runtime kube, with the flags of vecro run) --parallel N runs N cases at
once, slot i in namespace <namespace>-i, each with its own agents, load and
PromQL selectors.`,
		Example: `  vecro campaign --dry-run fixtures/campaigns/social-small.yaml
  vecro campaign --artifacts corpora fixtures/campaigns/social-small.yaml
  vecro campaign --retry-failed fixtures/campaigns/social-small.yaml
  vecro campaign --runtime kube --kubeconfig ~/.kube/config --parallel 2 fixtures/campaigns/social-small.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := campaign.LoadFile(args[0])
			if err != nil {
				return err
			}
			if dryRun {
				return printPlan(s.Out, plan)
			}
			if artifacts == "" {
				artifacts = os.Getenv("ARTIFACTS_DIR")
			}
			if artifacts == "" {
				artifacts = "artifacts"
			}
			opts := campaign.Options{
				Progress: s.Err, RetryFailed: retryFailed, Parallel: parallel, ForceParallel: forceParallel,
			}
			if verbose {
				opts.Logger = slog.New(slog.NewTextHandler(s.Err, nil))
			}
			var onKube func(slot int, e *experiment.Experiment)
			var jaeger string
			switch rt {
			case "local":
				if jaeger, err = jaegerBinary(k.Tracing); err != nil {
					return err
				}
			case "kube":
				logger := opts.Logger
				if logger == nil {
					logger = slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
				}
				base, err := kubeOptions(k, kcfg, 0, logger)
				if err != nil {
					return err
				}
				opts.Isolated = true
				onKube = func(slot int, e *experiment.Experiment) { e.Runtime = kube.New(slotOptions(base, e, slot, parallel)) }
				defer func() {
					// A kind cluster the first case's Start created goes
					// with the campaign, as with vecro run.
					dctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Minute)
					defer cancel()
					if derr := base.Cluster.Delete(dctx); derr != nil {
						fmt.Fprintf(s.Err, "campaign %s: delete the cluster: %v\n", plan.Name, derr)
					}
				}()
			default:
				return fmt.Errorf("--runtime %q: want local or kube", rt)
			}
			opts.Prepare = func(slot int, _ *campaign.Case, e *experiment.Experiment) {
				e.Social9 = e.Social9 || social9
				e.NoPlots = e.NoPlots || noPlots
				e.OriginalMetricNames = e.OriginalMetricNames || original
				if cmd.Flags().Changed("trace-sample") {
					e.TraceSampleRatio = traceSample
				}
				e.Jaeger = jaeger
				if onKube != nil {
					onKube(slot, e)
				}
			}
			opts.Starting = func(kept, toRun int, est time.Duration) {
				corpus := filepath.Join(artifacts, plan.Name)
				if kept == 0 {
					fmt.Fprintf(s.Out, "campaign %s: %d cases, estimated %s; corpus %s\n", plan.Name, toRun, est.Round(time.Second), corpus)
					return
				}
				fmt.Fprintf(s.Out, "campaign %s: %d cases, %d kept from an earlier run, %d to run, estimated %s; corpus %s\n",
					plan.Name, len(plan.Cases), kept, toRun, est.Round(time.Second), corpus)
			}
			sum, err := campaign.Run(cmd.Context(), plan, artifacts, opts)
			printSummary(s.Out, sum)
			if err != nil {
				return err
			}
			if sum.Failed > 0 {
				return fmt.Errorf("%d of %d cases failed (see %s); run again with --retry-failed to try them again",
					sum.Failed, sum.Cases, filepath.Join(sum.Dir, dataset.CasesFile))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "print the cases and the estimated time; run nothing")
	f.StringVar(&artifacts, "artifacts", "", "directory for corpora (default $ARTIFACTS_DIR or artifacts)")
	f.BoolVar(&retryFailed, "retry-failed", false, "run the cases an earlier run left failed again")
	f.IntVar(&parallel, "parallel", 1, "cases at once (on the embedded runtime above 1 needs --force-parallel)")
	f.BoolVar(&forceParallel, "force-parallel", false, "run --parallel cases at once on this machine although they share its CPUs")
	f.StringVar(&rt, "runtime", "local", "where the cases run: local (processes on this machine) or kube")
	f.StringVar(&kcfg, "kubeconfig", "", "kube runtime: kubeconfig of an existing cluster")
	k.AddFlags(f)
	f.BoolVar(&social9, "social9", false, "also write the original VECROsim dataset layout")
	f.BoolVar(&noPlots, "no-plots", false, "skip the PNG plots")
	f.BoolVar(&original, "original-metric-names", false, originalNamesHelp)
	f.Float64Var(&traceSample, "trace-sample", 1, "share of load requests traced, each a whole trace (0 < ratio ≤ 1)")
	tracingFlag(f, &k.Tracing)
	f.BoolVarP(&verbose, "verbose", "v", false, "log the campaign's and the cases' events to stderr")
	return cmd
}

// slotOptions are the kube runtime's options for a case in slot: the
// case's seed, and with more than one slot a namespace of the slot's own
// (the system's namespace, or --namespace, suffixed "-<slot>"), so that
// cases side by side share neither objects nor series.
func slotOptions(base kube.Options, e *experiment.Experiment, slot, slots int) kube.Options {
	o := base
	if e.Seed != nil {
		o.Seed = *e.Seed
	}
	if e.OriginalMetricNames {
		o.LegacyMetrics = true
	}
	o.TraceSampleRatio = e.TraceSampleRatio
	if slots > 1 {
		ns := o.Namespace
		if ns == "" && e.System != nil {
			ns = e.System.EffectiveNamespace()
		}
		o.Namespace = fmt.Sprintf("%s-%d", ns, slot)
	}
	return o
}

// printPlan writes the matrix, one case a line, and the estimate.
func printPlan(w io.Writer, p campaign.Plan) error {
	on := "system " + p.Systems[0]
	if len(p.Systems) > 1 {
		on = "systems " + strings.Join(p.Systems, ", ")
	}
	fmt.Fprintf(w, "campaign %s (%s): %d cases on %s\n", p.Name, p.File, len(p.Cases), on)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// The system column only where it tells cases apart.
	several := len(p.Systems) > 1
	sysCol := func(name string) string {
		if several {
			return name + "\t"
		}
		return ""
	}
	fmt.Fprintln(tw, "case\t"+sysCol("system")+"behavior\tparams\ttarget\tseed")
	var timelines time.Duration
	for _, c := range p.Cases {
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t%d\n", c.ID, sysCol(c.System), strings.Join(c.Behaviors, ";"), strings.Join(c.Params, ";"), c.Target, c.Seed)
		timelines += c.Duration
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, sk := range p.Skipped {
		what := sk.Fault
		if sk.Strength != "" {
			what += " " + sk.Strength
		}
		if several {
			what += " (" + sk.System + ")"
		}
		fmt.Fprintf(w, "skipped: %s on %s: %s\n", what, sk.Target, sk.Reason)
	}
	_, err := fmt.Fprintf(w, "estimated time: %s (timelines %s, %s per case to deploy, collect and write)\n",
		p.Estimate().Round(time.Second), timelines.Round(time.Second), campaign.CaseOverhead)
	return err
}

func printSummary(w io.Writer, s campaign.Summary) {
	if s.Dir == "" {
		return
	}
	fmt.Fprintf(w, "corpus: %s (%s)\n", s.Dir, dataset.CasesFile)
	fmt.Fprintf(w, "%d cases: %d complete, %d failed, %d interrupted in this run; %d kept from an earlier one; %s\n",
		s.Cases, s.Complete, s.Failed, s.Partial, s.Kept, s.Elapsed.Round(time.Second))
	for _, f := range s.Failures {
		msg, _, _ := strings.Cut(f.Err.Error(), "\n")
		fmt.Fprintf(w, "failed: %s: %s\n", f.Case, msg)
	}
}
