package kubenode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vecrosim/vecro/internal/childproc"
)

// component is one long-running program of the node.
type component struct {
	name string
	path string
	args []string
}

// pidFile is where the PID of component name is kept.
func (c Config) pidFile(name string) string { return filepath.Join(c.pidDir(), name+".pid") }

// logFile is the component's log (stdout and stderr, appended to).
func (c Config) logFile(name string) string { return filepath.Join(c.logDir(), name+".log") }

// running returns the PID of component name if its PID file names a live
// process that runs the same program (a PID file left by a crash may name
// a PID that was reused since).
func (c Config) running(name string) (int, bool) {
	b, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		return 0, false
	}
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	pid, err := strconv.Atoi(lines[0])
	if err != nil || pid <= 0 || !alive(pid) {
		return 0, false
	}
	if len(lines) == 2 && exeOfSettled(pid) != lines[1] {
		return 0, false
	}
	return pid, true
}

// exeOfSettled is exeOf of a process that may be in the middle of execve:
// the kernel lets the vfork parent (exec.Cmd.Start) go on before it has set
// up the new program's arguments, and until then /proc/PID/cmdline is
// empty. Seen in CI: etcd "not running" right after it was started, on a
// loaded machine. An empty command line is otherwise only a kernel
// thread's, never a PID file's.
func exeOfSettled(pid int) string {
	exe := exeOf(pid)
	for i := 0; exe == "" && i < 100 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
		exe = exeOf(pid)
	}
	return exe
}

// alive tells whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// exeOf is the program pid runs, as its command line names it.
func exeOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	first, _, _ := bytes.Cut(b, []byte{0})
	return string(first)
}

// start runs p detached from the caller (its own session, output appended
// to its log) unless it already runs, and records its PID. The process
// outlives the caller: `kubenode up` exits and the node stays. A goroutine
// waits for it so that, while the caller lives, it leaves no zombie.
func (c Config) start(p component) (int, error) {
	if pid, ok := c.running(p.name); ok {
		return pid, nil
	}
	for _, d := range []string{c.logDir(), c.pidDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, fmt.Errorf("start %s: %w", p.name, err)
		}
	}
	log, err := os.OpenFile(c.logFile(p.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", p.name, err)
	}
	defer log.Close()
	fmt.Fprintf(log, "\n=== %s start: %s %s\n", time.Now().Format(time.RFC3339), p.path, strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = c.RunDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %s: %w", p.name, p.path, err)
	}
	go func() { _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := writeFileAtomic(c.pidFile(p.name), []byte(fmt.Sprintf("%d\n%s\n", pid, p.path)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("start %s: %w", p.name, err)
	}
	c.Logger.Debug("started", "component", p.name, "pid", pid)
	return pid, nil
}

// stop ends component name: SIGTERM, then SIGKILL after grace. A missing
// or stale PID file means there is nothing to stop.
func (c Config) stop(name string, grace time.Duration) error {
	pid, ok := c.running(name)
	if !ok {
		_ = os.Remove(c.pidFile(name))
		return nil
	}
	if err := stopPID(pid, grace); err != nil {
		return fmt.Errorf("stop %s (pid %d): %w", name, pid, err)
	}
	_ = os.Remove(c.pidFile(name))
	c.Logger.Debug("stopped", "component", name, "pid", pid)
	return nil
}

// stopPID sends SIGTERM and waits up to grace before SIGKILL.
func stopPID(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	deadline := time.Now().Add(grace)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		return fmt.Errorf("still alive 10 s after SIGKILL")
	}
	return nil
}

// waitFor polls check until it returns nil, ctx ends or timeout passes;
// the error names what was awaited, the last failure and the tail of the
// component's log.
func (c Config) waitFor(ctx context.Context, what, logName string, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var last error
	for {
		if logName != "" {
			if _, ok := c.running(logName); !ok {
				return fmt.Errorf("wait for %s: %s is not running; last log lines of %s:\n%s", what, logName, c.logFile(logName), tail(c.logFile(logName), 25))
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			c.Logger.Debug("ready", "what", what, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("wait for %s: not ready after %s: %v", what, time.Since(start).Round(time.Second), last)
			if logName != "" {
				msg += fmt.Sprintf("\nlast log lines of %s:\n%s", c.logFile(logName), tail(c.logFile(logName), 25))
			}
			return errors.New(msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return childproc.LastLines(string(b), n)
}

// run runs a short command and returns its output; the error carries the
// command and its output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
