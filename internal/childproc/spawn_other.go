//go:build unix && !linux

package childproc

import (
	"os/exec"
	"syscall"
)

// startInGroup starts cmd in a new process group. Outside Linux there is no
// parent-death signal: a SIGKILLed parent leaves its servers running (Stop
// and a clean exit of the parent still end them).
func startInGroup(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd.Start()
}
