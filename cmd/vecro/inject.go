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
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/spec"
)

// injectOptions are inject's flags.
type injectOptions struct {
	state      string
	lead       time.Duration
	duration   time.Duration
	noWait     bool
	seed       int64
	seedSet    bool
	kubeconfig string
	context    string
	namespace  string
}

func newInjectCmd(s streams) *cobra.Command {
	var o injectOptions
	cmd := &cobra.Command{
		Use:   "inject FAULTS.yaml",
		Short: "Push a fault schedule to a running system and report what happened",
		Long: `inject reads a fault definition, places its faults on a timeline that starts now
(each fault's start is an offset from now + --lead), pushes the whole schedule to
the agents of the running system, waits until the last fault has ended and prints
the planned and the applied windows.

--duration D is the seed's: the injection runs for D. A fault that would start
after D is left out and one that would outlast D ends at D; the command returns
at D, when every fault is off.

The system is the one ` + "`vecro deploy`" + ` runs (its state file), or with --kubeconfig
the one in the fault file's namespace on that cluster (--namespace overrides),
whose agents are reached through the API server (a port-forward per pod, as
` + "`vecro run --runtime kube`" + ` does), so the seed's inject works on a system deployed
by anyone.

The agents switch the faults on and off by their own clocks, so the faults end on
time even if this command is killed; Ctrl-C removes them at once.`,
		Example: `  vecro inject fixtures/faults/social-delay.yaml
  vecro inject -deffile social-delay.yaml -duration 30m
  vecro inject -deffile social-delay.yaml -duration 30m -kubeconfig ~/.kube/config
  vecro inject -deffile fixtures/faults/social-delay.yaml --no-wait`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := defFile(cmd, args)
			if err != nil {
				return err
			}
			o.seedSet = cmd.Flags().Changed("seed")
			return runInject(cmd.Context(), s, path, o)
		},
	}
	f := cmd.Flags()
	stateFlag(cmd, &o.state)
	f.StringP("deffile", "f", "", "fault definition file (the seed's -deffile)")
	f.DurationVar(&o.duration, "duration", 0, "run the injection for this long: faults are cut at it, and the command returns at it (the seed's -duration; 0: until the last fault ends)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "reach the agents of the system on this cluster through its API server instead of through the state file (the seed's -kubeconfig)")
	f.StringVar(&o.context, "context", "", "with --kubeconfig: kubeconfig context (default: the current one)")
	f.StringVar(&o.namespace, "namespace", "", "with --kubeconfig: namespace of the system (default: the fault file's)")
	f.DurationVar(&o.lead, "lead", time.Second, "time from now to t0, the origin of the faults' start offsets")
	f.BoolVar(&o.noWait, "no-wait", false, "return once the schedule is pushed")
	f.Int64Var(&o.seed, "seed", 0, "seed of the faults' random draws (default: the file's seed, else 0)")
	return cmd
}

// runInject pushes the schedule of the fault file at path and waits for it.
func runInject(ctx context.Context, s streams, path string, o injectOptions) error {
	ff, err := spec.LoadFaults(path)
	if err != nil {
		return err
	}
	if o.duration < 0 {
		return fmt.Errorf("--duration %v: must not be negative", o.duration)
	}
	if o.kubeconfig == "" && (o.context != "" || o.namespace != "") {
		return errors.New("--context and --namespace are for --kubeconfig: without it the state file says where the system runs")
	}
	targets, all, done, err := injectTargets(ctx, path, ff, o)
	if err != nil {
		return err
	}
	defer done()
	seed := o.seed
	if !o.seedSet && ff.Seed != nil {
		seed = *ff.Seed
	}
	if o.duration > 0 {
		if ff, err = cutFaults(s, ff, o.duration); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	t0 := time.Now().Add(o.lead)
	planned, err := fault.Plan(ff, targets, t0, seed)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var as []agent.Assignment
	for _, p := range planned {
		for _, ep := range p.Agents {
			as = append(as, agent.Assignment{Endpoint: ep, Fault: p.Wire()})
		}
	}
	if _, err := agent.PushAll(ctx, as); err != nil {
		return err
	}
	end := t0
	for _, p := range planned {
		fmt.Fprintf(s.Out, "pushed %s to %d instance(s) of %s: %s – %s\n", p.ID(), len(p.Agents), p.Target,
			p.Start.Format(time.RFC3339Nano), p.End.Format(time.RFC3339Nano))
		end = maxTime(end, p.End)
	}
	if o.duration > 0 {
		end = t0.Add(o.duration)
	}
	if o.noWait {
		fmt.Fprintf(s.Out, "the agents end the faults by %s; `vecro faults clear` removes them now\n", end.Format(time.RFC3339))
		return nil
	}
	t := time.NewTimer(time.Until(end) + 500*time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, cerr := agent.ClearAll(cctx, all)
		return errors.Join(fmt.Errorf("interrupted: faults cleared"), cerr)
	case <-t.C:
	}
	reports, err := agent.ListAll(ctx, all)
	if err != nil {
		return err
	}
	return writeWindows(s, fault.Windows(planned, reports))
}

// injectTargets finds the agents of the running system: from the state
// file of vecro deploy, or with --kubeconfig through the cluster's API
// server. done releases what reaching them took (port-forwards).
func injectTargets(ctx context.Context, path string, ff *spec.FaultFile, o injectOptions) (fault.Targets, []agent.Endpoint, func(), error) {
	targets := fault.Targets{}
	if o.kubeconfig != "" {
		ns := o.namespace
		if ns == "" {
			ns = ff.Namespace
		}
		if ns == "" {
			return nil, nil, nil, fmt.Errorf("%s: no namespace: with --kubeconfig, name the system's namespace in the file or with --namespace", path)
		}
		rt := kube.New(kube.Options{Cluster: &kube.Cluster{Kubeconfig: o.kubeconfig, Context: o.context}})
		_, agents, err := rt.Agents(ctx, ns)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("inject through --kubeconfig %s: %w", o.kubeconfig, err)
		}
		var all []agent.Endpoint
		for svc, eps := range agents {
			targets[svc] = eps
			all = append(all, eps...)
		}
		return targets, all, rt.Detach, nil
	}
	dep, err := loadState(o.state)
	if err != nil {
		return nil, nil, nil, err
	}
	if ff.Namespace != "" && dep.Namespace != "" && ff.Namespace != dep.Namespace {
		return nil, nil, nil, fmt.Errorf("%s: namespace %q, but the deployment runs in %q", path, ff.Namespace, dep.Namespace)
	}
	for _, svc := range dep.Services {
		targets[svc.Name], _ = dep.AgentsOf(svc.Name)
	}
	return targets, dep.Agents(), func() {}, nil
}

// cutFaults fits the schedule into the seed's -duration d: faults that
// start at or after d are left out, and those that outlast it end at d.
// It says on s.Err what it changed.
func cutFaults(s streams, ff *spec.FaultFile, d time.Duration) (*spec.FaultFile, error) {
	out := *ff
	out.Faults = nil
	for _, f := range ff.Faults {
		switch start := f.Start.D(); {
		case start >= d:
			fmt.Fprintf(s.Err, "fault %s starts at %v, not before --duration %v: left out\n", f.Name, start, d)
			continue
		case start+f.Duration.D() > d:
			fmt.Fprintf(s.Err, "fault %s (%v from %v) outlasts --duration %v: it ends at %v\n", f.Name, f.Duration.D(), start, d, d)
			f.Duration = spec.Duration(d - start)
		}
		out.Faults = append(out.Faults, f)
	}
	if len(out.Faults) == 0 {
		return nil, fmt.Errorf("--duration %v: every fault starts after it; nothing to inject", d)
	}
	return &out, nil
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

// writeWindows prints what the agents did of each fault and fails when a
// fault was applied nowhere: the command must not exit 0 on a fault that
// never happened. A partial one is printed with the instances that missed
// it.
func writeWindows(s streams, ws []fault.Window) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tbehavior\ttarget\tstatus\tapplied on\tplanned start\tapplied start\tΔ start\tplanned end\tapplied end\tΔ end\teffect")
	var failed []error
	var warnings []string
	for _, w := range ws {
		dS, dE := "-", "-"
		if w.Applied() {
			dS = fmt.Sprintf("%+.1fms", ms(w.AppliedStart.Sub(w.PlannedStart)))
		}
		if !w.AppliedEnd.IsZero() {
			dE = fmt.Sprintf("%+.1fms", ms(w.AppliedEnd.Sub(w.PlannedEnd)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", w.Fault, w.Behavior, w.Target,
			w.Status, len(w.AppliedInstances), len(w.Instances),
			clock(w.PlannedStart), clock(w.AppliedStart), dS, clock(w.PlannedEnd), clock(w.AppliedEnd), dE, w.Effect)
		switch w.Status {
		case fault.StatusFailed:
			failed = append(failed, errors.New(w.Problem()))
		case fault.StatusPartial:
			warnings = append(warnings, w.Problem())
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(s.Err, "warning: %s\n", w)
	}
	if len(failed) > 0 {
		return fmt.Errorf("ground truth: %w", errors.Join(failed...))
	}
	return nil
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("15:04:05.000")
}
