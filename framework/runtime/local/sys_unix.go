//go:build unix && !linux

package local

import "syscall"

// hasPdeathsig: only Linux has it; the watchdog stands in elsewhere.
const hasPdeathsig = false

// sysProcAttr puts the child in its own process group, so that one signal
// reaches it and anything it forks, and a terminal's Ctrl-C reaches only
// the parent, which then stops the children in order.
func sysProcAttr(bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
