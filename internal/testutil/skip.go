package testutil

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// SkipOrFail skips a test that needs something this machine lacks (a
// Debian package, a tool binary), but fails it when CI=true: CI must never
// pass by skipping silently.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, not skipping: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Logger writes log records at level and above into t's log. Records that
// arrive after t has ended (from a process or goroutine the test started)
// are dropped: testing panics on a Log after the test's end.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(Writer(t), &slog.HandlerOptions{Level: level}))
}

// Writer is an io.Writer into t's log (a child process's stderr, say),
// which drops what arrives after t has ended.
func Writer(t testing.TB) io.Writer {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
