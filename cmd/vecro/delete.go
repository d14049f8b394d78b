package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/spec"
)

func newDeleteCmd(s streams) *cobra.Command {
	var (
		kubeconfig, kubeContext, namespace string
		timeout                            time.Duration
		verbose                            bool
	)
	cmd := &cobra.Command{
		Use:   "delete SYSTEM.yaml",
		Short: "Delete what a killed vecro left of a system on Kubernetes",
		Long: `delete removes a system that vecro deployed to Kubernetes when the vecro
process that deployed it could not (it was killed with SIGKILL, or its machine
went away): the system's namespace if vecro created it (else only vecro's
objects in it), and the standalone Prometheus' cluster role and binding. The
agents go with their pods, and every fault with them; a fault also ends by the
agent's own clock at its planned end.

Ctrl-C of vecro deploy or vecro run deletes the system itself; the embedded
runtime's processes die with vecro, so it needs no delete.`,
		Example: `  vecro delete --kubeconfig ~/.kube/config fixtures/systems/social.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sys, err := spec.LoadSystem(args[0])
			if err != nil {
				return err
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			rt := kube.New(kube.Options{
				Cluster:       &kube.Cluster{Kubeconfig: kubeconfig, Context: kubeContext},
				Namespace:     namespace,
				DeleteTimeout: timeout,
				Logger:        slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level})),
			})
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+30*time.Second)
			defer cancel()
			fmt.Fprintf(s.Err, "deleting %s …\n", sys.Name)
			if err := rt.Delete(ctx, sys); err != nil {
				return fmt.Errorf("delete %s: %w", sys.Name, err)
			}
			fmt.Fprintf(s.Out, "deleted %s\n", sys.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context (default: the current one)")
	f.StringVar(&namespace, "namespace", "", "namespace the system was deployed to (default: the definition's, else the system's name)")
	f.DurationVar(&timeout, "timeout", 3*time.Minute, "how long to wait for the system's pods and namespace to be gone")
	f.BoolVarP(&verbose, "verbose", "v", false, "log what is deleted")
	return cmd
}
