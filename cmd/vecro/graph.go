package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/spec"
)

func newGraphCmd(s streams) *cobra.Command {
	var deffile string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print a system's call graph as Graphviz DOT",
		Long: `graph prints the call graph of a system definition in DOT: base services
as boxes, storage services as cylinders, entry services bold; a sequential
caller's edges are numbered in call order, a parallel caller's are bold and
marked ∥. Render it with e.g. "vecro graph social.yaml | dot -Tsvg > social.svg".`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := deffile
			switch {
			case len(args) == 1 && deffile != "":
				return fmt.Errorf("graph: give the system file once, as FILE or -deffile")
			case len(args) == 1:
				file = args[0]
			case file == "":
				return fmt.Errorf("graph: no system file given (vecro graph FILE)")
			}
			sys, err := spec.LoadSystem(file)
			if err != nil {
				fmt.Fprintln(s.Err, err)
				return exitError{1}
			}
			return sys.WriteDOT(s.Out)
		},
	}
	cmd.Flags().StringVar(&deffile, "deffile", "", "system definition file (the seed's spelling; same as FILE)")
	return cmd
}
