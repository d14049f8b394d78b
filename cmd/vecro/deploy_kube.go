package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/spec"
)

// kubeFlags are the Kubernetes runtime's flags (deploy and run).
type kubeFlags struct {
	kind           bool
	kindName       string
	kindConfig     string
	keepCluster    bool
	context        string
	image          string
	namespace      string
	monitoring     string
	promImage      string
	registry       string
	insecure       bool
	containerd     string
	dbImages       []string
	cpuRequest     string
	memoryRequest  string
	rolloutTimeout time.Duration
	// originalNames is --original-metric-names, registered by each command
	// because it is not the kube runtime's alone.
	originalNames bool
}

// addKubeFlags registers the kube runtime's flags on f.
func addKubeFlags(f *pflag.FlagSet, k *kubeFlags) {
	f.BoolVar(&k.kind, "kind", false, "kube runtime: provision a kind cluster from --kind-config (or use it if it exists) and load a freshly built service image into it")
	f.StringVar(&k.kindName, "kind-name", kube.DefaultKindName, "kube runtime: name of the kind cluster")
	f.StringVar(&k.kindConfig, "kind-config", "kind-config.yaml", "kube runtime: kind cluster config")
	f.BoolVar(&k.keepCluster, "keep-cluster", false, "kube runtime: leave a kind cluster this command created running at the end")
	f.StringVar(&k.context, "context", "", "kube runtime: kubeconfig context (default: the current one)")
	f.StringVar(&k.image, "image", "", "kube runtime: service image the cluster can pull (default: built from images/service and loaded by --kind, --registry or --containerd-socket)")
	f.StringVar(&k.namespace, "namespace", "", "kube runtime: namespace (default: the definition's, else the system's name)")
	f.StringVar(&k.monitoring, "monitoring", string(kube.MonitoringAuto), "kube runtime: auto (kube-prometheus if installed or fetchable, else standalone), kube-prometheus (install unless present), standalone (a Prometheus vecro deploys with the system: no internet needed), existing, or none")
	f.StringVar(&k.promImage, "prometheus-image", "", "kube runtime: Prometheus image for standalone monitoring (default: the binary of make prometheus packed and loaded like the service image)")
	f.StringVar(&k.registry, "registry", "", "kube runtime: push the images vecro builds to this registry/path, which the cluster pulls from")
	f.BoolVar(&k.insecure, "registry-insecure", false, "kube runtime: --registry speaks plain HTTP")
	f.StringVar(&k.containerd, "containerd-socket", "", "kube runtime: import the images vecro builds into the containerd at this socket (a single-node cluster on this machine)")
	f.StringArrayVar(&k.dbImages, "db-image", nil, "kube runtime: TYPE=IMAGE, the database image of a storage type (mongodb, redis, mysql) with the type's port and data dir and the image's own arguments, e.g. mongodb=vecro.local/ferretdb:v1.24.2 (repeatable)")
	f.StringVar(&k.cpuRequest, "cpu-request", "", "kube runtime: CPU request of every container instead of the original's 200m (100m per database), e.g. 20m for the social system on a 2-core node")
	f.StringVar(&k.memoryRequest, "memory-request", "", "kube runtime: memory request of every container instead of the original's 50Mi (128Mi per database)")
	f.DurationVar(&k.rolloutTimeout, "rollout-timeout", kube.DefaultRolloutTimeout, "kube runtime: how long the system's Deployments may take to be ready")
}

// kubeOptions turns the flags into the runtime's options.
func kubeOptions(k kubeFlags, kubeconfig string, seed int64, logger *slog.Logger) (kube.Options, error) {
	mode, err := kube.ParseMonitoring(k.monitoring)
	if err != nil {
		return kube.Options{}, fmt.Errorf("--monitoring: %w", err)
	}
	if k.registry != "" && k.containerd != "" {
		return kube.Options{}, errors.New("--registry and --containerd-socket both say where built images go: pick one")
	}
	if k.kind && (kubeconfig != "" || k.context != "") {
		return kube.Options{}, errors.New("--kind provisions its own cluster: drop --kubeconfig/--context, or drop --kind to use that cluster")
	}
	cl := &kube.Cluster{Kubeconfig: kubeconfig, Context: k.context, Logger: logger}
	if k.kind {
		cl = &kube.Cluster{Kind: &kube.Kind{Name: k.kindName, Config: k.kindConfig, Keep: k.keepCluster}, Logger: logger}
	}
	o := kube.Options{
		Cluster:        cl,
		Namespace:      k.namespace,
		Image:          k.image,
		Seed:           seed,
		Monitoring:     mode,
		Standalone:     kube.Standalone{Image: k.promImage},
		RolloutTimeout: k.rolloutTimeout,
		LegacyMetrics:  k.originalNames,
		Logger:         logger,
	}
	if k.cpuRequest != "" {
		if o.CPURequest, err = spec.ParseMilliCPU(k.cpuRequest); err != nil || o.CPURequest <= 0 {
			return kube.Options{}, fmt.Errorf("--cpu-request %q: want a positive CPU quantity such as 20m or 0.5%s", k.cpuRequest, because(err))
		}
	}
	if k.memoryRequest != "" {
		if o.MemoryRequest, err = spec.ParseSize(k.memoryRequest); err != nil || o.MemoryRequest <= 0 {
			return kube.Options{}, fmt.Errorf("--memory-request %q: want a positive size such as 32Mi%s", k.memoryRequest, because(err))
		}
	}
	for _, d := range k.dbImages {
		t, img, ok := strings.Cut(d, "=")
		def, known := kube.DefaultDBImages[spec.ServiceType(t)]
		if !ok || img == "" || !known {
			return kube.Options{}, fmt.Errorf("--db-image %q: want TYPE=IMAGE with TYPE mongodb, redis or mysql", d)
		}
		if o.DBImages == nil {
			o.DBImages = map[spec.ServiceType]kube.DBImage{}
		}
		// The default's arguments are the default image's flags.
		o.DBImages[spec.ServiceType(t)] = kube.DBImage{Image: img, Port: def.Port, DataDir: def.DataDir}
	}
	switch {
	case k.registry != "":
		o.Loader = kube.Registry{Prefix: k.registry, Insecure: k.insecure}
	case k.containerd != "":
		o.Loader = kube.Containerd{Address: k.containerd}
	}
	return o, nil
}

// because is ": err", or nothing for a nil error.
func because(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// newKubeRuntime is the kube runtime for deploy and run, and its cluster:
// the runtime provisions a kind cluster on Start, and the caller deletes it
// (Cluster.Delete) once the system is gone.
func newKubeRuntime(k kubeFlags, kubeconfig string, seed int64, logger *slog.Logger) (*kube.Runtime, *kube.Cluster, error) {
	o, err := kubeOptions(k, kubeconfig, seed, logger)
	if err != nil {
		return nil, nil, err
	}
	return kube.New(o), o.Cluster, nil
}

// printKubeManifest writes what deploy would apply, as YAML.
func printKubeManifest(w io.Writer, sys *spec.System, k kubeFlags, kubeconfig string, seed int64) error {
	o, err := kubeOptions(k, kubeconfig, seed, nil)
	if err != nil {
		return err
	}
	m, err := kube.DryRun(sys, o)
	if err != nil {
		return err
	}
	y, err := m.YAML()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# vecro deploy --runtime kube: %s (%d services) into namespace %s, %d objects,\n", sys.Name, len(sys.Services), m.Namespace, len(m.Objects))
	fmt.Fprintf(w, "# server-side applied by field manager %q. The Secret's values stand for the\n", kube.FieldManager)
	fmt.Fprintf(w, "# token (and database password) generated at deploy (%q, base64).\n", kube.DryRunSecret)
	if k.image == "" {
		fmt.Fprintf(w, "# %s stands for the image built from images/service and loaded into kind.\n", kube.DryRunImage)
	}
	_, err = w.Write(y)
	return err
}

// withKube adds the kube runtime to deploy: its flags, and a RunE that
// takes --runtime kube (or --kind, --kubeconfig, --dry-run) and leaves
// everything else to deploy's own.
func withKube(cmd *cobra.Command, o *deployOptions) *cobra.Command {
	var k kubeFlags
	var dryRun bool
	addKubeFlags(cmd.Flags(), &k)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "kube runtime: print the objects deploy would apply, as YAML, and exit")
	local := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if k.kind || o.kubeconfig != "" || dryRun {
			if cmd.Flags().Changed("runtime") && o.runtime != kube.Name {
				return fmt.Errorf("--runtime %s: --kind, --kubeconfig and --dry-run are for --runtime kube", o.runtime)
			}
			o.runtime = kube.Name
		}
		if o.runtime != kube.Name {
			return local(cmd, args)
		}
		k.originalNames = o.originalNames
		path, err := defFile(cmd, args)
		if err != nil {
			return err
		}
		sys, err := spec.LoadSystem(path)
		if err != nil {
			return err
		}
		if dryRun {
			return printKubeManifest(cmd.OutOrStdout(), sys, k, o.kubeconfig, o.seed)
		}
		return runDeployKube(cmd.Context(), cmdStreams(cmd), path, sys, k, o)
	}
	return cmd
}

