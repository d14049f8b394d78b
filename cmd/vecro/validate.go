package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/spec"
)

func newValidateCmd(s streams) *cobra.Command {
	var deffiles []string
	cmd := &cobra.Command{
		Use:   "validate FILE…",
		Short: "Check system and fault definition files",
		Long: `validate reads system definitions (a top-level services: key) and fault
definitions (faults:), prints "ok  FILE" for each valid one and every problem
otherwise as FILE:LINE: FIELD: MESSAGE. A fault file is also checked against
the system file on the same command line whose namespace it names; given
alone, it gets its own checks and a note that its targets were not checked.
Exits 1 if any file has a problem.`,
		Example: `  vecro validate fixtures/systems/social.yaml fixtures/faults/social-delay.yaml
  vecro validate -deffile social.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := append(append([]string(nil), deffiles...), args...)
			if len(files) == 0 {
				return fmt.Errorf("validate: no files given (vecro validate FILE…)")
			}
			failed := false
			for _, r := range spec.CheckFiles(files) {
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
