package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/agent"
)

func newFaultsCmd(s streams) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "List or clear the faults of a running deployment",
	}
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Remove every fault from every agent now (the kill switch)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dep, err := loadState(state)
			if err != nil {
				return err
			}
			res, err := agent.ClearAll(cmd.Context(), dep.Agents())
			n := 0
			for _, sts := range res {
				n += len(sts)
			}
			fmt.Fprintf(s.Out, "cleared %d fault(s) on %d agent(s)\n", n, len(res))
			return err
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every agent's faults and their phases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dep, err := loadState(state)
			if err != nil {
				return err
			}
			res, err := agent.ListAll(cmd.Context(), dep.Agents())
			names := make([]string, 0, len(res))
			for n := range res {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				for _, st := range res[n] {
					fmt.Fprintf(s.Out, "%s\t%s\t%s\t%s – %s\n", n, st.ID, st.Phase, clock(st.Start), clock(st.End))
				}
			}
			return err
		},
	}
	stateFlag(clear, &state)
	stateFlag(list, &state)
	cmd.AddCommand(clear, list)
	return cmd
}
