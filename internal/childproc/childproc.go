// Package childproc runs helper servers (database servers, Jaeger) as
// children that cannot outlive the harness: each in its own process group,
// killed whole when it ends, and on Linux started with SIGKILL as its
// parent-death signal from a thread that lives as long as the process.
package childproc

import (
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process in its own process group.
type Proc struct {
	cmd  *exec.Cmd
	pgid int
	out  *tailBuffer
	done chan struct{}
	err  error // the exit status; set before done is closed
}

// Start starts the program in dir with its output (stdout and stderr) kept
// in a tail buffer and copied to w when w is not nil.
func Start(program string, args []string, dir string, w io.Writer) (*Proc, error) {
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	out := &tailBuffer{max: 16 << 10}
	var sink io.Writer = out
	if w != nil {
		sink = io.MultiWriter(out, w)
	}
	// One writer for both streams: os/exec then uses one pipe and one
	// copying goroutine, so lines keep their order.
	cmd.Stdout, cmd.Stderr = sink, sink
	// A grandchild outside the group that kept the pipe open must not
	// make Wait hang forever.
	cmd.WaitDelay = 2 * time.Second
	if err := startInGroup(cmd); err != nil {
		return nil, &CommandError{Command: cmd.String(), Err: err}
	}
	p := &Proc{cmd: cmd, pgid: cmd.Process.Pid, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		// Whatever the leader left in its group goes with it. The group
		// id is the leader's pid, reaped just now: reusing it would take
		// the kernel a wrap of the whole pid space in between.
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
		close(p.done)
	}()
	return p, nil
}

// Signal sends sig to the whole process group; a group that is already gone
// is not an error.
func (p *Proc) Signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.pgid, sig)
}

// Exited reports whether the leader has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop asks the group to terminate and kills it after grace.
func (p *Proc) Stop(grace time.Duration) {
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits for the leader to exit and returns an error carrying the
// command and its output when it failed.
func (p *Proc) Wait() error {
	<-p.done
	if p.err != nil {
		return &CommandError{Command: p.cmd.String(), Output: p.out.String(), Err: p.err}
	}
	return nil
}

// CommandError is a failed subprocess: the command line, the last of its
// output, and why it failed.
type CommandError struct {
	Command string
	Output  string
	Err     error
}

func (e *CommandError) Error() string {
	msg := e.Command + ": " + e.Err.Error()
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\noutput:\n" + out
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String is the kept output, starting at a line boundary when it was cut.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if len(b.buf) == b.max {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

// LastLines returns at most n trailing lines of s.
func LastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Pid is the leader's process id (and the group's id).
func (p *Proc) Pid() int { return p.pgid }

// Output is the last of the process's output, for error messages.
func (p *Proc) Output() string { return p.out.String() }

// Command is the command line, for error messages.
func (p *Proc) Command() string { return p.cmd.String() }

// Done is closed when the leader has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }
