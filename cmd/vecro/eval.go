package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/eval"
	"github.com/vecrosim/vecro/internal/statusline"
)

func newEvalCmd(s streams) *cobra.Command {
	var (
		builtins  []string
		commands  []string
		names     []string
		tdelta    time.Duration
		length    time.Duration
		timeout   time.Duration
		out       string
		noCharts  bool
		showCases bool
	)
	cmd := &cobra.Command{
		Use:   "eval CORPUS",
		Short: "Score root-cause analysers and anomaly detectors on a corpus of datasets",
		Long: `eval runs methods on every case of a corpus — the cases.csv a campaign wrote,
or any directory of dataset runs — and scores their answers against the
applied fault windows the agents measured (RCAEval's scores):

  AC@1..AC@5, Avg@5    root cause among the first k services ranked
  chance               Avg@5 of a random ranking of the same candidates
  F1, PA-F1            anomaly windows, point-wise and point-adjusted
  delay                from a fault's applied start to its first flagged point

Each case is shown to a method blinded: a copy without labels.csv, plots, the
fault columns and the manifest's faults. Methods:

  --method nsigma|baro     RCAEval's metric baselines, built in
  --method-cmd 'CMD'       any program, run once per case through /bin/sh, that
                           prints {"ranks": [...], "anomalies": [{"start","end"}]}
                           (docs/eval-answer.schema.json). Placeholders:
                           {dataset} {inject_time} (Unix s) {inject_time_rfc3339}
                           {case}, and {labels} (ground truth: oracles only,
                           marked as such in every output)

Writes eval.csv, eval.json and charts/<behaviour>.png into --out (the corpus
by default) and prints a table. Exits 1 when a method failed on a case (the
case is named, and scored as no answer).`,
		Example: `  vecro eval artifacts/social-small --method nsigma --method baro
  vecro eval artifacts/social-small --method-cmd 'python3 rca.py {dataset} {inject_time}' --name my-rca --tdelta 30s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var methods []eval.Method
			for _, b := range builtins {
				switch strings.ToLower(b) {
				case "nsigma", "n-sigma":
					methods = append(methods, eval.NSigma())
				case "baro":
					methods = append(methods, eval.BARO())
				default:
					return fmt.Errorf("eval: unknown --method %q: want nsigma or baro (or --method-cmd for your own)", b)
				}
			}
			if len(names) > len(commands) {
				return fmt.Errorf("eval: %d --name for %d --method-cmd: give one name per command, in order", len(names), len(commands))
			}
			for i, c := range commands {
				m := eval.Command{Template: c, Timeout: timeout}
				if i < len(names) {
					m.Label = names[i]
				}
				methods = append(methods, m)
			}
			if len(methods) == 0 {
				return fmt.Errorf("eval: no method: give --method nsigma, --method baro or --method-cmd")
			}
			cases, err := eval.LoadCorpus(args[0])
			if err != nil {
				return err
			}
			scorable := 0
			for _, c := range cases {
				if c.Skip == "" {
					scorable++
				} else {
					fmt.Fprintf(s.Err, "case %s not scored: %s\n", c.ID, c.Skip)
				}
			}
			if scorable == 0 {
				return fmt.Errorf("eval: none of the %d cases of %s can be scored", len(cases), args[0])
			}
			opts := eval.Options{TDelta: tdelta, Length: length}
			if statusline.IsTerminal(s.Err) {
				opts.Progress = s.Err
			}
			reps, err := eval.Evaluate(cmd.Context(), cases, methods, opts)
			if err != nil {
				return err
			}
			failed := 0
			for _, rep := range reps {
				for _, c := range rep.Cases {
					if c.Err != "" {
						failed++
						fmt.Fprintf(s.Err, "%s failed on case %s: %s\n", rep.Method, c.Case, c.Err)
					}
				}
			}
			if out == "" {
				out = args[0]
			}
			if err := writeEval(out, reps, !noCharts); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%d cases scored (%d skipped); eval.csv and eval.json in %s\n", scorable, len(cases)-scorable, out)
			if showCases {
				for _, r := range reps {
					for _, c := range r.Cases {
						if c.Skip == "" {
							fmt.Fprintf(s.Out, "%s\t%s\t%s\trank %d\ttop %s\n", r.Method, c.Case, strings.Join(c.Answers, "+"), c.Rank, strings.Join(c.Top, ","))
						}
					}
				}
			}
			if err := eval.WriteTable(s.Out, reps...); err != nil {
				return err
			}
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&builtins, "method", nil, "a built-in method: nsigma or baro (repeatable)")
	f.StringArrayVar(&commands, "method-cmd", nil, "an external method's command line, placeholders as above (repeatable)")
	f.StringArrayVar(&names, "name", nil, "the name of each --method-cmd in reports, in order")
	f.DurationVar(&tdelta, "tdelta", 0, "tell methods the injection time plus this (RCAEval's tdelta)")
	f.DurationVar(&length, "length", 0, "show methods only this long on either side of the injection time they are told (0: the whole run)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "time limit of one --method-cmd run")
	f.StringVar(&out, "out", "", "directory for eval.csv, eval.json and charts/ (default: the corpus)")
	f.BoolVar(&noCharts, "no-charts", false, "skip the PNG charts")
	f.BoolVar(&showCases, "cases", false, "also print every case's root cause, rank and top five")
	return cmd
}

// writeEval writes the reports' files into dir.
func writeEval(dir string, reps []*eval.Report, charts bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(f *os.File) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", f.Name(), err)
		}
		return f.Close()
	}
	if err := write("eval.csv", func(f *os.File) error { return eval.WriteCSV(f, reps...) }); err != nil {
		return err
	}
	if err := write("eval.json", func(f *os.File) error { return eval.WriteJSON(f, reps...) }); err != nil {
		return err
	}
	if !charts {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o755); err != nil {
		return err
	}
	for _, b := range eval.Behaviors(reps...) {
		if err := write(filepath.Join("charts", b+".png"), func(f *os.File) error { return eval.Chart(f, b, reps...) }); err != nil {
			return err
		}
	}
	return nil
}
