package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/spec"
)

// kubeFlags are the Kubernetes runtime's flags (deploy and run), defined
// in the kube package so that the scenario suite reads the same ones.
type kubeFlags = kube.Flags

// kubeOptions turns the flags, and the command's --kubeconfig, into the
// runtime's options.
func kubeOptions(k kubeFlags, kubeconfig string, seed int64, logger *slog.Logger) (kube.Options, error) {
	k.Kubeconfig = kubeconfig
	return k.Options(seed, logger)
}

// newKubeRuntime is the kube runtime for deploy and run, and its cluster:
// the runtime provisions a kind cluster on Start, and the caller deletes it
// (Cluster.Delete) once the system is gone.
func newKubeRuntime(k kubeFlags, kubeconfig string, seed int64, traceSample float64, logger *slog.Logger) (*kube.Runtime, *kube.Cluster, error) {
	o, err := kubeOptions(k, kubeconfig, seed, logger)
	if err != nil {
		return nil, nil, err
	}
	o.TraceSampleRatio = traceSample
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
	if k.Image == "" {
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
	k.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "kube runtime: print the objects deploy would apply, as YAML, and exit")
	local := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if k.Kind || o.kubeconfig != "" || dryRun {
			if cmd.Flags().Changed("runtime") && o.runtime != kube.Name {
				return fmt.Errorf("--runtime %s: --kind, --kubeconfig and --dry-run are for --runtime kube", o.runtime)
			}
			o.runtime = kube.Name
		}
		if o.runtime != kube.Name {
			return local(cmd, args)
		}
		k.LegacyMetrics, k.Tracing = o.originalNames, o.tracing
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
	rt, cluster, err := newKubeRuntime(k, o.kubeconfig, o.seed, 0, slog.New(slog.NewTextHandler(st.Err, &slog.HandlerOptions{Level: level})))
	if err != nil {
		return err
	}
	if !k.Kind {
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
