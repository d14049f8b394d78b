//go:build linux

package childproc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// spawnRequest asks the spawner thread to start cmd.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnRequest
)

// startInGroup starts cmd in a new process group with SIGKILL as its
// parent-death signal. The fork happens on a dedicated OS thread that lives
// as long as the process (see the package doc): Pdeathsig fires when the
// forking thread exits, not only when the process does.
func startInGroup(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnRequest)
		go func() {
			// Never unlocked and never returns: the thread stays ours,
			// and alive, until the process exits.
			runtime.LockOSThread()
			for r := range spawnCh {
				r.done <- r.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	done := make(chan error, 1)
	spawnCh <- spawnRequest{cmd: cmd, done: done}
	return <-done
}
