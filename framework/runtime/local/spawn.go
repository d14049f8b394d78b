package local

import (
	"errors"
	"os/exec"
	"runtime"
)

// spawner forks every child of a Runtime from one goroutine locked to its
// own OS thread. On Linux a child's Pdeathsig fires when the thread that
// forked it exits, not the process; a goroutine that is not locked may fork
// from a thread that Go later ends (a locked goroutine returning ends its
// thread), which would kill a healthy child. Locking one goroutine for the
// Runtime's life keeps the forking thread alive exactly as long as the
// children should live. When the spawner is closed its goroutine returns
// still locked, so Go ends that thread and the kernel kills any child that
// Stop somehow missed.
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

var errSpawnerClosed = errors.New("the runtime is stopping: no new processes")

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	runtime.LockOSThread()
	// No UnlockOSThread: returning while locked makes Go end the thread.
	for {
		select {
		case r := <-s.reqs:
			r.reply <- r.cmd.Start()
		case <-s.done:
			return
		}
	}
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	r := spawnReq{cmd: cmd, reply: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.reply
	case <-s.done:
		return errSpawnerClosed
	}
}

// close ends the spawner's thread; safe once.
func (s *spawner) close() { close(s.done) }
