package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// streams are the command's standard streams, passed in so that tests run
// commands in-process.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// exitError ends the program with code after the command printed its own
// message (validate prints every error, then exits 1).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run is the whole CLI: main only wires the process to it.
func run(ctx context.Context, args []string, s streams) error {
	root := newRootCmd(s)
	root.SetArgs(seedFlags(root, args))
	return root.ExecuteContext(ctx)
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "vecro",
		Short: "Chaos experiments on simulated microservice systems",
		Long: `vecro defines a microservice system and its faults in YAML, runs it on this
machine or on Kubernetes, drives load against it, injects timed faults through
an agent inside every service, and writes the metrics as a labelled dataset.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	for _, c := range []func(streams) *cobra.Command{
		// one constructor per subcommand, each in its own file
		newValidateCmd,
		newDeployCmd,
		newGraphCmd,
		newLoadCmd,
		newRunCmd,
		newCampaignCmd,
		newInjectCmd,
		newCollectCmd,
		newFaultsCmd,
		newDeleteCmd,
		newEvalCmd,
		newExportCmd,
	} {
		root.AddCommand(c(s))
	}
	return root
}

// seedFlags rewrites the original VECROsim's single-dash long flags
// (-deffile, -users) to GNU style (--deffile) for every flag the named
// subcommand defines, so the seed's command lines keep working. Single-letter
// shorthands and anything after "--" are left alone.
func seedFlags(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name, _, _ := strings.Cut(a[1:], "=")
			if f := lookupFlag(cmd, name); f != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

func lookupFlag(cmd *cobra.Command, name string) *pflag.Flag {
	if f := cmd.Flags().Lookup(name); f != nil {
		return f
	}
	return cmd.InheritedFlags().Lookup(name)
}
