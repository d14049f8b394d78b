package main

import (
	"fmt"

	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
)

func newCollectCmd(s streams) *cobra.Command {
	var (
		state, prom, system, flavor, from, to, artifacts, name string
		systemFile                                             string
		step                                                   time.Duration
		families                                               []string
		social9, noPlots                                       bool
		win                                                    metrics.Windows
	)
	cmd := &cobra.Command{
		Use:   "collect --from T --to T",
		Short: "Write a dataset for a time range of a running deployment or any Prometheus",
		Long: `collect queries every metric family over a time range and writes a dataset: the
original VECROsim's metrics script, with timestamps kept. With a running
` + "`vecro deploy`" + ` it reads the deployment's metrics and labels the faults its agents
applied in the range; with --prometheus it reads any Prometheus server (give the
system's name with --system).

Times are RFC 3339 ("2026-11-25T12:00:00Z"), "now", or an offset from now ("-15m").`,
		Example: `  vecro collect --from -5m --to now
  vecro collect --prometheus http://localhost:9090 --system social --flavor kube --from 2026-11-25T12:00:00Z --to 2026-11-25T13:10:00Z --social9`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			start, err := parseTime(from, now)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			end, err := parseTime(to, now)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if !end.After(start) {
				return fmt.Errorf("--to %s is not after --from %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
			}
			// The definition is optional: it names the system and lists the
			// edges the edge families should have, called or not; without it
			// they have the edges that carried calls in the range.
			sys := &spec.System{}
			if systemFile != "" {
				if sys, err = spec.LoadSystem(systemFile); err != nil {
					return err
				}
				if system == "" {
					system = sys.Name
				}
			}
			var dep *runtime.Deployment
			if prom == "" || system == "" {
				if dep, err = loadState(state); err != nil {
					return err
				}
				if prom == "" {
					prom = dep.PrometheusURL
				}
				if system == "" {
					system = dep.System
				}
				if flavor == "" {
					flavor = dep.Runtime
				}
			}
			if flavor == "" {
				flavor = string(metrics.FlavorLocal)
			}
			src, err := metrics.NewHTTP(prom)
			if err != nil {
				return err
			}
			defer src.Close()
			ctx := cmd.Context()
			r := metrics.Range{Start: start, End: end, Step: step}
			// A deployment's own namespace: another run of the system in
			// another namespace may share the cluster's Prometheus.
			scope := metrics.Scope{System: system}
			if dep != nil && dep.System == system {
				scope.Namespace = dep.Namespace
			}
			var tables []metrics.Table
			exprs := map[string]string{}
			for _, f := range families {
				fam, err := metrics.LookupFamily(f)
				if err != nil {
					return err
				}
				fam = fam.WithWindows(win)
				t, err := metrics.CollectTable(ctx, src, fam, metrics.Flavor(flavor), scope, r)
				if err != nil {
					return err
				}
				if fam.Edge() {
					t = t.WithColumns(experiment.EdgeColumns(sys)...)
				}
				tables = append(tables, t)
				exprs[f], _ = fam.Expr(metrics.Flavor(flavor), scope)
			}
			var windows []fault.Window
			if dep != nil {
				reports, err := agent.ListAll(ctx, dep.Agents())
				if err != nil {
					return err
				}
				windows = windowsIn(reports, dep, start, end)
			}
			if name == "" {
				name = system
			}
			if sys.Name == "" {
				sys = &spec.System{Name: system}
			}
			dir, err := dataset.Write(artifacts, dataset.Run{
				Manifest: dataset.Manifest{
					Experiment: name, RunID: start.UTC().Format("20060102T150405Z") + "-collect", Runtime: flavor,
					System: sys, Start: start, End: end, T0: start, Step: spec.Duration(step),
					Families: exprs, Versions: map[string]string{"prometheus_url": prom},
				},
				Tables: tables, Windows: windows, Social9: social9, NoPlots: noPlots,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "dataset: %s (%d families, %d fault windows)\n", dir, len(tables), len(windows))
			return nil
		},
	}
	stateFlag(cmd, &state)
	f := cmd.Flags()
	f.StringVar(&prom, "prometheus", "", "Prometheus base URL (default: the deployment's)")
	f.StringVar(&system, "system", "", "system name (default: the deployment's, or --system-file's)")
	f.StringVar(&systemFile, "system-file", "", "system definition: its name, and every edge of its call graph as a column of the edge families (default: the edges that carried calls)")
	f.StringVar(&flavor, "flavor", "", "metric flavour: local or kube (default: the deployment's runtime)")
	f.StringVar(&from, "from", "", "start of the range (required)")
	f.StringVar(&to, "to", "now", "end of the range")
	f.DurationVar(&step, "step", time.Second, "resolution")
	f.StringSliceVar(&families, "families", metrics.FamilyNames(), "metric families to write")
	f.StringVar(&artifacts, "artifacts", envOr("ARTIFACTS_DIR", "artifacts"), "directory for datasets")
	f.StringVar(&name, "name", "", "dataset name (default: the system's)")
	f.BoolVar(&social9, "social9", false, "also write the original VECROsim dataset layout")
	f.BoolVar(&noPlots, "no-plots", false, "skip the PNG plots")
	f.DurationVar(&win.Rate, "rate-window", metrics.DefaultWindows.Rate, "range of the request-derived rates")
	f.DurationVar(&win.Quantile, "quantile-window", metrics.DefaultWindows.Quantile, "range of the latency quantiles")
	f.DurationVar(&win.Resource, "resource-window", metrics.DefaultWindows.Resource, "range of the cpu and network rates")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

// windowsIn rebuilds fault windows from the agents' own history, keeping
// those that overlap [start, end].
func windowsIn(reports map[string][]agent.Status, dep *runtime.Deployment, start, end time.Time) []fault.Window {
	byID := map[string]*fault.Planned{}
	var order []string
	for _, svc := range dep.Services {
		for _, in := range svc.Instances {
			for _, st := range reports[in.Name] {
				if st.End.Before(start) || st.Start.After(end) {
					continue
				}
				p, ok := byID[st.ID]
				if !ok {
					p = &fault.Planned{Fault: st.Fault.Fault, Behavior: st.Behavior, Target: svc.Name, Params: st.Params, Start: st.Start, End: st.End, Seed: st.Seed}
					byID[st.ID] = p
					order = append(order, st.ID)
				}
				p.Agents = append(p.Agents, in.Agent)
			}
		}
	}
	planned := make([]fault.Planned, 0, len(order))
	for _, id := range order {
		planned = append(planned, *byID[id])
	}
	return fault.Windows(planned, reports)
}

func parseTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "":
		return time.Time{}, fmt.Errorf("empty time")
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+"):
		d, err := spec.ParseDuration(strings.TrimLeft(s, "+-"))
		if err != nil {
			return time.Time{}, err
		}
		if s[0] == '-' {
			return now.Add(-d.D()), nil
		}
		return now.Add(d.D()), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339, now, or an offset such as -15m", s)
	}
	return t, nil
}
