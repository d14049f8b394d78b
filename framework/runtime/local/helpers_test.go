package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/internal/testutil"
)

// testLogger writes the runtime's events into the test log.
func testLogger(t testing.TB) *slog.Logger { return testutil.Logger(t, slog.LevelInfo) }

// serviceBinary builds (or finds in the cache) the real service binary.
func serviceBinary(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin, err := build.Service(ctx, "", build.Target{}, testLogger(t))
	if err != nil {
		testutil.SkipOrFail(t, "the service binary (images/service) does not build: %v", err)
	}
	return bin
}

// needMongo skips unless a MongoDB-protocol server can run here.
func needMongo(t testing.TB) {
	t.Helper()
	s, err := dbserver.Start(context.Background(), "mongodb", dbserver.Options{Dir: t.TempDir()})
	if errors.Is(err, dbserver.ErrNotInstalled) {
		testutil.SkipOrFail(t, "no MongoDB-protocol server: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
}

// newRuntime returns a Runtime that the test stops at its end.
func newRuntime(t testing.TB, opts Options) *Runtime {
	t.Helper()
	if opts.ServiceBinary == "" {
		opts.ServiceBinary = serviceBinary(t)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.RunDir == "" {
		opts.RunDir = t.TempDir()
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return r
}

// pgids lists the process groups of every child the runtime started: its
// service processes and its database servers.
func (r *Runtime) pgids() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, p := range r.procs {
		out = append(out, p.pgid)
	}
	for _, db := range r.dbs {
		out = append(out, db.Pid())
	}
	return out
}

// groupMembers lists the processes on this machine, read from /proc, that
// belong to one of the process groups, as "pid (comm) state". A zombie
// counts as gone: it has been killed and only waits for its parent (or
// init) to reap it.
func groupMembers(t testing.TB, pgids []int) []string {
	t.Helper()
	want := map[int]bool{}
	for _, g := range pgids {
		want[g] = true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to list processes: %v", err)
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and ")".
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		if want[pgrp] && f[0] != "Z" {
			out = append(out, fmt.Sprintf("%d %s %s", pid, s[strings.IndexByte(s, '('):i+1], f[0]))
		}
	}
	return out
}

// waitGone waits until no process of the groups is left.
func waitGone(t testing.TB, pgids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := groupMembers(t, pgids)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes left in the groups %v after %s:\n%s", len(left), pgids, within, strings.Join(left, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroupOf returns the process's cgroup path in the hierarchy with ctrl.
func cgroupOf(t testing.TB, pid int, ctrl string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && (slices.Contains(strings.Split(parts[1], ","), ctrl) || parts[1] == "") {
			return parts[2]
		}
	}
	return ""
}
