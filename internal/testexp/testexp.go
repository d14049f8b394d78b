// Package testexp sets up the real experiments that tests of several
// packages run on the embedded runtime.
package testexp

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/internal/testutil"
)

// New writes system and faults (YAML) into a temporary directory and returns
// the experiment over them, seeded with seed, its datasets under that
// directory and without plots, and the directory. A service binary that
// does not build skips the test (fails it under CI=true).
func New(ctx context.Context, t testing.TB, system, faults string, seed int64) (*experiment.Experiment, string) {
	t.Helper()
	if _, err := build.Service(ctx, "", build.Target{}, nil); err != nil {
		testutil.SkipOrFail(t, "the service binary (images/service) does not build: %v", err)
	}
	dir := t.TempDir()
	sysPath, faultsPath := filepath.Join(dir, "system.yaml"), filepath.Join(dir, "faults.yaml")
	for path, text := range map[string]string{sysPath: system, faultsPath: faults} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := experiment.FromFiles(sysPath, faultsPath)
	e.Seed = &seed
	e.ArtifactsDir = filepath.Join(dir, "artifacts")
	e.NoPlots = true
	return e, dir
}
