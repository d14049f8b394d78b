package local

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/spec"
)

// process is one child: a service instance or a helper the runtime started.
type process struct {
	// name is the instance name; service its service's.
	name    string
	service string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	pgid    int
	started time.Time
	// slot is the process's cgroup (nil without limits) and memory its
	// memory limit, to tell an OOM kill from another death.
	slot   *cgroupSlot
	memory spec.Size

	// done is closed once the process has been reaped; state is its end.
	done  chan struct{}
	state *os.ProcessState
	// expected is set before the runtime stops the process on purpose, so
	// that its end is not reported as a failure.
	expected atomic.Bool
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// DeathError is an instance (or one of its helpers) that ended while it
// should have been running.
type DeathError struct {
	Instance string
	Service  string
	// Status is how it ended, e.g. "exit status 1" or "signal: killed".
	Status string
	// OOMKilled is set when the kernel killed it for going over its
	// memory limit, as Kubernetes reports OOMKilled.
	OOMKilled bool
	// ExitCode is -1 when it was killed by a signal.
	ExitCode int
	// MemoryLimit is its memory limit (resources.memory).
	MemoryLimit spec.Size
	// Uptime is how long it ran.
	Uptime time.Duration
	// Log is the file holding its stdout and stderr; Tail its last lines.
	Log  string
	Tail string
}

func (e *DeathError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance %s of service %s ended unexpectedly after %s: %s", e.Instance, e.Service, e.Uptime.Round(time.Millisecond), e.Status)
	if e.OOMKilled {
		fmt.Fprintf(&b, " (OOMKilled: over its memory limit %s)", e.MemoryLimit)
	}
	fmt.Fprintf(&b, " (log %s)", e.Log)
	if e.Tail != "" {
		b.WriteString("; last lines:\n")
		b.WriteString(e.Tail)
	}
	return b.String()
}

// death describes the process's end; call after done is closed.
func (p *process) death() *DeathError {
	e := &DeathError{Instance: p.name, Service: p.service, Log: p.logPath, ExitCode: -1, Status: "unknown"}
	if p.state != nil {
		e.Status = p.state.String()
		e.ExitCode = p.state.ExitCode()
		e.Uptime = time.Since(p.started)
	}
	e.MemoryLimit = p.memory
	if p.slot != nil && p.slot.oomKills() > 0 && p.state != nil && !p.state.Success() {
		e.OOMKilled = true
	}
	e.Tail = tailLines(p.logPath, 20, 8<<10)
	return e
}

// tailLines returns at most n last lines of the file, reading at most max
// bytes from its end; "" when it cannot be read.
func tailLines(path string, n int, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return ""
	}
	b = bytes.TrimRight(b, "\n")
	if off > 0 {
		// Drop the partial first line.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// openLog creates the log file that receives the process's stdout and
// stderr directly (the child writes to the file: no copying goroutine, and
// nothing is lost if the parent dies).
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	return f, nil
}
