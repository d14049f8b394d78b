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
// pass by skipping silently. t is a testing.TB or a Ginkgo spec's
// GinkgoT().
func SkipOrFail(t Skipper, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, not skipping: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Skipper is what SkipOrFail needs of a test: testing.TB has it, and so
// has GinkgoT(), which cannot be a testing.TB (that interface has a
// private method).
type Skipper interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
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
