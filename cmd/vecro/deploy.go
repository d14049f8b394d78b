package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/local"
	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/toolcache"
)

// deployOptions are deploy's flags.
type deployOptions struct {
	state         string
	runtime       string
	kubeconfig    string
	logDir        string
	seed          int64
	records       int
	cgroups       string
	mongo         string
	serviceBinary string
	readyTimeout  time.Duration
	verbose       bool
	originalNames bool
	tracing       string
}

func newDeployCmd(s streams) *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "deploy SYSTEM.yaml",
		Short: "Run a system until Ctrl-C and write its state file",
		Long: `deploy runs a system definition on this machine (the embedded runtime: one
process per service instance on loopback, storage services beside real database
servers, the embedded Prometheus engine scraping every instance) and prints each
service's URL and the Prometheus API URL. It writes a state file (--state, mode
0600: it holds the agents' token) that ` + "`vecro load`, `inject`, `collect` and `faults clear`" + `
read, and runs until Ctrl-C (or SIGTERM), then stops every process it started and
removes the state file. A service process that dies stops the whole deployment
with an error that names it and shows the end of its log (--log-dir).

With --runtime kube (implied by --kind, --kubeconfig and --dry-run) the system
runs on Kubernetes instead; the kube runtime's flags say how.`,
		Example: `  vecro deploy fixtures/systems/social.yaml
  vecro deploy -deffile fixtures/systems/social.yaml --state /tmp/social.json
  vecro deploy --cgroups off --log-dir logs fixtures/systems/simple.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := defFile(cmd, args)
			if err != nil {
				return err
			}
			return runDeploy(cmd.Context(), s, path, o)
		},
	}
	f := cmd.Flags()
	f.String("deffile", "", "system definition file (the original's flag; or give it as the argument)")
	stateFlag(cmd, &o.state)
	f.StringVar(&o.runtime, "runtime", local.Name, "where the system runs: local or kube")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kube runtime: kubeconfig of the cluster to deploy to")
	f.StringVar(&o.logDir, "log-dir", "", "directory for each process's log (default: logs/SYSTEM beside the state file)")
	f.Int64Var(&o.seed, "seed", 1, "seed of every instance's random draws")
	f.IntVar(&o.records, "records", 0, "documents/rows seeded into each storage service (default: the service's 1000)")
	f.StringVar(&o.cgroups, "cgroups", string(local.CgroupsAuto), "resource limits through cgroups: auto, on or off")
	f.StringVar(&o.mongo, "mongo", "", "MongoDB-protocol server for mongodb services: mongod or ferretdb (default: mongod if on PATH, else FerretDB)")
	f.StringVar(&o.serviceBinary, "service-binary", "", "run this service binary instead of building images/service")
	f.DurationVar(&o.readyTimeout, "ready-timeout", local.DefaultReadyTimeout, "how long the whole system may take to become ready")
	f.BoolVar(&o.originalNames, "original-metric-names", false, originalNamesHelp)
	tracingFlag(f, &o.tracing)
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log the runtime's events to stderr")
	// The kube runtime (deploy_kube.go) adds its flags and takes
	// --runtime kube; everything else comes here.
	return withKube(cmd, &o)
}

// originalNamesHelp is --original-metric-names' help, on deploy and run.
const originalNamesHelp = "every service also serves the original VECROsim's metric names (vecro_base_<system>_request_count, _latency_counter, _latency_histogram, _throughput, label vecrosim_service_name) beside vecro's, for the original's dashboards and scripts"

// runDeploy deploys, saves the state, and waits for ctx (Ctrl-C) or a
// failure.
func runDeploy(ctx context.Context, s streams, path string, o deployOptions) (err error) {
	if o.runtime != local.Name {
		return fmt.Errorf("--runtime %q: want local or kube", o.runtime)
	}
	cg, err := local.ParseCgroupMode(o.cgroups)
	if err != nil {
		return fmt.Errorf("--cgroups: %w", err)
	}
	var mongo dbserver.MongoServer
	switch o.mongo {
	case "", "auto":
	case string(dbserver.MongoD), string(dbserver.MongoFerretDB):
		mongo = dbserver.MongoServer(o.mongo)
	default:
		return fmt.Errorf("--mongo %q: want mongod or ferretdb", o.mongo)
	}
	if o.records < 0 {
		return fmt.Errorf("--records %d: must not be negative", o.records)
	}
	sys, err := spec.LoadSystem(path)
	if err != nil {
		return err
	}
	if old, err := runtime.Load(o.state); err == nil && old.OwnerAlive() && old.PID != os.Getpid() {
		return fmt.Errorf("state file %s: system %s is already deployed by pid %d; stop it (Ctrl-C there) or give another --state", o.state, old.System, old.PID)
	}
	logDir := o.logDir
	if logDir == "" {
		logDir = filepath.Join(filepath.Dir(o.state), "logs", sys.Name)
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	jaeger, err := jaegerBinary(o.tracing)
	if err != nil {
		return err
	}
	rt, err := local.New(local.Options{
		Jaeger:        jaeger,
		LogDir:        logDir,
		Logger:        slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level})),
		ServiceBinary: o.serviceBinary,
		Cgroups:       cg,
		ReadyTimeout:  o.readyTimeout,
		Seed:          o.seed,
		Records:       o.records,
		Mongo:         mongo,
		LegacyMetrics: o.originalNames,
	})
	if err != nil {
		return err
	}
	// Stop on every way out; the runtime also stops by itself when ctx is
	// cancelled (SIGINT, SIGTERM), and its children die with this process
	// if it is killed.
	defer func() {
		if serr := rt.Stop(context.Background()); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop system %s: %w", sys.Name, serr))
		}
	}()
	fmt.Fprintf(s.Err, "deploying %s (%d services) from %s …\n", sys.Name, len(sys.Services), path)
	t0 := time.Now()
	dep, err := rt.Start(ctx, sys)
	if err != nil {
		return err
	}
	defer dep.Metrics.Close()
	if err := runtime.Save(o.state, dep); err != nil {
		return err
	}
	defer removeOwnState(o.state)

	writeDeployment(s, dep, sys)
	fmt.Fprintf(s.Out, "\nready in %s; state %s; logs %s\nresource limits: %s\nCtrl-C stops it.\n",
		time.Since(t0).Round(time.Millisecond), o.state, logDir, rt.Limits().How)

	select {
	case <-ctx.Done():
		fmt.Fprintf(s.Err, "stopping %s …\n", sys.Name)
		return nil
	case ferr := <-dep.Failures:
		return fmt.Errorf("system %s failed: %w", sys.Name, ferr)
	}
}

// writeDeployment prints one line per service: where it is reached.
func writeDeployment(s streams, dep *runtime.Deployment, sys *spec.System) {
	entry := map[string]bool{}
	for _, n := range sys.EntryServices() {
		entry[n] = true
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTYPE\tREPLICAS\tURL\t")
	for _, svc := range dep.Services {
		mark := ""
		if entry[svc.Name] {
			mark = "entry"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", svc.Name, svc.Type, len(svc.Instances), svc.URL, mark)
	}
	tw.Flush()
	fmt.Fprintf(s.Out, "\nPrometheus API: %s\n", dep.PrometheusURL)
	if dep.JaegerURL != "" {
		fmt.Fprintf(s.Out, "Jaeger (traces): %s (API: %s/api/v3/services)\n", dep.JaegerURL, dep.JaegerURL)
	}
}

// tracingFlag adds --tracing, on run and deploy.
func tracingFlag(f *pflag.FlagSet, v *string) {
	f.StringVar(v, "tracing", "", "jaeger: also run Jaeger v2 with the system (make jaeger builds it), to search the traces while it runs; on the embedded runtime the dataset's spans still come from vecro's own receiver, on Kubernetes (where services export spans only with it) they are read back from Jaeger")
}

// jaegerBinary is the jaeger executable --tracing asks the embedded
// runtime for, or "".
func jaegerBinary(tracing string) (string, error) {
	switch tracing {
	case "":
		return "", nil
	case "jaeger":
		bin, err := toolcache.Find("jaeger", toolcache.JaegerVersion)
		if err != nil {
			return "", fmt.Errorf("--tracing jaeger: %w", err)
		}
		return bin, nil
	}
	return "", fmt.Errorf("--tracing %q: want jaeger (or leave it out)", tracing)
}

// removeOwnState removes the state file if it still describes this
// process's deployment (another deploy may have replaced it meanwhile).
func removeOwnState(path string) {
	if d, err := runtime.Load(path); err == nil && d.PID != os.Getpid() {
		return
	}
	os.Remove(path)
}
