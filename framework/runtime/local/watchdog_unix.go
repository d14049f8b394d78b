//go:build unix

package local

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// watchdogScript reads process group ids from stdin, one a line, and kills
// every group when stdin reaches end of file: the kernel closes the pipe's
// write end when the parent dies, however it dies. "done" ends it quietly
// (Stop has already stopped the groups). It ignores the terminal's signals,
// so a Ctrl-C meant for the parent cannot take it out first.
const watchdogScript = `trap '' INT TERM HUP
set --
while read -r g; do
	[ "$g" = done ] && exit 0
	set -- "$@" "$g"
done
for g do kill -s KILL -- "-$g" 2>/dev/null; done
exit 0
`

// watchdog stands in for Pdeathsig where the kernel has none: a tiny sh
// process that outlives the parent just long enough to kill its children.
type watchdog struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	w   io.WriteCloser
}

func startWatchdog() (*watchdog, error) {
	cmd := exec.Command("/bin/sh", "-c", watchdogScript)
	cmd.SysProcAttr = sysProcAttr(false)
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start watchdog /bin/sh: %w", err)
	}
	return &watchdog{cmd: cmd, w: w}, nil
}

// watch adds a process group to those killed when the parent dies.
func (d *watchdog) watch(pgid int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return errSpawnerClosed
	}
	if _, err := io.WriteString(d.w, strconv.Itoa(pgid)+"\n"); err != nil {
		return fmt.Errorf("tell the watchdog about process group %d: %w", pgid, err)
	}
	return nil
}

// close ends the watchdog without it killing anything and reaps it.
func (d *watchdog) close() {
	d.mu.Lock()
	w := d.w
	d.w = nil
	d.mu.Unlock()
	if w == nil {
		return
	}
	io.WriteString(w, "done\n")
	w.Close()
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		d.cmd.Process.Signal(os.Kill)
		<-done
	}
}
