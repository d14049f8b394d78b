package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/eval"
)

func newExportCmd(s streams) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export --format rcaeval --out DIR CORPUS...",
		Short: "Write datasets in another tool's layout (RCAEval's)",
		Long: `export writes the datasets of one or more corpora — a campaign's cases.csv, a
directory of dataset runs, or one run — in the layout RCAEval's loaders read,
so that its baselines run on them unchanged:

  DIR/<service>_<fault>/<rep>/data.csv         time (Unix s), <service>_<metric>
  DIR/<service>_<fault>/<rep>/inject_time.txt  the injection time, Unix s
  DIR/<service>_<fault>/<rep>/traces.csv       RE2's span columns (when the run has spans)
  DIR/<service>_<fault>/<rep>/logs.csv         RE2's log columns (when it has logs)

One case folder per applied fault: <service> is its target, <fault> RCAEval's
type (cpu, mem, disk, delay, loss; rate and abort for net-rate and http-abort).
The injection time is the first whole second at or after the applied start the
agents measured. Metrics: cpu, mem, latency (the p95), latency-99, latency-avg,
tps, error, net-rx, net-tx. Repetitions count up from 1 in each folder, so
exports into one DIR add up. Runs that did not complete, and faults applied on
only some instances, are left out and named.`,
		Example: `  vecro export --format rcaeval --out rcaeval-social artifacts/social-small
  python3 -c 'from RCAEval.e2e import baro; ...'   # on rcaeval-social/*/1/data.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "rcaeval" {
				return fmt.Errorf("export: --format %q: the one format is rcaeval", format)
			}
			if out == "" {
				return errors.New("export: --out DIR is required")
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			total := 0
			for _, corpus := range args {
				cases, err := eval.LoadCorpus(corpus)
				if err != nil {
					return err
				}
				exp, skipped, err := eval.ExportRCAEval(cases, out)
				for _, e := range exp {
					fmt.Fprintf(s.Out, "%s\t%s\t%s\tinject_time %d\n", e.Case, e.Fault, e.Dir, e.InjectTime)
				}
				for _, sk := range skipped {
					fmt.Fprintf(s.Err, "not exported: %s\n", sk)
				}
				if err != nil {
					return fmt.Errorf("export %s: %w", corpus, err)
				}
				total += len(exp)
			}
			if total == 0 {
				return fmt.Errorf("export: no case of %v could be exported", args)
			}
			fmt.Fprintf(s.Out, "%d RCAEval cases in %s\n", total, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "rcaeval", "the layout to write: rcaeval")
	f.StringVar(&out, "out", "", "directory to write into")
	return cmd
}
