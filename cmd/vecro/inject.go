package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/spec"
)

func newInjectCmd(s streams) *cobra.Command {
	var (
		state  string
		lead   time.Duration
		noWait bool
		seed   int64
	)
	cmd := &cobra.Command{
		Use:   "inject FAULTS.yaml",
		Short: "Push a fault schedule to a running deployment and report what happened",
		Long: `inject reads a fault definition, places its faults on a timeline that starts now
(each fault's start is an offset from now + --lead), pushes the whole schedule to
the agents of the deployment that ` + "`vecro deploy`" + ` runs, waits until the last fault
has ended and prints the planned and the applied windows.

The agents switch the faults on and off by their own clocks, so the faults end on
time even if this command is killed; Ctrl-C removes them at once.`,
		Example: `  vecro inject fixtures/faults/social-delay.yaml
  vecro inject -deffile fixtures/faults/social-delay.yaml --no-wait`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := defFile(cmd, args)
			if err != nil {
				return err
			}
			ff, err := spec.LoadFaults(path)
			if err != nil {
				return err
			}
			dep, err := loadState(state)
			if err != nil {
				return err
			}
			if ff.Namespace != "" && dep.Namespace != "" && ff.Namespace != dep.Namespace {
				return fmt.Errorf("%s: namespace %q, but the deployment runs in %q", path, ff.Namespace, dep.Namespace)
			}
			s0 := seed
			if !cmd.Flags().Changed("seed") && ff.Seed != nil {
				s0 = *ff.Seed
			}
			targets := fault.Targets{}
			for _, svc := range dep.Services {
				targets[svc.Name], _ = dep.AgentsOf(svc.Name)
			}
			t0 := time.Now().Add(lead)
			planned, err := fault.Plan(ff, targets, t0, s0)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			var as []agent.Assignment
			for _, p := range planned {
				for _, ep := range p.Agents {
					as = append(as, agent.Assignment{Endpoint: ep, Fault: p.Wire()})
				}
			}
			ctx := cmd.Context()
			if _, err := agent.PushAll(ctx, as); err != nil {
				return err
			}
			end := t0
			for _, p := range planned {
				fmt.Fprintf(s.Out, "pushed %s to %d instance(s) of %s: %s – %s\n", p.ID(), len(p.Agents), p.Target,
					p.Start.Format(time.RFC3339Nano), p.End.Format(time.RFC3339Nano))
				end = maxTime(end, p.End)
			}
			if noWait {
				fmt.Fprintf(s.Out, "the agents end the faults by %s; `vecro faults clear` removes them now\n", end.Format(time.RFC3339))
				return nil
			}
			t := time.NewTimer(time.Until(end) + 500*time.Millisecond)
			defer t.Stop()
			select {
			case <-ctx.Done():
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_, cerr := agent.ClearAll(cctx, dep.Agents())
				return errors.Join(fmt.Errorf("interrupted: faults cleared"), cerr)
			case <-t.C:
			}
			reports, err := agent.ListAll(ctx, dep.Agents())
			if err != nil {
				return err
			}
			return writeWindows(s, fault.Windows(planned, reports))
		},
	}
	stateFlag(cmd, &state)
	cmd.Flags().StringP("deffile", "f", "", "fault definition file (the seed's -deffile)")
	cmd.Flags().DurationVar(&lead, "lead", time.Second, "time from now to t0, the origin of the faults' start offsets")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the schedule is pushed")
	cmd.Flags().Int64Var(&seed, "seed", 0, "seed of the faults' random draws (default: the file's seed, else 0)")
	return cmd
}

// defFile takes a definition file from the argument or the seed's -deffile.
func defFile(cmd *cobra.Command, args []string) (string, error) {
	f, _ := cmd.Flags().GetString("deffile")
	switch {
	case len(args) == 1 && f != "":
		return "", errors.New("give the definition file once: as an argument or with --deffile")
	case len(args) == 1:
		return args[0], nil
	case f != "":
		return f, nil
	}
	return "", errors.New("no definition file given")
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func writeWindows(s streams, ws []fault.Window) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tbehavior\ttarget\tplanned start\tapplied start\tΔ start\tplanned end\tapplied end\tΔ end\teffect")
	for _, w := range ws {
		dS, dE := "-", "-"
		if w.Applied() {
			dS = fmt.Sprintf("%+.1fms", ms(w.AppliedStart.Sub(w.PlannedStart)))
		}
		if !w.AppliedEnd.IsZero() {
			dE = fmt.Sprintf("%+.1fms", ms(w.AppliedEnd.Sub(w.PlannedEnd)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", w.Fault, w.Behavior, w.Target,
			clock(w.PlannedStart), clock(w.AppliedStart), dS, clock(w.PlannedEnd), clock(w.AppliedEnd), dE, w.Effect)
	}
	return tw.Flush()
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("15:04:05.000")
}
