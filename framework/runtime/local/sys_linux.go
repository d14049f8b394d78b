package local

import "syscall"

// hasPdeathsig: Linux kills our children itself when we die.
const hasPdeathsig = true

// sysProcAttr puts the child in its own process group, so that one signal
// reaches it and anything it forks, and a terminal's Ctrl-C reaches only
// the parent, which then stops the children in order. Pdeathsig kills the
// child if the forking thread (the spawner's) dies with the parent.
func sysProcAttr(pdeathsig bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if pdeathsig {
		a.Pdeathsig = syscall.SIGKILL
	}
	return a
}
