// Package dbservertest starts real database servers for tests: apart from
// package dbserver so that production code does not link package testing.
package dbservertest

import (
	"errors"
	"os"
	"testing"

	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/spec"
)

// StartT starts a server for a test and stops it in t.Cleanup. A missing
// program skips the test with the install command, or fails it when the
// environment has CI=true (CI must have every server). The server's output
// is logged through t when the test fails.
func StartT(t testing.TB, kind spec.ServiceType) *dbserver.Server {
	t.Helper()
	return StartTWith(t, kind, dbserver.Options{})
}

// StartTWith is StartT with options. Options.Dir defaults to a directory of
// t.TempDir(), so that even a crashed test leaves nothing outside it.
func StartTWith(t testing.TB, kind spec.ServiceType, opts dbserver.Options) *dbserver.Server {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx := t.Context()
	s, err := dbserver.Start(ctx, kind, opts)
	if errors.Is(err, dbserver.ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true requires every database server: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("start %s database server: %v", kind, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (%s) output:\n%s", s.Program(), s.Addr(), s.Tail(40))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop %s database server: %v", kind, err)
		}
	})
	return s
}