// cmdStreams are the command's streams.
func cmdStreams(cmd *cobra.Command) streams {
	return streams{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()}
}

// runDeployKube deploys to Kubernetes, saves the state, and keeps the
// port-forwards open until Ctrl-C or a failure, then tears the system down.
func runDeployKube(ctx context.Context, st streams, path string, sys *spec.System, k kubeFlags, o *deployOptions) (err error) {
	if old, err := runtime.Load(o.state); err == nil && old.OwnerAlive() && old.PID != os.Getpid() {
		return fmt.Errorf("state file %s: system %s is already deployed by pid %d; stop it (Ctrl-C there) or give another --state", o.state, old.System, old.PID)
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	rt, cluster, err := newKubeRuntime(k, o.kubeconfig, o.seed, slog.New(slog.NewTextHandler(st.Err, &slog.HandlerOptions{Level: level})))
	if err != nil {
		return err
	}
	if !k.kind {
		// An unreachable cluster is reported before there is anything to
		// delete (a kind cluster is made by Start, and deleted below).
		if _, err := rt.Connect(ctx); err != nil {
			if o.kubeconfig != "" {
				return fmt.Errorf("--kubeconfig %s: %w", o.kubeconfig, err)
			}
			return err
		}
	}
	defer func() {
		// The system is deleted even when ctx is done (Ctrl-C).
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		fmt.Fprintf(st.Err, "deleting %s …\n", sys.Name)
		// The system first, then a kind cluster this command created.
		if serr := errors.Join(rt.Stop(sctx), cluster.Delete(sctx)); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop system %s: %w", sys.Name, serr))
		}
	}()
	fmt.Fprintf(st.Err, "deploying %s (%d services) from %s to Kubernetes …\n", sys.Name, len(sys.Services), path)
	t0 := time.Now()
	dep, err := rt.Start(ctx, sys)
	if err != nil {
		return err
	}
	if dep.Metrics != nil {
		defer dep.Metrics.Close()
	}
	if err := runtime.Save(o.state, dep); err != nil {
		return err
	}
	defer removeOwnState(o.state)
	writeDeployment(st, dep, sys)
	fmt.Fprintf(st.Out, "\nready in %s in namespace %s; state %s\nThe URLs are port-forwards held by this process. Ctrl-C deletes the system.\n",
		time.Since(t0).Round(time.Millisecond), dep.Namespace, o.state)
	select {
	case <-ctx.Done():
		return nil
	case ferr := <-dep.Failures:
		return fmt.Errorf("system %s failed: %w", sys.Name, ferr)
	}
}
