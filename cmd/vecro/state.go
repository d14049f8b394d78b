package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vecrosim/vecro/framework/runtime"
)

// stateFlag adds --state to a command that works on a running deployment.
func stateFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "state", runtime.DefaultStateFile, "state file written by vecro deploy")
}

// loadState reads a running deployment's state file and refuses a stale one.
func loadState(path string) (*runtime.Deployment, error) {
	dep, err := runtime.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w (is `vecro deploy` running?)", err)
	}
	if !dep.OwnerAlive() {
		return nil, fmt.Errorf("state file %s: the vecro deploy that wrote it (pid %d) is gone; deploy again", path, dep.PID)
	}
	return dep, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
