package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/campaign"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/spec"
)

func newValidateCmd(s streams) *cobra.Command {
	var deffiles []string
	cmd := &cobra.Command{
		Use:   "validate FILE…",
		Short: "Check system, fault, experiment and campaign definition files",
		Long: `validate reads system definitions (kind: System), fault definitions
(kind: Faults), experiments (kind: Experiment) and campaigns (kind: Campaign),
prints "ok  FILE" for each valid one and every problem otherwise as
FILE:LINE: FIELD: MESSAGE. A file without kind: is told by its keys, as the
original's files: services: is a system, faults: a fault definition, system:
an experiment; a campaign always says kind: Campaign.

A fault file is also checked against the system file on the same command line
whose namespace it names; given alone, it gets its own checks and a note that
its targets were not checked. An experiment is checked with the system and
fault files it refers to, and those files' problems name those files; a
campaign with its system, and every case of its matrix as it would run.
Exits 1 if any file has a problem.`,
		Example: `  vecro validate fixtures/systems/social.yaml fixtures/faults/social-delay.yaml
  vecro validate fixtures/experiments/*.yaml
  vecro validate -deffile social.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := append(append([]string(nil), deffiles...), args...)
			if len(files) == 0 {
				return fmt.Errorf("validate: no files given (vecro validate FILE…)")
			}
			failed := false
			for _, r := range checkFiles(files) {
				if r.Err != nil {
					failed = true
					fmt.Fprintln(s.Err, r.Err)
					continue
				}
				if r.Note != "" {
					fmt.Fprintf(s.Out, "ok  %s (%s)\n", r.Path, r.Note)
				} else {
					fmt.Fprintf(s.Out, "ok  %s\n", r.Path)
				}
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&deffiles, "deffile", nil, "definition file to check (the seed's spelling; repeatable, same as a FILE argument)")
	return cmd
}

// checkFiles checks experiments with the experiment package and campaigns
// with the campaign package (they resolve their references and know what
// a run needs) and everything else together with spec.CheckFiles,
// so that fault files meet the systems given beside them; results keep
// the order of paths.
func checkFiles(paths []string) []spec.FileResult {
	res := make([]spec.FileResult, len(paths))
	var rest []string
	var at []int
	for i, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			switch spec.DetectKind(data) {
			case spec.KindExperiment:
				res[i] = spec.FileResult{Path: p, Kind: spec.KindExperiment, Err: experiment.CheckFile(p)}
				continue
			case spec.KindCampaign:
				res[i] = spec.FileResult{Path: p, Kind: spec.KindCampaign, Err: campaign.CheckFile(p)}
				continue
			}
		}
		rest = append(rest, p)
		at = append(at, i)
	}
	for j, r := range spec.CheckFiles(rest) {
		res[at[j]] = r
	}
	return res
}
