package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/statusline"
)

func newLoadCmd(s streams) *cobra.Command {
	var (
		urls, services                    []string
		state, system, rate, arrivals     string
		method, body, csvFile, reportFile string
		users, connections                int
		delay, duration, timeout          time.Duration
		seed                              int64
		keepAlive, jsonOut, everyURL      bool
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Send user-side load at a system and report what the client saw",
		Long: `load sends HTTP requests to one or more URLs and reports latency (p50 …
p99.999, from an HDR histogram), rate, bytes and errors by kind, like wrk2.

Closed loop (the seed's tool): --users users, each sending one request to
every URL per --delay tick (in turn, the next once the previous is answered;
--every-url=false: to the next URL only) with at most one in flight; a slow
answer delays that user's next send and the ticks that passed meanwhile are
counted (late, skipped), not queued. --delay 0 sends back to back (full speed,
one connection per user, the URLs in turn).

Open loop: --rate sends at a planned rate whatever the server does:
  --rate 500               500 requests/s
  --rate 10..500           linear ramp over the run (--rate 10..500/1m: over 1 min)
  --rate 100,200@30s,50@1m steps
with --arrivals uniform or poisson (seeded by --seed). Latency is measured
from each request's planned send time, so a stalled server shows in the
latency even while the generator waits for it (no coordinated omission).

Targets: --url (several URLs separated by white space, as the seed), or
services of the deployed system (--service, read from the state file of
vecro deploy); with --system FILE and no --service, the system's entry
services (those nobody calls). Ctrl-C stops sending and prints the report.`,
		Example: `  vecro load -delay 100ms -duration 2h -users 5 -url "http://localhost:8080 http://localhost:8081"
  vecro load --url http://127.0.0.1:8080/ --rate 2000 --duration 10s --csv load.csv
  vecro load --system fixtures/systems/social.yaml --rate 50 --arrivals poisson --duration 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, err := loadTargets(urls, services, state, system)
			if err != nil {
				return err
			}
			sp := load.Spec{
				Targets: targets, Method: method, Body: body, DisableKeepAlive: !keepAlive,
				Timeout: timeout, Duration: duration,
			}
			flags := cmd.Flags()
			if rate != "" {
				if flags.Changed("users") || flags.Changed("delay") || flags.Changed("every-url") {
					return fmt.Errorf("load: --users, --delay and --every-url are for the closed loop; an open loop (--rate) uses --connections")
				}
				if sp.Rate, err = load.ParseSchedule(rate); err != nil {
					return fmt.Errorf("load: --rate: %w", err)
				}
				sp.Arrivals, sp.Connections = load.Arrivals(arrivals), connections
				sp.Seed = seed
				if !flags.Changed("seed") {
					sp.Seed = rand.Int64()
				}
			} else {
				if flags.Changed("arrivals") || flags.Changed("connections") || flags.Changed("seed") {
					return fmt.Errorf("load: --arrivals, --connections and --seed are for the open loop: give --rate")
				}
				sp.Users, sp.Delay, sp.EveryTarget = users, delay, everyURL
			}
			return runLoad(cmd.Context(), s, sp, jsonOut, csvFile, reportFile)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&urls, "url", nil, "URLs to send requests to, separated by white space (repeatable)")
	f.StringArrayVar(&services, "service", nil, "services of the deployed system to load, separated by white space or commas (repeatable)")
	f.StringVar(&state, "state", runtime.DefaultStateFile, "state file of `vecro deploy`, for --service and --system")
	f.StringVar(&system, "system", "", "system definition: with no --service, load its entry services")
	f.IntVar(&users, "users", 1, "number of concurrent users (closed loop)")
	f.DurationVar(&delay, "delay", time.Second, "delay between calls per user (closed loop); 0 = full speed")
	f.BoolVar(&everyURL, "every-url", true, "closed loop: each tick sends to every URL, as the seed's tool (--every-url=false: to the next URL only)")
	f.StringVar(&rate, "rate", "", "open loop: requests/s, ramp FROM..TO[/DUR] or steps R0,R1@T1,…")
	f.StringVar(&arrivals, "arrivals", string(load.Uniform), "open-loop arrivals: uniform or poisson")
	f.Int64Var(&seed, "seed", 0, "seed of the Poisson arrivals (default: random, printed in the report)")
	f.IntVar(&connections, "connections", load.DefaultConnections, "open loop: most connections (requests in flight) at once")
	f.DurationVar(&duration, "duration", 0, "duration of the load (0 = until Ctrl-C)")
	f.StringVar(&method, "method", load.DefaultMethod, "HTTP method")
	f.StringVar(&body, "body", "", "request body sent with every request")
	f.BoolVar(&keepAlive, "keepalive", true, "reuse connections (--keepalive=false opens one per request)")
	f.DurationVar(&timeout, "timeout", load.DefaultTimeout, "timeout of each request")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON instead of text")
	f.StringVar(&csvFile, "csv", "", "write the per-second statistics to this file (load.csv columns)")
	f.StringVar(&reportFile, "report", "", "also write the JSON report to this file")
	return cmd
}

// loadTargets picks the URLs: given, or resolved from the deployment's
// state file.
func loadTargets(urls, services []string, state, system string) ([]load.Target, error) {
	var targets []load.Target
	for _, u := range urls {
		targets = append(targets, load.SplitURLs(u)...)
	}
	var names []string
	for _, s := range services {
		names = append(names, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	if len(targets) > 0 {
		if len(names) > 0 || system != "" {
			return nil, fmt.Errorf("load: give targets one way: --url, or --service/--system")
		}
		return targets, nil
	}
	if len(names) == 0 {
		if system == "" {
			return nil, fmt.Errorf("load: no targets: give --url URL…, or --service NAME… (or --system FILE for its entry services) of a deployed system")
		}
		sys, err := spec.LoadSystem(system)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		names = sys.EntryServices()
	}
	dep, err := runtime.Load(state)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	u := map[string]string{}
	for _, s := range dep.Services {
		u[s.Name] = s.URL
	}
	targets, err = load.Resolve(u, names)
	if err != nil {
		return nil, fmt.Errorf("load: deployment %s (%s): %w", dep.System, state, err)
	}
	return targets, nil
}

func runLoad(ctx context.Context, s streams, sp load.Spec, jsonOut bool, csvFile, reportFile string) error {
	// Ctrl-C ends the sending window, not the requests in flight: they get
	// the drain time and the report is still printed.
	run, err := load.Start(context.WithoutCancel(ctx), sp)
	if err != nil {
		return err
	}
	p := statusline.New(s.Err)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			run.Stop()
			break wait
		case <-run.Done():
			break wait
		case <-tick.C:
			p.Show(loadLine(run.Stats()))
		}
	}
	rep := run.Wait()
	p.Clear()

	var errs []error
	if csvFile != "" {
		errs = append(errs, writeFile(csvFile, func(w io.Writer) error { return load.WriteCSV(w, rep.Seconds) }))
	}
	if reportFile != "" {
		errs = append(errs, writeFile(reportFile, rep.WriteJSON))
	}
	if jsonOut {
		errs = append(errs, rep.WriteJSON(s.Out))
	} else {
		errs = append(errs, rep.WriteText(s.Out))
	}
	return errors.Join(errs...)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("load: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load: write %s: %w", path, err)
	}
	return nil
}

// loadLine is the live line of vecro load (a terminal only: logs and
// pipes get only the report).
func loadLine(st load.Snapshot) string {
	p99 := "-" // no answer in the last second
	if st.Last.P99 > 0 {
		p99 = st.Last.P99.Round(10 * time.Microsecond).String()
	}
	return fmt.Sprintf("%4.0fs  sent %d  ok %d  errors %d  late %d  %.0f req/s  p99 %s  in flight %d",
		st.Elapsed.Seconds(), st.Total.Sent, st.Total.OK, st.Total.Errors, st.Total.Late,
		float64(st.Last.Sent), p99, st.InFlight)
}
